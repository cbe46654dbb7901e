//! Incidents: an action whose retries are exhausted, or an instance that waits on
//! nothing. Staff see them and retry, skip or cancel.

use serde::Serialize;
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::effects::{self, HistoryEntry};
use super::{Engine, EngineError};
use crate::definition::StateKind;

#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub id: String,
    pub instance_id: String,
    pub outbox_id: Option<String>,
    pub kind: String,
    pub error: String,
    pub attempts: i64,
    pub status: String,
    pub created_at: i64,
}

/// What staff decided about an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Run the failed action again from attempt 1.
    Retry,
    /// Consider the action done without running it.
    Skip,
    /// Give the action up; it stays failed.
    Cancel,
}

impl Engine {
    pub(crate) async fn raise_incident(
        &self,
        tx: &mut Transaction<'static, Any>,
        instance_id: &str,
        outbox_id: Option<&str>,
        kind: &str,
        error: &str,
        attempts: i64,
    ) -> Result<String, EngineError> {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO wf_incidents (id, instance_id, outbox_id, kind, error, attempts, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)",
        )
        .bind(&id)
        .bind(instance_id)
        .bind(outbox_id)
        .bind(kind)
        .bind(error)
        .bind(attempts)
        .bind(self.now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Returns incidents with `status` (`open` for the work queue), newest first.
    pub async fn incidents(&self, status: &str, limit: i64) -> Result<Vec<Incident>, EngineError> {
        let rows = sqlx::query(
            "SELECT id, instance_id, outbox_id, kind, error, attempts, status, created_at FROM wf_incidents
             WHERE status = $1 ORDER BY created_at DESC LIMIT $2",
        )
        .bind(status)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Incident {
                    id: row.try_get(0)?,
                    instance_id: row.try_get(1)?,
                    outbox_id: row.try_get(2)?,
                    kind: row.try_get(3)?,
                    error: row.try_get(4)?,
                    attempts: row.try_get(5)?,
                    status: row.try_get(6)?,
                    created_at: row.try_get(7)?,
                })
            })
            .collect()
    }

    /// Counts all incidents ever raised.
    pub async fn incident_count(&self) -> Result<i64, EngineError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM wf_incidents").fetch_one(&self.db.pool).await?)
    }

    /// Applies staff's `resolution` to open incident `id`, recording who did it in the
    /// instance's history.
    pub async fn resolve_incident(&self, id: &str, resolution: Resolution, by: &str) -> Result<(), EngineError> {
        let now_ms = self.now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query("SELECT instance_id, outbox_id FROM wf_incidents WHERE id = $1 AND status = 'open'")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| EngineError::IncidentNotFound(id.to_string()))?;
        let instance_id: String = row.get(0);
        let outbox_id: Option<String> = row.get(1);
        let (status, label) = match resolution {
            Resolution::Retry => ("retried", "retry"),
            Resolution::Skip => ("skipped", "skip"),
            Resolution::Cancel => ("cancelled", "cancel"),
        };
        sqlx::query("UPDATE wf_incidents SET status = $1, resolved_at = $2, resolved_by = $3 WHERE id = $4")
            .bind(status)
            .bind(now_ms)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(outbox_id) = &outbox_id {
            match resolution {
                Resolution::Retry => {
                    sqlx::query("UPDATE wf_outbox SET status = 'pending', attempts = 0, dispatched_attempt = 0, due_at = $1 WHERE id = $2")
                        .bind(now_ms)
                        .bind(outbox_id)
                        .execute(&mut *tx)
                        .await?;
                }
                Resolution::Skip => {
                    sqlx::query("UPDATE wf_outbox SET status = 'done', result = $1 WHERE id = $2")
                        .bind(json!({ "skipped_by": by }).to_string())
                        .bind(outbox_id)
                        .execute(&mut *tx)
                        .await?;
                }
                Resolution::Cancel => {}
            }
        }
        let entry = HistoryEntry { kind: "incident", event: None, event_id: Some(id), from: None, to: None, detail: json!({ "incident": id, "resolution": label, "by": by }) };
        effects::append_history(&mut tx, &instance_id, now_ms, &[entry]).await?;
        tx.commit().await?;
        self.work_ready.notify_waiters();
        tracing::info!(incident = %id, instance = %instance_id, resolution = label, by, "incident resolved");
        Ok(())
    }

    /// Raises a `stuck_instance` incident for every running instance that has neither
    /// a pending timer, nor an unfinished action, nor an outside event it waits for.
    /// Returns the instance ids found. An instance already reported and still open is
    /// not reported twice.
    pub async fn check_stuck_instances(&self) -> Result<Vec<String>, EngineError> {
        let rows = sqlx::query(
            "SELECT i.id, i.version, i.state FROM wf_instances i
             WHERE i.status = 'running'
               AND NOT EXISTS (SELECT 1 FROM wf_timers t WHERE t.instance_id = i.id AND t.status = 'pending')
               AND NOT EXISTS (SELECT 1 FROM wf_outbox o WHERE o.instance_id = i.id AND o.status = 'pending')
               AND NOT EXISTS (SELECT 1 FROM wf_incidents n WHERE n.instance_id = i.id AND n.status = 'open' AND n.kind = 'stuck_instance')",
        )
        .fetch_all(&self.db.pool)
        .await?;
        let mut stuck = Vec::new();
        for row in rows {
            let id: String = row.get(0);
            let version: String = row.get(1);
            let state_id: String = row.get(2);
            let waits_for_event = self
                .definition_version(&version)
                .await
                .ok()
                .and_then(|definition| definition.state(&state_id).map(|state| state.kind == StateKind::Waiting && !state.transitions.is_empty()));
            let waits_for_event = waits_for_event.unwrap_or(false);
            if waits_for_event {
                continue;
            }
            let mut tx = self.db.begin_write().await?;
            let error = format!("instance in state {state_id} has no pending timer, no pending action and awaits no event");
            self.raise_incident(&mut tx, &id, None, "stuck_instance", &error, 0).await?;
            tx.commit().await?;
            tracing::error!(instance = %id, state = %state_id, "stuck instance; incident raised");
            stuck.push(id);
        }
        Ok(stuck)
    }
}
