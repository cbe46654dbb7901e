//! Starting instances and applying events to them.
//!
//! Each event runs in a savepoint of a write transaction that the committer shares
//! among the events queued together (see `group_commit`): it checks the event id, reads
//! the instance, picks the first transition whose guard holds, writes the new state
//! with an optimistic lock, and records history, outbox entries and timers. A lost
//! optimistic race is retried from the start a few times.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::effects::{self, ActionSnapshot, HistoryEntry};
use super::instance::{EventIn, EventOutcome, Instance, JsonMap, subject_key};
use super::{Engine, EngineError};
use crate::db::is_unique_violation;
use crate::definition::{Definition, StateKind, Unexpected};

impl Engine {
    /// Starts an instance of the latest version of `definition_id` for `subject`, or
    /// returns the one already started for that subject (starting is idempotent).
    /// `context` overrides declared defaults.
    pub async fn start(
        &self,
        definition_id: &str,
        subject: &[(&str, String)],
        context: JsonMap,
    ) -> Result<Instance, EngineError> {
        let key = subject_key(subject);
        if let Some(existing) = self.find_instance(definition_id, &key).await? {
            return Ok(existing);
        }
        let (version, definition) = self.latest_definition(definition_id).await?;

        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let subject_json: JsonMap = subject.iter().map(|(name, value)| (name.to_string(), json!(value))).collect();
        let mut initial_context = definition.initial_context();
        initial_context.extend(context);
        let initial = definition.state(&definition.initial).ok_or_else(|| EngineError::UnknownState {
            instance: id.clone(),
            state: definition.initial.clone(),
        })?;
        let status = if initial.kind == StateKind::Terminal { "terminal" } else { "running" };

        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO wf_instances (id, definition_id, version, subject_key, subject, state, context, status, lock_version, history_seq, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, 0, $9, $9)",
        )
        .bind(&id)
        .bind(definition_id)
        .bind(&version)
        .bind(&key)
        .bind(serde_json::Value::Object(subject_json.clone()).to_string())
        .bind(&initial.id)
        .bind(serde_json::Value::Object(initial_context.clone()).to_string())
        .bind(status)
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await;
        if let Err(error) = inserted {
            // Another caller started the same subject first; theirs is the instance.
            if is_unique_violation(&error) {
                drop(tx);
                return self.find_instance(definition_id, &key).await?.ok_or(EngineError::Database(error));
            }
            return Err(error.into());
        }

        let start_event_id = format!("start:{id}");
        let entry = HistoryEntry {
            kind: "started",
            event: None,
            event_id: Some(&start_event_id),
            from: None,
            to: Some(&initial.id),
            detail: json!({ "version": version }),
        };
        effects::append_history(&mut tx, &id, now.timestamp_millis(), &[entry]).await?;
        let snapshot = ActionSnapshot {
            instance_id: &id,
            definition: &definition,
            subject: &subject_json,
            state: &initial.id,
            context: &initial_context,
            event: "start",
            event_id: &start_event_id,
            payload: &JsonMap::new(),
        };
        effects::enqueue_actions(&mut tx, &snapshot, &initial.on_enter, now.timestamp_millis()).await?;
        for index in 0..initial.timers.len() {
            effects::schedule_timer(&mut tx, &id, initial, index, now).await?;
        }
        tx.commit().await?;
        self.work_ready.notify_waiters();

        tracing::info!(instance = %id, definition = %definition_id, state = %initial.id, "instance started");
        self.instance(&id).await
    }

    /// Applies `event` to instance `instance_id` and then offers the instance's inbox
    /// again, since the new state may accept events that waited there.
    pub async fn send(&self, instance_id: &str, event: EventIn) -> Result<EventOutcome, EngineError> {
        let outcome = self.apply(instance_id, &event, None, false).await?;
        if matches!(outcome, EventOutcome::Applied { .. }) {
            self.offer_inbox(instance_id).await?;
        }
        Ok(outcome)
    }

    /// Fires timer `timer_id` as its event. A timer that already fired or was cancelled
    /// is reported as a duplicate.
    pub async fn fire_timer(&self, timer_id: &str) -> Result<EventOutcome, EngineError> {
        let row = sqlx::query("SELECT instance_id, event FROM wf_timers WHERE id = $1")
            .bind(timer_id)
            .fetch_optional(&self.db.pool)
            .await?;
        let Some(row) = row else { return Ok(EventOutcome::Duplicate) };
        let instance_id: String = row.get(0);
        let event = EventIn::new(format!("timer:{timer_id}"), row.get::<String, _>(1));
        let outcome = self.apply(&instance_id, &event, Some(timer_id), false).await?;
        if matches!(outcome, EventOutcome::Applied { .. }) {
            self.offer_inbox(&instance_id).await?;
        }
        Ok(outcome)
    }

    /// Offers the instance's inbox events again, oldest first.
    pub(crate) async fn offer_inbox(&self, instance_id: &str) -> Result<(), EngineError> {
        // Each applied inbox event may open the way for the next, so loop until a pass
        // applies nothing. The bound keeps a faulty definition from looping forever.
        for _ in 0..32 {
            let rows = sqlx::query("SELECT event_id, event, payload FROM wf_inbox WHERE instance_id = $1 ORDER BY received_at, event_id")
                .bind(instance_id)
                .fetch_all(&self.db.pool)
                .await?;
            let mut applied_any = false;
            for row in rows {
                let payload: JsonMap = serde_json::from_str(&row.get::<String, _>(2))?;
                let event = EventIn { id: row.get(0), name: row.get(1), payload };
                if matches!(self.apply(instance_id, &event, None, true).await?, EventOutcome::Applied { .. }) {
                    applied_any = true;
                    break;
                }
            }
            if !applied_any {
                break;
            }
        }
        Ok(())
    }

    /// Applies the event on `conn`, inside the caller's transaction or savepoint.
    /// Returns `None` when another writer changed the instance first (the caller
    /// retries), otherwise the outcome to commit. Sets `definition_id` once the instance
    /// is loaded, for the transition metrics.
    pub(super) async fn apply_in(
        &self,
        conn: &mut AnyConnection,
        instance_id: &str,
        event: &EventIn,
        timer_id: Option<&str>,
        from_inbox: bool,
        definition_id: &mut String,
    ) -> Result<Option<EventOutcome>, EngineError> {
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();

        // Step 1: a repeated event id is acknowledged without effect.
        let seen = sqlx::query("SELECT 1 FROM wf_events WHERE event_id = $1").bind(&event.id).fetch_optional(&mut *conn).await?;
        if seen.is_some() {
            return Ok(Some(EventOutcome::Duplicate));
        }
        if !from_inbox {
            let waiting = sqlx::query("SELECT 1 FROM wf_inbox WHERE event_id = $1").bind(&event.id).fetch_optional(&mut *conn).await?;
            if waiting.is_some() {
                return Ok(Some(EventOutcome::Duplicate));
            }
        }
        if let Some(timer_id) = timer_id {
            let claimed = sqlx::query("UPDATE wf_timers SET status = 'fired' WHERE id = $1 AND status = 'pending'")
                .bind(timer_id)
                .execute(&mut *conn)
                .await?;
            if claimed.rows_affected() == 0 {
                return Ok(Some(EventOutcome::Duplicate));
            }
        }

        // Step 2: load the instance and its pinned definition.
        let instance = Instance::load(&mut *conn, instance_id).await?;
        definition_id.clone_from(&instance.definition_id);
        let definition = self.definition_version(&instance.version).await?;
        let state = definition.state(&instance.state).ok_or_else(|| EngineError::UnknownState {
            instance: instance_id.to_string(),
            state: instance.state.clone(),
        })?;

        // Step 3: pick the first transition whose guard holds.
        let mut chosen = None;
        let mut guard_failed = false;
        if instance.status == "running" {
            for transition in state.transitions_on(&event.name) {
                let holds = match &transition.guard {
                    None => true,
                    Some(guard) => guard.holds(&instance.context, &event.payload).map_err(EngineError::Expression)?,
                };
                if holds {
                    chosen = Some(transition);
                    break;
                }
                guard_failed = true;
            }
        }
        let Some(transition) = chosen else {
            let outcome = self.unexpected(conn, &instance, &definition, event, guard_failed, from_inbox, now_ms).await?;
            return Ok(Some(outcome));
        };

        // Step 4: compute the new context.
        let mut context = instance.context.clone();
        for (name, expr) in &transition.set {
            let value = expr.eval(&context, &event.payload).map_err(EngineError::Expression)?;
            context.insert(name.clone(), value);
        }
        let target = definition.state(&transition.to).ok_or_else(|| EngineError::UnknownState {
            instance: instance_id.to_string(),
            state: transition.to.clone(),
        })?;
        let status = if target.kind == StateKind::Terminal { "terminal" } else { "running" };

        // Step 5: write the state under the optimistic lock.
        let updated = sqlx::query(
            "UPDATE wf_instances SET state = $1, context = $2, status = $3, lock_version = lock_version + 1, updated_at = $4
             WHERE id = $5 AND lock_version = $6",
        )
        .bind(&target.id)
        .bind(serde_json::Value::Object(context.clone()).to_string())
        .bind(status)
        .bind(now_ms)
        .bind(instance_id)
        .bind(instance.lock_version)
        .execute(&mut *conn)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }

        // Step 6: record the event, history, actions and timers in the same transaction.
        record_event(conn, event, instance_id, "applied", now_ms).await?;
        if from_inbox {
            sqlx::query("DELETE FROM wf_inbox WHERE event_id = $1").bind(&event.id).execute(&mut *conn).await?;
        }
        let entry = HistoryEntry {
            kind: "transition",
            event: Some(&event.name),
            event_id: Some(&event.id),
            from: Some(&state.id),
            to: Some(&target.id),
            detail: json!({ "payload": public_payload(&event.payload) }),
        };
        effects::append_history(conn, instance_id, now_ms, &[entry]).await?;

        let entering = target.id != state.id;
        let mut actions = transition.actions.clone();
        if entering {
            actions.extend(target.on_enter.iter().cloned());
        }
        let snapshot = ActionSnapshot {
            instance_id,
            definition: &definition,
            subject: &instance.subject,
            state: &target.id,
            context: &context,
            event: &event.name,
            event_id: &event.id,
            payload: &event.payload,
        };
        effects::enqueue_actions(conn, &snapshot, &actions, now_ms).await?;
        self.reschedule_timers(conn, instance_id, &definition, &target.id, entering, timer_id, now).await?;

        tracing::info!(instance = %instance_id, event = %event.name, event_id = %event.id, from = %state.id, to = %target.id, "transition applied");
        Ok(Some(EventOutcome::Applied { from: state.id.clone(), to: target.id.clone() }))
    }

    /// On entering a state, replaces the instance's timers with the new state's. On a
    /// transition within the state, re-arms only the timer that fired, from now: an
    /// overdue calendar timer therefore fires once and its next firing is in the future.
    #[allow(clippy::too_many_arguments)]
    async fn reschedule_timers(
        &self,
        conn: &mut AnyConnection,
        instance_id: &str,
        definition: &Arc<Definition>,
        state_id: &str,
        entering: bool,
        timer_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let state = definition.state(state_id).expect("target state checked by the caller");
        if entering {
            effects::cancel_timers(conn, instance_id).await?;
            for index in 0..state.timers.len() {
                effects::schedule_timer(conn, instance_id, state, index, now).await?;
            }
            return Ok(());
        }
        if let Some(timer_id) = timer_id {
            let fired = sqlx::query("SELECT state, timer_index FROM wf_timers WHERE id = $1").bind(timer_id).fetch_one(&mut *conn).await?;
            let fired_state: String = fired.get(0);
            let index: i64 = fired.get(1);
            if fired_state == state.id {
                effects::schedule_timer(conn, instance_id, state, index as usize, now).await?;
            }
        }
        Ok(())
    }

    /// Handles an event with no transition in the current state, as its declaration says.
    #[allow(clippy::too_many_arguments)]
    async fn unexpected(
        &self,
        conn: &mut AnyConnection,
        instance: &Instance,
        definition: &Definition,
        event: &EventIn,
        guard_failed: bool,
        from_inbox: bool,
        now_ms: i64,
    ) -> Result<EventOutcome, EngineError> {
        // An inbox event that still does not fit stays where it is, unrecorded.
        if from_inbox {
            return Ok(EventOutcome::Queued { state: instance.state.clone() });
        }
        let policy = definition.events.get(&event.name).map(|decl| decl.unexpected).unwrap_or_default();
        let state = instance.state.clone();
        let reason = if instance.status == "paused" {
            "instance_paused"
        } else if instance.status == "terminal" {
            "instance_finished"
        } else if guard_failed {
            "guard_not_met"
        } else if definition.events.contains_key(&event.name) {
            "not_accepted_in_state"
        } else {
            "unknown_event"
        };

        let (kind, outcome) = match policy {
            // A paused instance keeps every declared event until it is resumed.
            _ if instance.status == "paused" && definition.events.contains_key(&event.name) => ("inbox", EventOutcome::Queued { state: state.clone() }),
            Unexpected::Inbox if instance.status == "running" && !guard_failed => ("inbox", EventOutcome::Queued { state: state.clone() }),
            Unexpected::Ignore => ("ignored", EventOutcome::Ignored { state: state.clone() }),
            _ => ("rejected", EventOutcome::Rejected { state: state.clone(), reason: reason.to_string() }),
        };

        if kind == "inbox" {
            sqlx::query("INSERT INTO wf_inbox (event_id, instance_id, event, payload, received_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&event.id)
                .bind(&instance.id)
                .bind(&event.name)
                .bind(serde_json::Value::Object(event.payload.clone()).to_string())
                .bind(now_ms)
                .execute(&mut *conn)
                .await?;
        } else {
            record_event(conn, event, &instance.id, kind, now_ms).await?;
        }
        let entry = HistoryEntry {
            kind,
            event: Some(&event.name),
            event_id: Some(&event.id),
            from: Some(&state),
            to: None,
            detail: json!({ "reason": reason, "payload": public_payload(&event.payload) }),
        };
        effects::append_history(conn, &instance.id, now_ms, &[entry]).await?;
        tracing::info!(instance = %instance.id, event = %event.name, event_id = %event.id, state = %state, outcome = kind, reason, "event not applied");
        Ok(outcome)
    }
}

async fn record_event(conn: &mut AnyConnection, event: &EventIn, instance_id: &str, outcome: &str, now_ms: i64) -> Result<(), EngineError> {
    sqlx::query("INSERT INTO wf_events (event_id, instance_id, event, received_at, outcome) VALUES ($1, $2, $3, $4, $5)")
        .bind(&event.id)
        .bind(instance_id)
        .bind(&event.name)
        .bind(now_ms)
        .bind(outcome)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Returns the payload without fields named `secret_*` (login codes and the like), which
/// the outbox needs once but history must never keep.
fn public_payload(payload: &JsonMap) -> JsonMap {
    payload.iter().filter(|(name, _)| !name.starts_with("secret_")).map(|(name, value)| (name.clone(), value.clone())).collect()
}
