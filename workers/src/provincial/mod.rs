//! Real-time sync with the provincial special-equipment supervision platform
//! (省级特种设备监管平台).
//!
//! The regulator publishes no API contract, so this module proposes one
//! (`docs/provincial-contract.md`) and implements both sides of it: [`ProvincialClient`]
//! pushes signed records and classifies each outcome for the engine's outbox, and [`sim`]
//! runs the receiving side for development and tests.

pub mod client;
pub mod dead_letter;
pub mod record;
pub mod signature;
pub mod sim;
pub mod wire;

pub use client::{
    ConfigError, DEFAULT_TIMEOUT, DailyCounts, Delivered, ProvincialClient, ProvincialConfig,
    SyncError, SyncErrorKind, classify_status,
};
pub use record::{InvalidRecord, RecordKind, SyncRecord, parse_record};
pub use signature::SignatureAlgorithm;
pub use wire::{AckBody, Certificate, ErrorBody};
