//! An instance's history, read a page at a time so a year of reminders never has to be
//! loaded at once.

use serde::Serialize;
use sqlx::Row;

use super::{Engine, EngineError};

#[derive(Clone, Debug, Serialize)]
pub struct HistoryRecord {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub event: Option<String>,
    pub event_id: Option<String>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub detail: serde_json::Value,
}

impl Engine {
    /// Returns up to `limit` entries with `seq > after`, in order.
    pub async fn history(&self, instance_id: &str, after: i64, limit: i64) -> Result<Vec<HistoryRecord>, EngineError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, event, event_id, from_state, to_state, detail FROM wf_history
             WHERE instance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(instance_id)
        .bind(after)
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HistoryRecord {
                    seq: row.try_get(0)?,
                    at: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    event: row.try_get(3)?,
                    event_id: row.try_get(4)?,
                    from_state: row.try_get(5)?,
                    to_state: row.try_get(6)?,
                    detail: serde_json::from_str(&row.try_get::<String, _>(7)?)?,
                })
            })
            .collect()
    }
}
