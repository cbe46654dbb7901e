//! Calendar jobs of the scheduler role: cron expressions (the `cron` crate's six-field
//! form, seconds first) evaluated in Beijing time on the engine's clock.
//!
//! apalis-cron is not used because it schedules on the wall clock in UTC, while every
//! calendar rule here follows the engine's clock (simulated in tests and the demo).
//! Per-instance operator reminders (the year-end credits reminder) are timers in the
//! definitions, so each fires once after downtime. A tick missed while the process was
//! down runs once at start-up. Several schedulers may run: each tick is claimed by
//! inserting (job, tick instant) into `cron_runs`, and only the process whose insert
//! succeeds runs it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use cron::Schedule;
use domain::review::ReviewSettings;
use tokio::sync::watch;

use crate::services::Services;
use crate::{certificates, reconciliation, reminders};
use workflows::clock::beijing_date;
use workflows::runtime::Engine;

/// Real-time interval between looks at the clock.
const TICK: Duration = Duration::from_secs(1);

/// The scheduled jobs: name and cron expression in Beijing time.
const JOBS: &[(&str, &str)] = &[
    // Every hour on the hour: instances with neither a timer nor an awaited event.
    ("stuck_check", "0 0 * * * *"),
    // 02:00 daily: certificates of operators last pulled 30 days ago or never.
    ("certificate_refresh", "0 0 2 * * *"),
    // 03:30 daily: yesterday's records against the platform's counts.
    ("provincial_reconciliation", "0 30 3 * * *"),
    // 09:00 daily: review (复审) reminders for certificates close to expiry.
    ("certificate_review_reminders", "0 0 9 * * *"),
    // 09:00 on Mondays: each unit's operators behind on this year's credits.
    ("unit_digest", "0 0 9 * * Mon"),
    // Every 5 minutes: workflow events a decision recorded but a stopped process never sent.
    ("pending_events", "0 */5 * * * *"),
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
            if let Some(tick) = latest_tick(&entry.schedule, entry.last, now) {
                entry.last = now;
                if claim_tick(&services.engine, entry.name, tick).await {
                    let outcome = run_job(&services, entry.name, tick).await;
                    finish_tick(&services, entry.name, tick, &outcome).await;
                }
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

/// Returns the latest firing of `schedule` after `last` and at or before `now`, both read
/// in Beijing time. Several missed firings collapse into the latest one.
fn latest_tick(schedule: &Schedule, last: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule.after(&last.with_timezone(&Shanghai)).map(|tick| tick.with_timezone(&Utc)).take_while(|tick| *tick <= now).last()
}

/// Claims `tick` of job `name` for this process. Returns false when another scheduler
/// claimed it first, or when the database is unreachable (the tick is then skipped, and
/// the next one runs as usual).
pub async fn claim_tick(engine: &Engine, name: &str, tick: DateTime<Utc>) -> bool {
    let inserted = sqlx::query("INSERT INTO cron_runs (job, tick_at, started_at) VALUES ($1, $2, $3) ON CONFLICT (job, tick_at) DO NOTHING")
        .bind(name)
        .bind(tick.timestamp_millis())
        .bind(engine.now_ms())
        .execute(&engine.db.pool)
        .await;
    match inserted {
        Ok(result) if result.rows_affected() == 1 => true,
        Ok(_) => {
            tracing::debug!(job = name, %tick, "tick already claimed by another scheduler");
            false
        }
        Err(error) => {
            tracing::error!(job = name, %tick, %error, "could not claim the tick; skipped");
            false
        }
    }
}

async fn finish_tick(services: &Services, name: &str, tick: DateTime<Utc>, outcome: &Result<String, String>) {
    let text = match outcome {
        Ok(summary) => format!("ok: {summary}"),
        Err(error) => format!("failed: {error}"),
    };
    let result = sqlx::query("UPDATE cron_runs SET finished_at = $1, outcome = $2 WHERE job = $3 AND tick_at = $4")
        .bind(services.engine.now_ms())
        .bind(&text)
        .bind(name)
        .bind(tick.timestamp_millis())
        .execute(&services.engine.db.pool)
        .await;
    if let Err(error) = result {
        tracing::error!(job = name, %tick, %error, "could not record the tick's outcome");
    }
}

/// Runs job `name` for `tick` and returns a short summary or the error, both logged.
pub async fn run_job(services: &Services, name: &str, tick: DateTime<Utc>) -> Result<String, String> {
    let outcome = match name {
        "stuck_check" => services.engine.check_stuck_instances().await.map(|stuck| format!("{} stuck", stuck.len())).map_err(|error| error.to_string()),
        "certificate_refresh" => certificates::refresh_due(services, CERTIFICATE_REFRESH_BATCH).await.map(|n| format!("{n} operators pulled")),
        "provincial_reconciliation" => reconciliation::start_for_day(services, beijing_date(tick) - chrono::Duration::days(1)).await,
        "certificate_review_reminders" => reminders::certificate_reviews(services, beijing_date(tick)).await.map(|n| format!("{n} reminders")),
        "unit_digest" => reminders::unit_digests(services, beijing_date(tick)).await.map(|n| format!("{n} unit digests")),
        "pending_events" => crate::pending_events::sweep(&services.engine).await.map(|n| format!("{n} events delivered")).map_err(|error| error.to_string()),
        "evidence_retention" => {
            let days = ReviewSettings::current().evidence.retention_days;
            crate::retention::purge_expired(&services.engine, days)
                .await
                .map(|purged| format!("{} sessions and {} attempts purged (retention {days} days)", purged.sessions, purged.attempts))
                .map_err(|error| error.to_string())
        }
        other => Err(format!("unknown scheduled job {other}")),
    };
    match &outcome {
        Ok(summary) => tracing::info!(job = name, %tick, summary = %summary, "scheduled job finished"),
        Err(error) => tracing::error!(job = name, %tick, %error, "scheduled job failed"),
    }
    outcome
}

/// Operators whose certificates one refresh tick pulls at most, so a large backlog is
/// spread over several nights instead of loading the platform at once.
const CERTIFICATE_REFRESH_BATCH: i64 = 500;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hourly_job_due_once_per_hour() {
        let schedule = Schedule::from_str("0 0 * * * *").unwrap();
        let last = Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap();
        assert_eq!(latest_tick(&schedule, last, last + chrono::Duration::minutes(59)), None);
        assert_eq!(latest_tick(&schedule, last, last + chrono::Duration::minutes(60)), Some(last + chrono::Duration::hours(1)));
        let after_three_days = last + chrono::Duration::days(3) + chrono::Duration::minutes(10);
        assert_eq!(latest_tick(&schedule, last, after_three_days), Some(last + chrono::Duration::days(3)), "missed hours run once, as the latest");
    }

    #[test]
    fn retention_schedule_is_beijing_night() {
        // The shipped 02:30 Beijing is 18:30 UTC the day before.
        let schedule = Schedule::from_str(&ReviewSettings::embedded().evidence.retention_cron).unwrap();
        let last = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        assert_eq!(latest_tick(&schedule, last, Utc.with_ymd_and_hms(2026, 3, 4, 18, 29, 0).unwrap()), None);
        let due = Utc.with_ymd_and_hms(2026, 3, 4, 18, 30, 0).unwrap();
        assert_eq!(latest_tick(&schedule, last, due), Some(due));
    }

    #[test]
    fn daily_job_follows_beijing_time() {
        // 09:00 Beijing is 01:00 UTC.
        let schedule = Schedule::from_str("0 0 9 * * *").unwrap();
        let last = Utc.with_ymd_and_hms(2026, 3, 4, 23, 0, 0).unwrap();
        assert_eq!(latest_tick(&schedule, last, Utc.with_ymd_and_hms(2026, 3, 5, 0, 59, 0).unwrap()), None);
        let nine = Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap();
        assert_eq!(latest_tick(&schedule, last, nine), Some(nine));
    }
}
