//! A polling strategy that wakes an idle apalis worker every interval.
//!
//! apalis 1.0's `IntervalStrategy` re-arms its timer without polling it after it fires,
//! so no waker is registered for the next tick and an idle worker waits for its next
//! heartbeat instead (seen here: a job pushed to an idle SQLite queue waited until the
//! process ended). This strategy polls each new timer at once, so the worker is woken
//! every `interval` for as long as it idles.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};

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
