//! The `notify` action: renders a template for each recipient and channel and sends it.
//!
//! Each (entry, channel, recipient) is one delivery with its own idempotency key, logged
//! in `deliveries` with the provider's message id. A retried entry skips deliveries that
//! already went out. A second notification with the same template for the same event of
//! the same instance is skipped too. Non-urgent SMS is held through quiet hours
//! (21:00–08:00 Beijing time) and sent at 08:00. A non-urgent message to an address over
//! its hourly limit waits for the next hour. A delivery that fails fails the entry, whose
//! retry policy ends in an incident.

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use workflows::runtime::outbox::OutboxEntry;

use crate::actions::{ActionError, Done};
use crate::notify::{Channel, DeliveryErrorKind, EmailMessage, SmsMessage, mask_mobile};
use crate::records::{self, OperatorRow};
use crate::services::Services;

/// Per-recipient limit: at most this many non-urgent messages per channel and address in
/// each clock hour; more wait for the next hour. Urgent messages (login codes) are not
/// held, because the API limits how often a code can be requested.
const SMS_PER_WINDOW: i64 = 5;
const EMAIL_PER_WINDOW: i64 = 20;
const RATE_WINDOW_MS: i64 = 60 * 60 * 1000;

/// Quiet hours for non-urgent SMS, Beijing time: from 21:00 to 08:00.
const QUIET_FROM_HOUR: u32 = 21;
const QUIET_UNTIL_HOUR: u32 = 8;

pub async fn perform(services: &Services, entry: &OutboxEntry, action: &Value) -> Result<Done, ActionError> {
    let pool = &services.engine.db.pool;
    let template = action.get("template").and_then(Value::as_str).ok_or_else(|| ActionError::invalid("notify without template"))?;
    let urgent = action.get("urgent").and_then(Value::as_bool).unwrap_or(false);
    let channels = strings(action.get("channels"));
    let recipients = strings(action.get("to"));
    let subject = entry.action.get("subject").cloned().unwrap_or(Value::Null);

    // Step 1: hold non-urgent SMS in quiet hours.
    let now = services.engine.clock.now();
    if !urgent && channels.iter().any(|c| c == "sms") {
        if let Some(until) = quiet_hours_end(now) {
            return Ok(Done::DeferredUntil { until_ms: until.timestamp_millis(), reason: "quiet hours".into() });
        }
    }

    // Step 2: gather the template's data and the addresses. A card number the template
    // needs but the card job has not written yet is worth waiting for, not sending blank.
    let operator = records::operator_of_subject(pool, &subject).await?;
    let data = template_data(services, entry, operator.as_ref()).await?;
    let needs_card = services.templates.fields(template).is_some_and(|fields| fields.iter().any(|field| field == "card_no"));
    if needs_card && data["card_no"] == "" {
        return Err(ActionError::not_ready("card not issued yet"));
    }
    let addresses = resolve(pool, &recipients, &subject, operator.as_ref()).await?;

    // Step 3: one delivery per channel and address.
    let mut sent = Vec::new();
    for channel in &channels {
        for address in &addresses {
            let to = match channel.as_str() {
                "sms" => address.mobile.clone(),
                _ => address.email.clone(),
            };
            let Some(to) = to.filter(|value| !value.is_empty()) else { continue };
            let key = delivery_key(&entry.id, channel, &to);
            let dedupe = dedupe_key(entry, template, channel, &to);
            if already_sent(pool, &key, &dedupe).await? {
                continue;
            }
            if !urgent {
                if let Some(until_ms) = rate_limited_until(services, channel, &to).await? {
                    tracing::info!(outbox = %entry.id, channel = %channel, to = %mask(channel, &to), "recipient's rate limit reached; delivery held");
                    return Ok(Done::DeferredUntil { until_ms, reason: format!("rate limit of {} reached", mask(channel, &to)) });
                }
            }
            let receipt = deliver(services, channel, template, &to, &data, &key).await?;
            record_delivery(services, &key, &dedupe, channel, &to, template, &receipt).await?;
            sent.push(json!({ "channel": channel, "to": mask(channel, &to), "message_id": receipt }));
        }
    }
    Ok(Done::Completed(json!({ "sent": sent })))
}

/// Returns 08:00 Beijing time after `now` when `now` lies in quiet hours.
fn quiet_hours_end(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&Shanghai);
    let hour = local.hour();
    if (QUIET_UNTIL_HOUR..QUIET_FROM_HOUR).contains(&hour) {
        return None;
    }
    let date = if hour >= QUIET_FROM_HOUR { local.date_naive() + Duration::days(1) } else { local.date_naive() };
    let eight = date.and_hms_opt(QUIET_UNTIL_HOUR, 0, 0)?.and_local_timezone(Shanghai).single()?;
    Some(eight.with_timezone(&Utc))
}

struct Address {
    mobile: Option<String>,
    email: Option<String>,
}

async fn resolve(pool: &sqlx::AnyPool, recipients: &[String], subject: &Value, operator: Option<&OperatorRow>) -> Result<Vec<Address>, ActionError> {
    let mut addresses = Vec::new();
    for recipient in recipients {
        match recipient.as_str() {
            "applicant" => {
                let mobile = subject.get("mobile").and_then(Value::as_str).map(str::to_string);
                addresses.push(Address { mobile, email: None });
            }
            "operator" => {
                if let Some(operator) = operator {
                    addresses.push(Address { mobile: Some(operator.mobile.clone()), email: operator.email.clone() });
                }
            }
            "unit_admin" => {
                // The operator's unit, or the unit a unit-level instance is for.
                let unit_id = operator.and_then(|o| o.unit_id.as_deref()).or_else(|| subject.get("unit").and_then(Value::as_str));
                if let Some(unit_id) = unit_id {
                    for (mobile, email) in records::unit_admins(pool, unit_id).await? {
                        addresses.push(Address { mobile, email });
                    }
                }
            }
            // The admins of the unit whose affiliation ended last, after a release.
            "previous_unit_admin" => {
                if let Some(unit_id) = match operator {
                    Some(operator) => records::previous_unit(pool, &operator.id).await?,
                    None => None,
                } {
                    for (mobile, email) in records::unit_admins(pool, &unit_id).await? {
                        addresses.push(Address { mobile, email });
                    }
                }
            }
            other => return Err(ActionError::invalid(format!("unknown recipient {other}"))),
        }
    }
    Ok(addresses)
}

/// Builds the fields templates may use from the instance snapshot and the records.
async fn template_data(services: &Services, entry: &OutboxEntry, operator: Option<&OperatorRow>) -> Result<Value, ActionError> {
    let pool = &services.engine.db.pool;
    let snapshot = &entry.action;
    let subject = snapshot.get("subject").cloned().unwrap_or(Value::Null);
    let context = snapshot.get("context").cloned().unwrap_or(Value::Null);
    let payload = snapshot.get("payload").cloned().unwrap_or(Value::Null);
    let item_code = subject.get("item").or_else(|| payload.get("item_code")).and_then(Value::as_str).unwrap_or_default();
    let item_name = services.catalogue.item(item_code).map(|item| item.name.clone()).unwrap_or_else(|| item_code.to_string());
    let year = subject.get("year").or_else(|| context.get("year")).and_then(Value::as_str).unwrap_or_default().to_string();

    let mut data = json!({
        "name": operator.and_then(|o| o.name.clone()).unwrap_or_default(),
        "year": year,
        "item_name": item_name,
        "credits": context.get("credits").cloned().unwrap_or(json!(0)),
        "required": context.get("required_credits").cloned().unwrap_or(json!(20)),
        "pass_mark": context.get("pass_mark").cloned().unwrap_or(json!(70)),
        "code": payload.get("secret_code").cloned().unwrap_or(Value::Null),
        "minutes": payload.get("minutes").cloned().unwrap_or(Value::Null),
        "reason": payload.get("reason").cloned().unwrap_or(json!("")),
        "score": "",
        "card_no": "",
    });

    // Fields a scheduled event or a unit-level instance carries: the event payload
    // first, then the instance context.
    for field in ["certificate_no", "expires_on", "apply_by", "behind_count", "behind_list", "title", "decision", "new_mobile_masked"] {
        if let Some(value) = payload.get(field).or_else(|| context.get(field)) {
            data[field] = value.clone();
        }
    }
    if let Some(unit_id) = subject.get("unit").and_then(Value::as_str) {
        let unit_name: Option<String> = sqlx::query_scalar("SELECT name FROM units WHERE id = $1").bind(unit_id).fetch_optional(pool).await?;
        data["unit_name"] = json!(unit_name.unwrap_or_default());
    }

    if let Some(attempt_id) = payload.get("attempt_id").and_then(Value::as_str) {
        let score: Option<f64> = sqlx::query_scalar("SELECT score FROM exam_attempts WHERE id = $1").bind(attempt_id).fetch_optional(pool).await?.flatten();
        data["score"] = json!(score.map(|s| format!("{s:.1}")).unwrap_or_default());
    }
    if let (Some(operator), Ok(year)) = (operator, year.parse::<i64>()) {
        let row = sqlx::query("SELECT card_no, revoke_reason FROM cards WHERE operator_id = $1 AND year = $2 AND item_code = $3 ORDER BY issued_at DESC LIMIT 1")
            .bind(&operator.id)
            .bind(year)
            .bind(item_code)
            .fetch_optional(pool)
            .await?;
        if let Some(row) = row {
            data["card_no"] = json!(row.get::<String, _>(0));
            if let Some(reason) = row.get::<Option<String>, _>(1) {
                data["reason"] = json!(reason);
            }
        }
    }
    Ok(data)
}

async fn deliver(services: &Services, channel: &str, template: &str, to: &str, data: &Value, key: &str) -> Result<String, ActionError> {
    let channel_kind = if channel == "sms" { Channel::Sms } else { Channel::Email };
    let rendered = services
        .templates
        .render(channel_kind, template, "zh-CN", data)
        .map_err(|error| ActionError::invalid(format!("template {template}: {error}")))?;
    let result = match channel_kind {
        Channel::Sms => {
            // A template-based SMS provider receives only the fields the template declares.
            let params: serde_json::Map<String, Value> = services
                .templates
                .fields(template)
                .unwrap_or_default()
                .iter()
                .filter_map(|field| data.get(field).map(|value| (field.clone(), value.clone())))
                .collect();
            let message = SmsMessage { to: to.to_string(), body: rendered.body, template: template.to_string(), params: Value::Object(params), idempotency_key: key.to_string() };
            services.sms.send(&message).await
        }
        Channel::Email => {
            let message = EmailMessage { to: to.to_string(), subject: rendered.subject.unwrap_or_default(), body: rendered.body, attachments: Vec::new(), idempotency_key: key.to_string() };
            services.email.send(&message).await
        }
    };
    match result {
        Ok(receipt) => Ok(receipt.provider_message_id),
        Err(error) if error.kind == DeliveryErrorKind::Retryable => Err(ActionError::retryable(error.message)),
        Err(error) => Err(ActionError::rejected(error.message)),
    }
}

/// Returns whether this delivery, or the same template for the same event of the same
/// instance to the same address, was sent before.
async fn already_sent(pool: &sqlx::AnyPool, key: &str, dedupe: &str) -> Result<bool, ActionError> {
    let row = sqlx::query("SELECT 1 FROM deliveries WHERE (idempotency_key = $1 OR dedupe_key = $2) AND status = 'sent'").bind(key).bind(dedupe).fetch_optional(pool).await?;
    Ok(row.is_some())
}

/// Takes one of the recipient's slots of the current hour. Returns `None` when a slot was
/// taken, or the start of the next hour when all are used. Slots are rows with a unique
/// key, so concurrent workers on either backend never share one.
async fn rate_limited_until(services: &Services, channel: &str, to: &str) -> Result<Option<i64>, ActionError> {
    let limit = if channel == "sms" { SMS_PER_WINDOW } else { EMAIL_PER_WINDOW };
    let now_ms = services.engine.now_ms();
    let window = now_ms.div_euclid(RATE_WINDOW_MS);
    let recipient = recipient_key(channel, to);
    for slot in 0..limit {
        let taken = sqlx::query("INSERT INTO delivery_slots (slot_key, taken_at) VALUES ($1, $2) ON CONFLICT (slot_key) DO NOTHING")
            .bind(format!("{recipient}:{window}:{slot}"))
            .bind(now_ms)
            .execute(&services.engine.db.pool)
            .await?;
        if taken.rows_affected() == 1 {
            return Ok(None);
        }
    }
    Ok(Some((window + 1) * RATE_WINDOW_MS))
}

/// Hex SHA-256 of channel and address: the rate limit's key, with no personal data.
fn recipient_key(channel: &str, to: &str) -> String {
    hex::encode(Sha256::digest(format!("{channel}:{to}").as_bytes()))
}

/// Hex SHA-256 of instance, event id, template, channel and address.
fn dedupe_key(entry: &OutboxEntry, template: &str, channel: &str, to: &str) -> String {
    let event_id = entry.action.get("event_id").and_then(Value::as_str).unwrap_or(&entry.id);
    hex::encode(Sha256::digest(format!("{}\n{event_id}\n{template}\n{channel}\n{to}", entry.instance_id).as_bytes()))
}

async fn record_delivery(services: &Services, key: &str, dedupe: &str, channel: &str, to: &str, template: &str, message_id: &str) -> Result<(), ActionError> {
    let result = sqlx::query(
        "INSERT INTO deliveries (idempotency_key, channel, recipient_masked, template, status, provider_message_id, created_at, recipient_key, dedupe_key)
         VALUES ($1, $2, $3, $4, 'sent', $5, $6, $7, $8)",
    )
    .bind(key)
    .bind(channel)
    .bind(mask(channel, to))
    .bind(template)
    .bind(message_id)
    .bind(services.engine.now_ms())
    .bind(recipient_key(channel, to))
    .bind(dedupe)
    .execute(&services.engine.db.pool)
    .await;
    match result {
        Err(error) if workflows::db::is_unique_violation(&error) => Ok(()),
        other => other.map(|_| ()).map_err(ActionError::from),
    }
}

/// Returns the delivery key: entry, channel and a hash of the address, so the key
/// (which reaches file names and provider logs) carries no personal data.
fn delivery_key(entry_id: &str, channel: &str, to: &str) -> String {
    let digest = hex::encode(Sha256::digest(to.as_bytes()));
    format!("{entry_id}:{channel}:{}", &digest[..12])
}

fn mask(channel: &str, to: &str) -> String {
    if channel == "sms" {
        return mask_mobile(to);
    }
    match to.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".to_string(),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn quiet_hours_hold_until_eight_beijing() {
        // 13:30 UTC is 21:30 Beijing: held until 08:00 next day = 00:00 UTC.
        let evening = Utc.with_ymd_and_hms(2026, 3, 5, 13, 30, 0).unwrap();
        assert_eq!(quiet_hours_end(evening), Some(Utc.with_ymd_and_hms(2026, 3, 6, 0, 0, 0).unwrap()));
        // 22:00 UTC on 5 March is 06:00 Beijing on 6 March: held until 08:00 that morning.
        let early = Utc.with_ymd_and_hms(2026, 3, 5, 22, 0, 0).unwrap();
        assert_eq!(quiet_hours_end(early), Some(Utc.with_ymd_and_hms(2026, 3, 6, 0, 0, 0).unwrap()));
        // 02:00 UTC is 10:00 Beijing: not quiet.
        assert_eq!(quiet_hours_end(Utc.with_ymd_and_hms(2026, 3, 5, 2, 0, 0).unwrap()), None);
    }
}
