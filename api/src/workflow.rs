//! Helpers for talking to the workflow engine from handlers: sending events with the
//! engine's outcome turned into an [`ApiError`], events recorded with a decision's
//! transaction, state labels, and context values.

use sqlx::{Any, Transaction};
use workers::pending_events;
use workflows::runtime::{EventIn, EventOutcome, Instance};

use crate::error::ApiError;
use crate::AppState;

/// The registration pipeline, one instance per mobile number.
pub const REGISTRATION: &str = "registration";
/// The annual continuing-education pipeline, one instance per operator, year and item.
pub const ANNUAL_CE: &str = "annual_ce";

/// Sends `event` to instance `instance_id`. An applied, duplicate, ignored or queued
/// event is fine, and a rejection becomes [`ApiError::Rejected`] with the state's label.
pub async fn send(state: &AppState, instance_id: &str, event: EventIn) -> Result<EventOutcome, ApiError> {
    let name = event.name.clone();
    let outcome = state.engine.send(instance_id, event).await?;
    if let EventOutcome::Rejected { state: current, reason } = &outcome {
        tracing::warn!(instance = %instance_id, event = %name, state = %current, reason = %reason, "workflow rejected the event");
        let instance = state.engine.instance(instance_id).await?;
        return Err(ApiError::Rejected {
            state: current.clone(),
            state_label: state_label(state, &instance),
            reason: reason.clone(),
        });
    }
    Ok(outcome)
}

/// Records `events` (instance id, event) in `tx` for delivery after its commit; returns
/// their ids in order for [`deliver_recorded`]. See `workers::pending_events`.
pub async fn record_all(tx: &mut Transaction<'static, Any>, events: &[(String, EventIn)], now_ms: i64) -> Result<Vec<String>, ApiError> {
    let mut event_ids = Vec::with_capacity(events.len());
    for (instance_id, event) in events {
        pending_events::record(tx, instance_id, event, now_ms).await?;
        event_ids.push(event.id.clone());
    }
    Ok(event_ids)
}

/// Sends events recorded with [`record_all`] once their transaction has committed.
/// It returns no error because the decision is already stored. An event that could not
/// be sent stays recorded for the scheduled sweep, and an error line is logged.
pub async fn deliver_recorded(state: &AppState, event_ids: &[String]) {
    if let Err(error) = pending_events::deliver(&state.engine, event_ids).await {
        tracing::error!(events = ?event_ids, %error, "recorded workflow events not all delivered; the pending_events sweep retries them");
    }
}

/// Returns the human label of the instance's current state, such as 学习中, or the state
/// id when its definition version is not loaded.
pub fn state_label(state: &AppState, instance: &Instance) -> String {
    state
        .engine
        .registry
        .by_version(&instance.version)
        .and_then(|definition| definition.state(&instance.state).map(|s| s.label.clone()))
        .unwrap_or_else(|| instance.state.clone())
}

/// Returns integer context variable `name`, or `default` when it is missing.
pub fn context_int(instance: &Instance, name: &str, default: i64) -> i64 {
    instance.context.get(name).and_then(serde_json::Value::as_i64).unwrap_or(default)
}

/// Starts (or finds) the registration instance of `mobile`.
pub async fn registration_instance(state: &AppState, mobile: &str) -> Result<Instance, ApiError> {
    Ok(state.engine.start(REGISTRATION, &[("mobile", mobile.to_string())], Default::default()).await?)
}
