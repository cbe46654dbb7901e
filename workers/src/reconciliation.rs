//! Starts the daily reconciliation with the provincial platform: one `reconciliation`
//! instance per Beijing day, whose `reconcile_day` job compares the counts. The instance
//! is unique per day, so a second scheduler or a rerun starts nothing new.

use chrono::NaiveDate;

use crate::services::Services;

/// Starts (or finds) the reconciliation instance of `date` and returns its id.
pub async fn start_for_day(services: &Services, date: NaiveDate) -> Result<String, String> {
    if services.provincial.is_none() {
        return Ok("no provincial endpoint configured; nothing to reconcile".to_string());
    }
    let subject = [("date", date.format("%Y-%m-%d").to_string())];
    let instance = services.engine.start("reconciliation", &subject, Default::default()).await.map_err(|error| error.to_string())?;
    Ok(format!("reconciliation of {date} in instance {}", instance.id))
}
