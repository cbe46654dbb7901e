-- The lease on a due timer handed to a worker, as outbox entries have: wall-clock unix
-- ms of the last hand-out, NULL while never handed out. A dispatcher pass claims only
-- timers whose lease is unset or expired, so thousands of due timers are each queued
-- once, and a timer whose worker died is queued again after the lease.
ALTER TABLE wf_timers ADD COLUMN dispatched_at INTEGER;
