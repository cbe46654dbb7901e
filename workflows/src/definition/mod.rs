//! Pipeline definitions: the YAML format, its model, validation and versions.

pub mod calendar;
pub mod diagram;
pub mod duration;
pub mod model;
pub mod parse;
pub mod validate;
pub mod set;
pub mod svg;
mod yaml;

pub use model::*;
