//! Re-keying an instance: moving it from one subject to another of the same definition,
//! as when an operator's mobile number changes and the registration instance keyed by
//! that number must follow.
//!
//! The change runs inside the caller's transaction, so the caller's own records (the
//! operator row, an audit row) change with the key or not at all. The instance keeps
//! its id, state, context, timers, inbox and history; only `subject_key` and `subject`
//! change, and a `rekeyed` history entry records who did it and why, with both keys
//! masked. Events sent to the instance id, and `start` for the new subject, reach the
//! same instance afterwards. A new key that already has an instance is rejected, because
//! two instances would otherwise claim one subject.

use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::effects::{self, HistoryEntry};
use super::instance::{JsonMap, subject_key};
use super::{Engine, EngineError};
use crate::db::is_unique_violation;

/// One re-key: the instance of `definition_id` for `old_key` moves to `new_subject`.
pub struct Rekey<'a> {
    pub definition_id: &'a str,
    pub old_key: &'a str,
    /// The new subject parts, named as in the definition's `subject` list.
    pub new_subject: &'a [(&'a str, String)],
    /// The requester: an account id, `operator:<id>` or `system`.
    pub by: &'a str,
    pub reason: &'a str,
}

impl Engine {
    /// Re-keys the instance inside `tx` and returns its id, or `None` when no instance
    /// exists for `old_key` (nothing to move). Fails with
    /// [`EngineError::SubjectTaken`] when an instance already exists for the new key,
    /// and with [`EngineError::SubjectMismatch`] when the new parts do not name the
    /// same fields as the old subject.
    ///
    /// The caller commits `tx`; dropping it undoes the re-key.
    pub async fn rekey_instance(&self, tx: &mut Transaction<'static, Any>, rekey: &Rekey<'_>) -> Result<Option<String>, EngineError> {
        let new_key = subject_key(rekey.new_subject);
        let row = sqlx::query("SELECT id, subject, state FROM wf_instances WHERE definition_id = $1 AND subject_key = $2")
            .bind(rekey.definition_id)
            .bind(rekey.old_key)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let instance_id: String = row.try_get(0)?;
        let old_subject: JsonMap = serde_json::from_str(&row.try_get::<String, _>(1)?)?;
        let state: String = row.try_get(2)?;
        if new_key == rekey.old_key {
            return Ok(Some(instance_id));
        }

        let mut new_subject = old_subject.clone();
        for (name, value) in rekey.new_subject {
            if !old_subject.contains_key(*name) {
                return Err(EngineError::SubjectMismatch(name.to_string()));
            }
            new_subject.insert(name.to_string(), json!(value));
        }
        if new_subject.len() != rekey.new_subject.len() {
            return Err(EngineError::SubjectMismatch(rekey.definition_id.to_string()));
        }

        let existing_id: Option<String> = sqlx::query_scalar("SELECT id FROM wf_instances WHERE definition_id = $1 AND subject_key = $2")
            .bind(rekey.definition_id)
            .bind(&new_key)
            .fetch_optional(&mut **tx)
            .await?;
        if existing_id.is_some() {
            return Err(EngineError::SubjectTaken(mask_key(&new_key)));
        }

        let now_ms = self.now_ms();
        let updated = sqlx::query(
            "UPDATE wf_instances SET subject_key = $1, subject = $2, lock_version = lock_version + 1, updated_at = $3 WHERE id = $4",
        )
        .bind(&new_key)
        .bind(serde_json::Value::Object(new_subject).to_string())
        .bind(now_ms)
        .bind(&instance_id)
        .execute(&mut **tx)
        .await;
        match updated {
            // A start for the new key committed between the check and the update.
            Err(error) if is_unique_violation(&error) => return Err(EngineError::SubjectTaken(mask_key(&new_key))),
            other => other?,
        };

        let entry = HistoryEntry {
            kind: "rekeyed",
            event: None,
            event_id: None,
            from: Some(&state),
            to: Some(&state),
            detail: json!({ "old_key": mask_key(rekey.old_key), "new_key": mask_key(&new_key), "by": rekey.by, "reason": rekey.reason }),
        };
        effects::append_history(tx, &instance_id, now_ms, &[entry]).await?;
        tracing::info!(instance = %instance_id, definition = %rekey.definition_id, old_key = %mask_key(rekey.old_key), new_key = %mask_key(&new_key), by = %rekey.by, "instance re-keyed");
        Ok(Some(instance_id))
    }
}

/// Masks every value of a subject key for logs and history: the first three and the
/// last two characters stay, the rest become `*`, so `mobile=13812345678` reads
/// `mobile=138******78`. Values of five characters or fewer are starred whole.
pub fn mask_key(key: &str) -> String {
    key.split('|')
        .map(|part| match part.split_once('=') {
            Some((name, value)) => format!("{name}={}", mask_value(value)),
            None => mask_value(part),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn mask_value(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let stars = "*".repeat(chars.len() - 5);
    format!("{}{stars}{}", chars[..3].iter().collect::<String>(), chars[chars.len() - 2..].iter().collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::mask_key;

    #[test]
    fn masks_each_value_and_keeps_names() {
        assert_eq!(mask_key("mobile=13812345678"), "mobile=138******78");
        assert_eq!(mask_key("operator=op-1|year=2026"), "operator=****|year=****");
        assert_eq!(mask_key("operator=abcdefgh|item=T"), "operator=abc***gh|item=*");
    }
}
