//! Polling strategies of the apalis workers: [`TickStrategy`] wakes an idle worker every
//! interval, and [`ListenStrategy`] wakes a PostgreSQL worker on a job-insert
//! notification.
//!
//! apalis 1.0's `IntervalStrategy` re-arms its timer without polling it after it fires,
//! so no waker is registered for the next tick and an idle worker waits for its next
//! heartbeat instead (seen here: a job pushed to an idle SQLite queue waited until the
//! process ended). This strategy polls each new timer at once, so the worker is woken
//! every `interval` for as long as it idles.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use tokio::sync::Notify;

pub struct TickStrategy {
    interval: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TickStrategy {
    pub fn new(interval: Duration) -> TickStrategy {
        TickStrategy { interval, sleep: None }
    }
}

impl PollStrategy for TickStrategy {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _snapshot: &PollSnapshot) -> Poll<Option<()>> {
        let mut fired = false;
        loop {
            let interval = self.interval;
            let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
            match sleep.as_mut().poll(cx) {
                // Arm the next tick and poll it in the same call, which registers the waker.
                Poll::Ready(()) => {
                    self.sleep = None;
                    fired = true;
                }
                Poll::Pending if fired => return Poll::Ready(Some(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Wakes a PostgreSQL worker when the process's listener ([`crate::wake`]) receives
/// apalis's `apalis::job::insert` notification for the worker's queue. It sits beside a
/// [`TickStrategy`], which keeps the worker polling while the listener reconnects.
pub struct ListenStrategy {
    signal: Arc<Notify>,
    waiting: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
}

impl ListenStrategy {
    pub fn new(signal: Arc<Notify>) -> ListenStrategy {
        let waiting = wait_for(signal.clone());
        ListenStrategy { signal, waiting }
    }
}

/// The listener calls `notify_one`, which stores a permit when no one waits, so a
/// notification that arrives between two polls is kept.
fn wait_for(signal: Arc<Notify>) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
    Box::pin(async move { signal.notified().await })
}

impl PollStrategy for ListenStrategy {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _snapshot: &PollSnapshot) -> Poll<Option<()>> {
        match self.waiting.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.waiting = wait_for(self.signal.clone());
                Poll::Ready(Some(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tick_fires_repeatedly() {
        let mut strategy = TickStrategy::new(Duration::from_millis(10));
        let snapshot = PollSnapshot::default();
        for _ in 0..3 {
            let fired = std::future::poll_fn(|cx| match strategy.poll_drive(cx, &snapshot) {
                Poll::Ready(_) => Poll::Ready(true),
                Poll::Pending => Poll::Pending,
            });
            let result = tokio::time::timeout(Duration::from_secs(1), fired).await;
            assert_eq!(result, Ok(true), "each tick wakes the task");
        }
    }
}
