//! The workflow engine: declarative state machines read from YAML, validated, versioned
//! by content hash, and run as durable instances with an append-only history, a
//! transactional outbox for side effects, and timers stored as UTC instants.
//!
//! Nothing here knows about operators or exams: the engine runs any pipeline.

pub mod clock;
pub mod db;
pub mod definition;
pub mod diagnostic;
pub mod guard;
pub mod metrics;
pub mod retry;
pub mod runtime;
pub mod testing;

pub use clock::{Clock, SharedClock, SimClock, SystemClock};
pub use diagnostic::{Diagnostic, Severity};
