//! Running instances: the engine applies events to instances in database
//! transactions (several callers' events per transaction, see `group_commit`),
//! records history, and leaves side effects and timers in the outbox and timer tables
//! for the workers.

mod effects;
pub mod error;
mod group_commit;
pub mod history;
pub mod incidents;
pub mod instance;
pub mod migration;
pub mod outbox;
pub mod pause;
pub mod registry;
pub mod rekey;
pub mod timers;
mod transition;

use std::sync::Arc;

use tokio::sync::Notify;

pub use error::EngineError;
pub use group_commit::MAX_BATCH;
use group_commit::CommitQueue;
pub use instance::{EventIn, EventOutcome, Instance};
pub use registry::Registry;
pub use rekey::Rekey;

use crate::clock::SharedClock;
use crate::db::Db;

/// The engine: the database, the clock, and the published definitions.
///
/// Clones share everything. `work_ready` is notified after every commit that left
/// outbox entries or timers, so dispatchers wake at once instead of on their next poll.
/// `commits` is the queue of the one committer task that applies events in batches.
#[derive(Clone)]
pub struct Engine {
    pub db: Db,
    pub clock: SharedClock,
    pub registry: Arc<Registry>,
    pub work_ready: Arc<Notify>,
    commits: Arc<CommitQueue>,
}

impl Engine {
    pub fn new(db: Db, clock: SharedClock) -> Engine {
        Engine {
            db,
            clock,
            registry: Arc::new(Registry::default()),
            work_ready: Arc::new(Notify::new()),
            commits: Arc::new(CommitQueue::default()),
        }
    }

    /// Returns the current instant of the engine's clock in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
}
