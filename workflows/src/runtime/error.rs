//! Errors of the runtime, with a stable code each for callers that map them to HTTP.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("definition {0} is not published")]
    UnknownDefinition(String),
    #[error("definition version {0} is not loaded")]
    UnknownVersion(String),
    #[error("instance {0} not found")]
    InstanceNotFound(String),
    #[error("state {state} of instance {instance} is not in its definition")]
    UnknownState { instance: String, state: String },
    #[error("expression failed: {0}")]
    Expression(String),
    #[error("instance {0} changed concurrently too many times; try again")]
    Contention(String),
    #[error("event {event_id} was not committed: {reason}; send it again with the same id")]
    NotCommitted { event_id: String, reason: String },
    #[error("outbox entry {0} not found")]
    OutboxNotFound(String),
    #[error("incident {0} not found or already resolved")]
    IncidentNotFound(String),
    #[error("an instance already exists for subject {0}")]
    SubjectTaken(String),
    #[error("subject part {0} does not match the instance's subject")]
    SubjectMismatch(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::UnknownDefinition(_) => "unknown_definition",
            EngineError::UnknownVersion(_) => "unknown_version",
            EngineError::InstanceNotFound(_) => "instance_not_found",
            EngineError::UnknownState { .. } => "unknown_state",
            EngineError::Expression(_) => "expression_failed",
            EngineError::Contention(_) => "contention",
            EngineError::NotCommitted { .. } => "not_committed",
            EngineError::OutboxNotFound(_) => "outbox_not_found",
            EngineError::IncidentNotFound(_) => "incident_not_found",
            EngineError::SubjectTaken(_) => "subject_taken",
            EngineError::SubjectMismatch(_) => "subject_mismatch",
            EngineError::Database(_) => "database",
            EngineError::Json(_) => "invalid_json",
        }
    }
}
