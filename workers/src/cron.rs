//! Calendar jobs of the scheduler role: cron expressions (the `cron` crate's six-field
//! form, seconds first) evaluated in Beijing time on the engine's clock.
//!
//! apalis-cron is not used because it schedules on the wall clock in UTC, while every
//! calendar rule here follows the engine's clock (simulated in tests and the demo).
//! Operator reminders are timers in the definitions, not cron, so each instance's
//! reminder is durable and fires once after downtime. A tick missed while the process
//! was down runs once at start-up. Every job is idempotent, so two schedulers are
//! harmless: the stuck check raises at most one open incident per instance.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use cron::Schedule;
use domain::review::ReviewSettings;
use tokio::sync::watch;

use crate::services::Services;

/// Real-time interval between looks at the clock.
const TICK: Duration = Duration::from_secs(1);

/// The scheduled jobs: name and cron expression in Beijing time.
const JOBS: &[(&str, &str)] = &[
    // Every hour on the hour: instances with neither a timer nor an awaited event.
    ("stuck_check", "0 0 * * * *"),
];

struct Entry {
    name: &'static str,
    schedule: Schedule,
    /// The last instant (engine clock) the job ran, or start-up.
    last: DateTime<Utc>,
}

pub async fn run(services: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    let started = services.engine.clock.now();
    let mut entries: Vec<Entry> = JOBS
        .iter()
        .map(|(name, expression)| Entry { name, schedule: Schedule::from_str(expression).expect("built-in cron expression is valid"), last: started - chrono::Duration::hours(1) })
        .collect();
    // The evidence retention job runs on the schedule of definitions/review.yaml.
    let retention_cron = &ReviewSettings::current().evidence.retention_cron;
    match Schedule::from_str(retention_cron) {
        Ok(schedule) => entries.push(Entry { name: "evidence_retention", schedule, last: started }),
        Err(error) => tracing::error!(%error, cron = %retention_cron, "evidence retention schedule is invalid; the job will not run"),
    }
    tracing::info!(jobs = entries.len(), "scheduler started");

    loop {
        let now = services.engine.clock.now();
        for entry in &mut entries {
            if is_due(&entry.schedule, entry.last, now) {
                entry.last = now;
                run_job(&services, entry.name).await;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => {
                tracing::info!("scheduler stopped");
                return;
            }
        }
    }
}

/// Returns whether `schedule` has a firing after `last` and at or before `now`, both
/// read in Beijing time. Several missed firings count as one.
fn is_due(schedule: &Schedule, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    schedule.after(&last.with_timezone(&Shanghai)).next().is_some_and(|next| next.with_timezone(&Utc) <= now)
}

async fn run_job(services: &Services, name: &str) {
    match name {
        "stuck_check" => match services.engine.check_stuck_instances().await {
            Ok(stuck) if !stuck.is_empty() => tracing::warn!(count = stuck.len(), "stuck instances reported"),
            Ok(_) => tracing::debug!("stuck-instance check found nothing"),
            Err(error) => tracing::error!(%error, "stuck-instance check failed"),
        },
        "evidence_retention" => {
            let days = ReviewSettings::current().evidence.retention_days;
            match crate::retention::purge_expired(&services.engine, days).await {
                Ok(purged) => tracing::info!(sessions = purged.sessions, attempts = purged.attempts, retention_days = days, "evidence retention run finished"),
                Err(error) => tracing::error!(%error, "evidence retention run failed"),
            }
        }
        other => tracing::error!(job = other, "unknown scheduled job"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hourly_job_due_once_per_hour() {
        let schedule = Schedule::from_str("0 0 * * * *").unwrap();
        let last = Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap();
        assert!(!is_due(&schedule, last, last + chrono::Duration::minutes(59)));
        assert!(is_due(&schedule, last, last + chrono::Duration::minutes(60)));
        assert!(is_due(&schedule, last, last + chrono::Duration::days(3)), "missed hours run once");
    }

    #[test]
    fn retention_schedule_is_beijing_night() {
        // The shipped 02:30 Beijing is 18:30 UTC the day before.
        let schedule = Schedule::from_str(&ReviewSettings::embedded().evidence.retention_cron).unwrap();
        let last = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        assert!(!is_due(&schedule, last, Utc.with_ymd_and_hms(2026, 3, 4, 18, 29, 0).unwrap()));
        assert!(is_due(&schedule, last, Utc.with_ymd_and_hms(2026, 3, 4, 18, 30, 0).unwrap()));
    }

    #[test]
    fn daily_job_follows_beijing_time() {
        // 09:00 Beijing is 01:00 UTC.
        let schedule = Schedule::from_str("0 0 9 * * *").unwrap();
        let last = Utc.with_ymd_and_hms(2026, 3, 4, 23, 0, 0).unwrap();
        assert!(!is_due(&schedule, last, Utc.with_ymd_and_hms(2026, 3, 5, 0, 59, 0).unwrap()));
        assert!(is_due(&schedule, last, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap()));
    }
}
