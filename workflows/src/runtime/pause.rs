//! Pausing and resuming instances.
//!
//! A paused instance does not move: its due timers wait, its pending actions are not
//! handed to workers, and every declared event sent to it is kept in its inbox. On
//! resume, events from the inbox are offered in arrival order and overdue timers fire
//! once, as after any downtime. Staff pause one instance, or every running instance of
//! one definition version (to hold a faulty version while a fix is prepared).

use serde_json::json;
use sqlx::Row;

use super::effects::{self, HistoryEntry};
use super::{Engine, EngineError};

impl Engine {
    /// Pauses running instance `instance_id`. Returns `false` when it was not running
    /// (already paused, or terminal), which changes nothing.
    pub async fn pause(&self, instance_id: &str, by: &str, reason: &str) -> Result<bool, EngineError> {
        let changed = self.set_status(instance_id, "running", "paused", "paused", by, reason).await?;
        if changed {
            tracing::info!(instance = %instance_id, by, "instance paused");
        }
        Ok(changed)
    }

    /// Resumes paused instance `instance_id` and offers its inbox again. Returns
    /// `false` when it was not paused.
    pub async fn resume(&self, instance_id: &str, by: &str) -> Result<bool, EngineError> {
        let changed = self.set_status(instance_id, "paused", "running", "resumed", by, "").await?;
        if changed {
            tracing::info!(instance = %instance_id, by, "instance resumed");
            self.offer_inbox(instance_id).await?;
            self.work_ready.notify_waiters();
        }
        Ok(changed)
    }

    /// Pauses every running instance pinned to `version` of `definition_id`, one
    /// transaction each. Returns how many were paused.
    pub async fn pause_version(&self, definition_id: &str, version: &str, by: &str, reason: &str) -> Result<usize, EngineError> {
        let mut paused = 0;
        for id in self.instances_with_status(definition_id, version, "running").await? {
            if self.pause(&id, by, reason).await? {
                paused += 1;
            }
        }
        Ok(paused)
    }

    /// Resumes every paused instance pinned to `version` of `definition_id`.
    pub async fn resume_version(&self, definition_id: &str, version: &str, by: &str) -> Result<usize, EngineError> {
        let mut resumed = 0;
        for id in self.instances_with_status(definition_id, version, "paused").await? {
            if self.resume(&id, by).await? {
                resumed += 1;
            }
        }
        Ok(resumed)
    }

    async fn instances_with_status(&self, definition_id: &str, version: &str, status: &str) -> Result<Vec<String>, EngineError> {
        let rows = sqlx::query("SELECT id FROM wf_instances WHERE definition_id = $1 AND version = $2 AND status = $3 ORDER BY id")
            .bind(definition_id)
            .bind(version)
            .bind(status)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Moves the instance from status `from` to `to` and records `kind` in its history,
    /// in one transaction. The status condition makes a repeated call a no-op.
    async fn set_status(&self, instance_id: &str, from: &str, to: &str, kind: &str, by: &str, reason: &str) -> Result<bool, EngineError> {
        let now_ms = self.now_ms();
        let mut tx = self.db.begin_write().await?;
        let state: Option<String> = sqlx::query("SELECT state FROM wf_instances WHERE id = $1")
            .bind(instance_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.get(0));
        let Some(state) = state else {
            return Err(EngineError::InstanceNotFound(instance_id.to_string()));
        };

        let updated = sqlx::query(
            "UPDATE wf_instances SET status = $1, lock_version = lock_version + 1, updated_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(to)
        .bind(now_ms)
        .bind(instance_id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }

        let entry = HistoryEntry {
            kind,
            event: None,
            event_id: None,
            from: Some(&state),
            to: Some(&state),
            detail: json!({ "by": by, "reason": reason }),
        };
        effects::append_history(&mut tx, instance_id, now_ms, &[entry]).await?;
        tx.commit().await?;
        Ok(true)
    }
}
