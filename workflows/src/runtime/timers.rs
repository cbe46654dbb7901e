//! Due timers. Timers are rows with an absolute UTC instant, so they survive restarts;
//! the timer worker fires each due one once through [`Engine::fire_timer`].

use sqlx::Row;

use super::{Engine, EngineError};

/// A pending timer that is due.
#[derive(Clone, Debug)]
pub struct DueTimer {
    pub id: String,
    pub instance_id: String,
    pub event: String,
    pub due_at: i64,
}

impl Engine {
    /// Returns up to `limit` pending timers due at the engine clock's now, oldest first.
    /// Timers of paused instances wait until the instance is resumed.
    pub async fn due_timers(&self, limit: i64) -> Result<Vec<DueTimer>, EngineError> {
        let rows = sqlx::query(
            "SELECT t.id, t.instance_id, t.event, t.due_at FROM wf_timers t JOIN wf_instances i ON i.id = t.instance_id
             WHERE t.status = 'pending' AND t.due_at <= $1 AND i.status <> 'paused' ORDER BY t.due_at, t.id LIMIT $2",
        )
        .bind(self.now_ms())
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| DueTimer { id: row.get(0), instance_id: row.get(1), event: row.get(2), due_at: row.get(3) })
            .collect())
    }

    /// Returns the instance's pending timers as (event, due_at ms).
    pub async fn pending_timers(&self, instance_id: &str) -> Result<Vec<(String, i64)>, EngineError> {
        let rows = sqlx::query("SELECT event, due_at FROM wf_timers WHERE instance_id = $1 AND status = 'pending' ORDER BY due_at")
            .bind(instance_id)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}
