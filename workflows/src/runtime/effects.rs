//! Writes that accompany a transition inside its database transaction: history
//! entries, outbox entries for actions, and timers. Because they commit together with
//! the state change, a side effect is recorded if and only if its transition is.
//! They take the connection, so they run the same in a transaction or in a savepoint.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::instance::JsonMap;
use super::EngineError;
use crate::definition::{Action, Definition, RetryPolicy, State, TimerWhen};

/// One history entry to append.
pub(crate) struct HistoryEntry<'a> {
    pub kind: &'a str,
    pub event: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub detail: serde_json::Value,
}

/// Appends entries to an instance's history, allocating their sequence numbers with a
/// relative update so concurrent appenders never reuse one.
pub(crate) async fn append_history(
    conn: &mut AnyConnection,
    instance_id: &str,
    at_ms: i64,
    entries: &[HistoryEntry<'_>],
) -> Result<(), EngineError> {
    if entries.is_empty() {
        return Ok(());
    }
    let last: i64 = sqlx::query_scalar("UPDATE wf_instances SET history_seq = history_seq + $1 WHERE id = $2 RETURNING history_seq")
        .bind(entries.len() as i64)
        .bind(instance_id)
        .fetch_one(&mut *conn)
        .await?;
    let first = last - entries.len() as i64 + 1;
    for (offset, entry) in entries.iter().enumerate() {
        sqlx::query(
            "INSERT INTO wf_history (instance_id, seq, at, kind, event, event_id, from_state, to_state, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(instance_id)
        .bind(first + offset as i64)
        .bind(at_ms)
        .bind(entry.kind)
        .bind(entry.event)
        .bind(entry.event_id)
        .bind(entry.from)
        .bind(entry.to)
        .bind(entry.detail.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What an outbox entry needs to run without reading the instance again: the action,
/// and a snapshot of the instance as the transition left it.
pub(crate) struct ActionSnapshot<'a> {
    pub instance_id: &'a str,
    pub definition: &'a Definition,
    pub subject: &'a JsonMap,
    pub state: &'a str,
    pub context: &'a JsonMap,
    pub event: &'a str,
    pub event_id: &'a str,
    pub payload: &'a JsonMap,
}

/// Records `actions` in the outbox, due now. Returns their ids.
pub(crate) async fn enqueue_actions(
    conn: &mut AnyConnection,
    snapshot: &ActionSnapshot<'_>,
    actions: &[Action],
    now_ms: i64,
) -> Result<Vec<String>, EngineError> {
    let mut ids = Vec::new();
    for action in actions {
        let id = uuid::Uuid::now_v7().to_string();
        let policy = policy_for(snapshot.definition, action);
        let kind = match &action.kind {
            crate::definition::ActionKind::Notify { .. } => "notify",
            crate::definition::ActionKind::Sync { .. } => "sync",
            crate::definition::ActionKind::Job { .. } => "job",
        };
        let body = serde_json::json!({
            "action": action.kind,
            "definition_id": snapshot.definition.id,
            "instance_id": snapshot.instance_id,
            "subject": snapshot.subject,
            "state": snapshot.state,
            "context": snapshot.context,
            "event": snapshot.event,
            "event_id": snapshot.event_id,
            "payload": snapshot.payload,
        });
        sqlx::query(
            "INSERT INTO wf_outbox (id, instance_id, kind, action, policy, status, attempts, due_at, dispatched_attempt, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, 0, $7)",
        )
        .bind(&id)
        .bind(snapshot.instance_id)
        .bind(kind)
        .bind(body.to_string())
        .bind(serde_json::to_string(&policy)?)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

fn policy_for(definition: &Definition, action: &Action) -> RetryPolicy {
    let named = action.retry.as_deref().unwrap_or("default");
    definition.retry_policies.get(named).cloned().unwrap_or_default()
}

/// Returns when timer `index` of `state` fires for an instance that entered the state
/// at `entered`: an `after` timer counts from the entry, an `at` timer fires at its next
/// calendar time after `now`.
pub(crate) fn due_at(state: &State, index: usize, entered: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let timer = state.timers.get(index)?;
    Some(match &timer.when {
        TimerWhen::After(duration) => entered + *duration,
        TimerWhen::At(spec) => spec.next_after(now),
    })
}

/// Schedules timer `index` of `state` for an instance entering the state now.
pub(crate) async fn schedule_timer(
    conn: &mut AnyConnection,
    instance_id: &str,
    state: &State,
    index: usize,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let Some(due) = due_at(state, index, now, now) else { return Ok(()) };
    insert_timer(conn, instance_id, state, index, due, now).await
}

/// Stores timer `index` of `state`, due at `due`.
pub(crate) async fn insert_timer(
    conn: &mut AnyConnection,
    instance_id: &str,
    state: &State,
    index: usize,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    sqlx::query(
        "INSERT INTO wf_timers (id, instance_id, state, timer_index, event, due_at, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(instance_id)
    .bind(&state.id)
    .bind(index as i64)
    .bind(&state.timers[index].fire)
    .bind(due.timestamp_millis())
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Cancels the instance's pending timers (on leaving a state).
pub(crate) async fn cancel_timers(conn: &mut AnyConnection, instance_id: &str) -> Result<(), EngineError> {
    sqlx::query("UPDATE wf_timers SET status = 'cancelled' WHERE instance_id = $1 AND status = 'pending'")
        .bind(instance_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
