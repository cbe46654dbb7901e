//! Hands due outbox entries and timers to the apalis queues.
//!
//! The dispatcher wakes when a transition commits in this process (the engine's
//! `work_ready`), when another process notifies new work (`remote_work`, PostgreSQL
//! only), or every `poll` interval, whichever comes first. Claiming an entry or a timer is
//! a conditional update, so several dispatchers in several processes never hand out
//! one attempt or one due timer twice while its lease runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::queues::{ActionJob, JobQueues, TimerJob, queue_for};
use crate::services::Services;

/// Entries and timers handed out per pass.
const BATCH: i64 = 200;

/// Jobs that may wait in the queues before a pass hands out more. Claims walk past the
/// timers and entries already handed out, so without a bound a burst of due timers
/// would be claimed at once, and every later claim would walk the whole burst.
const MAX_WAITING: i64 = 4 * BATCH;

/// Runs until `shutdown` turns true.
pub async fn run(services: Arc<Services>, queues: JobQueues, poll: Duration, remote_work: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(poll_ms = poll.as_millis() as u64, "dispatcher started");
    loop {
        let handed = match dispatch_once(&services, &queues).await {
            Ok(count) => count,
            Err(error) => {
                tracing::error!(%error, "dispatch pass failed; retrying after the poll interval");
                0
            }
        };

        // A full batch means more is waiting: go again at once.
        if handed as i64 >= BATCH {
            continue;
        }
        let notified = services.engine.work_ready.notified();
        tokio::select! {
            _ = notified => {}
            _ = remote_work.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {
                tracing::info!("dispatcher stopped");
                return;
            }
        }
    }
}

/// Performs one pass and returns how many jobs it queued.
pub async fn dispatch_once(services: &Services, queues: &JobQueues) -> Result<usize, String> {
    let engine = &services.engine;
    let mut handed = 0;
    let room = MAX_WAITING - queues.waiting_jobs().await?;
    if room <= 0 {
        return Ok(0);
    }

    // Each queue's jobs, and the timers, are pushed in one transaction per pass.
    let kinds = services.action_kinds();
    let entries = engine.claim_due_actions(&kinds, BATCH.min(room)).await.map_err(|e| e.to_string())?;
    let mut by_queue: BTreeMap<&'static str, Vec<ActionJob>> = BTreeMap::new();
    for entry in entries {
        let job_name = entry.action.pointer("/action/name").and_then(|v| v.as_str());
        let queue = queue_for(&entry.kind, job_name);
        by_queue.entry(queue).or_default().push(ActionJob { outbox_id: entry.id.clone(), attempt: entry.attempt(), key: entry.job_key() });
    }
    for (queue, jobs) in by_queue {
        handed += jobs.len();
        queues.push_actions(queue, jobs).await?;
    }

    let timer_room = BATCH.min(room - handed as i64);
    if timer_room <= 0 {
        return Ok(handed);
    }
    let timers: Vec<TimerJob> = engine
        .claim_due_timers(timer_room)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|timer| TimerJob { key: timer.job_key(), timer_id: timer.id })
        .collect();
    handed += timers.len();
    queues.push_timers(timers).await?;
    Ok(handed)
}
