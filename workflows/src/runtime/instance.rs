//! Instances as stored, and the events sent to them.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::{Engine, EngineError};

pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// An instance as read from the database.
#[derive(Clone, Debug, Serialize)]
pub struct Instance {
    pub id: String,
    pub definition_id: String,
    pub version: String,
    pub subject_key: String,
    pub subject: JsonMap,
    pub state: String,
    pub context: JsonMap,
    /// `running`, `paused` or `terminal`.
    pub status: String,
    pub lock_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const INSTANCE_COLUMNS: &str =
    "id, definition_id, version, subject_key, subject, state, context, status, lock_version, created_at, updated_at";

impl Instance {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Instance, EngineError> {
        Ok(Instance {
            id: row.try_get("id")?,
            definition_id: row.try_get("definition_id")?,
            version: row.try_get("version")?,
            subject_key: row.try_get("subject_key")?,
            subject: serde_json::from_str(&row.try_get::<String, _>("subject")?)?,
            state: row.try_get("state")?,
            context: serde_json::from_str(&row.try_get::<String, _>("context")?)?,
            status: row.try_get("status")?,
            lock_version: row.try_get("lock_version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    pub(crate) async fn load<'e, E: Executor<'e, Database = Any>>(executor: E, id: &str) -> Result<Instance, EngineError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INSTANCE_COLUMNS} FROM wf_instances WHERE id = $1")))
            .bind(id)
            .fetch_optional(executor)
            .await?
            .ok_or_else(|| EngineError::InstanceNotFound(id.to_string()))?;
        Instance::from_row(&row)
    }
}

/// An event sent to an instance.
#[derive(Clone, Debug)]
pub struct EventIn {
    /// The sender's id for this event; a repeat with the same id is acknowledged and
    /// ignored. Timers use `timer:<timer id>`.
    pub id: String,
    pub name: String,
    pub payload: JsonMap,
}

impl EventIn {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> EventIn {
        EventIn { id: id.into(), name: name.into(), payload: JsonMap::new() }
    }

    pub fn with(mut self, field: &str, value: impl Into<serde_json::Value>) -> EventIn {
        self.payload.insert(field.to_string(), value.into());
        self
    }
}

/// The outcome of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum EventOutcome {
    /// A transition happened.
    Applied { from: String, to: String },
    /// The event id was seen before; nothing changed.
    Duplicate,
    /// The state has no transition for the event, or no guard held; `reason` tells which.
    Rejected { state: String, reason: String },
    /// The definition ignores the event in this state.
    Ignored { state: String },
    /// Kept in the inbox until a state accepts it.
    Queued { state: String },
}

impl Engine {
    /// Returns instance `id`.
    pub async fn instance(&self, id: &str) -> Result<Instance, EngineError> {
        Instance::load(&self.db.pool, id).await
    }

    /// Returns the instance of `definition_id` for `subject_key`, if one was started.
    pub async fn find_instance(&self, definition_id: &str, subject_key: &str) -> Result<Option<Instance>, EngineError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INSTANCE_COLUMNS} FROM wf_instances WHERE definition_id = $1 AND subject_key = $2"
        )))
        .bind(definition_id)
        .bind(subject_key)
        .fetch_optional(&self.db.pool)
        .await?;
        row.as_ref().map(Instance::from_row).transpose()
    }

    /// Counts instances by definition and state.
    pub async fn count_by_state(&self) -> Result<Vec<(String, String, i64)>, EngineError> {
        let rows = sqlx::query(
            "SELECT definition_id, state, COUNT(*) AS n FROM wf_instances GROUP BY definition_id, state ORDER BY definition_id, state",
        )
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect())
    }
}

/// Builds the subject key from its parts, in the definition's order: `operator=…|year=…`.
pub fn subject_key(parts: &[(&str, String)]) -> String {
    parts.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("|")
}
