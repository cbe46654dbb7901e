//! Calendar jobs of the scheduler role, on Asia/Shanghai time from the engine's clock:
//! the stuck-instance check every hour.
//!
//! Reminders are timers in the definitions, not cron, so each instance's reminder is
//! durable and fires once after downtime. Running the scheduler in two processes
//! is harmless: the stuck check raises one open incident per instance at most.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::services::Services;

/// Real-time interval between checks. The check itself is cheap and idempotent.
const CHECK_EVERY: Duration = Duration::from_secs(60);

pub async fn run(services: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    tracing::info!("scheduler started");
    let mut last_hour = None;
    loop {
        let now = services.engine.clock.now();
        let hour = now.timestamp() / 3600;
        if last_hour != Some(hour) {
            last_hour = Some(hour);
            match services.engine.check_stuck_instances().await {
                Ok(stuck) if !stuck.is_empty() => tracing::warn!(count = stuck.len(), "stuck instances reported"),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "stuck-instance check failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = shutdown.changed() => {
                tracing::info!("scheduler stopped");
                return;
            }
        }
    }
}
