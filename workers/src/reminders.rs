//! Scheduled reminders that no single instance's timer can carry: certificate review
//! (复审) reminders from the pulled base data, and weekly digests to unit admins of the
//! operators behind on credits. Both go out through instances, so the engine's outbox
//! gives them retries, quiet hours, delivery keys and incidents, and both are keyed so a
//! rerun or a second scheduler sends nothing twice.

use chrono::{Datelike, Duration, Months, NaiveDate};
use serde_json::json;
use sqlx::Row;
use workflows::runtime::EventIn;
use workflows::runtime::instance::subject_key;

use crate::services::Services;

/// Days before expiry when the review reminder goes out. TSG Z6001-2019 requires the
/// review application at least 1 month before a certificate expires, so a reminder 60
/// days before leaves about a month to apply.
pub const REVIEW_NOTICE_DAYS: i64 = 60;

/// Sends a review reminder for every cached certificate that expires within
/// [`REVIEW_NOTICE_DAYS`] of `today` and has not expired, as event
/// `certificate_review_due` to the operator's registration instance. The event id names
/// the certificate and its expiry, so each certificate term is reminded once. Returns
/// how many events were applied now.
pub async fn certificate_reviews(services: &Services, today: NaiveDate) -> Result<usize, String> {
    let engine = &services.engine;
    let last_day = today + Duration::days(REVIEW_NOTICE_DAYS);
    let rows = sqlx::query(
        "SELECT c.certificate_no, c.item_code, c.expires_on, o.mobile FROM operator_certificates c JOIN operators o ON o.id = c.operator_id
         WHERE c.expires_on >= $1 AND c.expires_on <= $2 ORDER BY c.expires_on, c.certificate_no",
    )
    .bind(today.to_string())
    .bind(last_day.to_string())
    .fetch_all(&engine.db.pool)
    .await
    .map_err(|error| error.to_string())?;

    let mut sent = 0;
    for row in rows {
        let certificate_no: String = row.get(0);
        let item_code: String = row.get(1);
        let expires_on: String = row.get(2);
        let mobile: String = row.get(3);
        let Some(instance) = engine.find_instance("registration", &subject_key(&[("mobile", mobile)])).await.map_err(|error| error.to_string())? else {
            continue;
        };
        let apply_by = NaiveDate::parse_from_str(&expires_on, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.checked_sub_months(Months::new(1)))
            .map(|date| date.to_string())
            .unwrap_or_default();
        let event = EventIn::new(format!("certificate-review:{certificate_no}:{expires_on}"), "certificate_review_due")
            .with("item_code", item_code)
            .with("certificate_no", certificate_no.clone())
            .with("expires_on", expires_on)
            .with("apply_by", apply_by);
        match engine.send(&instance.id, event).await {
            Ok(workflows::runtime::EventOutcome::Applied { .. }) => sent += 1,
            Ok(outcome) => tracing::debug!(instance = %instance.id, certificate = %certificate_no, ?outcome, "review reminder not applied"),
            Err(error) => tracing::warn!(instance = %instance.id, certificate = %certificate_no, %error, "review reminder failed; retried next day"),
        }
    }
    Ok(sent)
}

/// Starts this week's `unit_digest` instance for every unit with operators whose
/// enrollment of the current Beijing year is below its required credits, listing each
/// one with item, state and credits. Returns how many digests were started now.
pub async fn unit_digests(services: &Services, today: NaiveDate) -> Result<usize, String> {
    let engine = &services.engine;
    let year = today.year();
    let week = format!("{}-W{:02}", today.iso_week().year(), today.iso_week().week());
    let rows = sqlx::query(
        "SELECT o.unit_id, o.name, e.item_code, i.state, i.context FROM enrollments e
         JOIN operators o ON o.id = e.operator_id JOIN wf_instances i ON i.id = e.instance_id
         WHERE e.year = $1 AND o.unit_id IS NOT NULL AND i.status = 'running'
         ORDER BY o.unit_id, o.name, e.item_code",
    )
    .bind(i64::from(year))
    .fetch_all(&engine.db.pool)
    .await
    .map_err(|error| error.to_string())?;

    // Group the operators behind by unit.
    let mut behind: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in rows {
        let unit_id: String = row.get(0);
        let name: Option<String> = row.get(1);
        let item_code: String = row.get(2);
        let state: String = row.get(3);
        let context: serde_json::Value = serde_json::from_str(&row.get::<String, _>(4)).unwrap_or_default();
        let credits = context.get("credits").and_then(serde_json::Value::as_i64).unwrap_or(0);
        let required = context.get("required_credits").and_then(serde_json::Value::as_i64).unwrap_or(20);
        if credits >= required {
            continue;
        }
        let item_name = services.catalogue.item(&item_code).map(|item| item.name.clone()).unwrap_or(item_code);
        let state_label = state_label(engine, &state);
        behind.entry(unit_id).or_default().push(format!("{} {} {} {credits}/{required}", name.unwrap_or_default(), item_name, state_label));
    }

    let mut started = 0;
    for (unit_id, lines) in behind {
        if let Some(existing) = engine.find_instance("unit_digest", &subject_key(&[("unit", unit_id.clone()), ("week", week.clone())])).await.map_err(|error| error.to_string())? {
            tracing::debug!(instance = %existing.id, unit = %unit_id, "unit digest already sent this week");
            continue;
        }
        let mut context = serde_json::Map::new();
        context.insert("year".into(), json!(year.to_string()));
        context.insert("behind_count".into(), json!(lines.len()));
        context.insert("behind_list".into(), json!(lines.join("\n")));
        let subject = [("unit", unit_id.clone()), ("week", week.clone())];
        match engine.start("unit_digest", &subject, context).await {
            Ok(instance) => {
                started += 1;
                tracing::info!(instance = %instance.id, unit = %unit_id, behind = lines.len(), "unit digest started");
            }
            Err(error) => tracing::warn!(unit = %unit_id, %error, "unit digest failed; retried next week"),
        }
    }
    Ok(started)
}

/// Returns the zh-CN label of an annual state from the published definition.
fn state_label(engine: &workflows::runtime::Engine, state: &str) -> String {
    engine
        .registry
        .latest("annual_ce")
        .and_then(|(_, definition)| definition.state(state).map(|s| s.label.clone()))
        .unwrap_or_else(|| state.to_string())
}
