//! Moving running instances from one published version of a definition to another.
//!
//! Staff give a map from old states to new ones (a state not named keeps its id).
//! [`Engine::plan_migration`] changes nothing: it counts how many instances in each
//! state would move where, and lists every problem that would strand one:
//!
//! | code | meaning |
//! |---|---|
//! | `MIGRATION_UNKNOWN_SOURCE_STATE` | the map names a state the old version lacks |
//! | `MIGRATION_TARGET_MISSING` | an instance would land in a state the new version lacks |
//! | `MIGRATION_STRANDED` | the target is not terminal and has no timer and no transition |
//! | `MIGRATION_ACTIVE_TARGET` | the target is an active state whose entry actions would not run |
//! | `MIGRATION_TIMER_OVERDUE_REPEATED` | more than one of the target's timers would already be due |
//!
//! [`Engine::apply_migration`] refuses a plan with problems; otherwise it moves each
//! instance in its own transaction and records a `migrated` history entry. Entry
//! actions of the new state do not run: the instance is already in it. Timers are kept
//! when the state and its timers are unchanged. Otherwise the target's timers are armed
//! as if the instance had entered it when it entered its current state, so a deadline
//! keeps its date. A timer already due fires once.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::effects::{self, HistoryEntry};
use super::{Engine, EngineError};
use crate::definition::{Definition, StateKind, Timer, TimerWhen};

/// A migration request: move the running instances of `from_version` to `to_version`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct MigrationRequest {
    pub definition_id: String,
    pub from_version: String,
    pub to_version: String,
    /// Old state id to new state id; a state not named keeps its id.
    #[serde(default)]
    pub states: BTreeMap<String, String>,
}

/// How many instances would move from one state to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMove {
    pub from_state: String,
    pub to_state: String,
    pub instances: usize,
    /// Instances whose one overdue timer fires as soon as they are moved.
    pub timers_fire_at_once: usize,
}

/// One reason the migration would strand instances, with up to ten of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigrationProblem {
    pub code: &'static str,
    pub from_state: String,
    pub to_state: Option<String>,
    pub instances: usize,
    pub sample: Vec<String>,
}

/// The effect of a migration, computed before anything changes.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationPlan {
    pub definition_id: String,
    pub from_version: String,
    pub to_version: String,
    /// Running and paused instances pinned to `from_version`.
    pub instances: usize,
    pub moves: Vec<PlannedMove>,
    pub problems: Vec<MigrationProblem>,
}

impl MigrationPlan {
    pub fn is_safe(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The result of applying a migration.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationOutcome {
    pub plan: MigrationPlan,
    pub migrated: usize,
    /// Instances that finished or moved on between the plan and their turn; they keep
    /// their version.
    pub skipped: Vec<String>,
}

/// The target state of one instance and the change to its timers.
struct Placement {
    target: String,
    timers: TimerChange,
    overdue: usize,
}

enum TimerChange {
    Keep,
    Rearm(Vec<(usize, DateTime<Utc>)>),
}

/// The two versions and the map, checked against each other.
struct Versions {
    old: Arc<Definition>,
    new: Arc<Definition>,
    states: BTreeMap<String, String>,
}

impl Engine {
    /// Computes what [`Engine::apply_migration`] would do, changing nothing.
    pub async fn plan_migration(&self, request: &MigrationRequest) -> Result<MigrationPlan, EngineError> {
        let versions = self.migration_versions(request).await?;
        let now = self.clock.now();
        let mut moves: BTreeMap<(String, String), PlannedMove> = BTreeMap::new();
        let mut problems: BTreeMap<(&'static str, String, Option<String>), MigrationProblem> = BTreeMap::new();

        for from in versions.states.keys() {
            if versions.old.state(from).is_none() {
                add_problem(&mut problems, "MIGRATION_UNKNOWN_SOURCE_STATE", from, None, None);
            }
        }

        let instances = self.migratable(&request.definition_id, &request.from_version).await?;
        for (id, state) in &instances {
            let entered = self.entered_state_at(&self.db.pool, id).await?;
            let pending = self.pending_timer_dues(&self.db.pool, id).await?;
            match place(&versions, state, entered, &pending, now) {
                Ok(placement) => {
                    let entry = moves.entry((state.clone(), placement.target.clone())).or_insert_with(|| PlannedMove {
                        from_state: state.clone(),
                        to_state: placement.target.clone(),
                        instances: 0,
                        timers_fire_at_once: 0,
                    });
                    entry.instances += 1;
                    entry.timers_fire_at_once += usize::from(placement.overdue == 1);
                }
                Err((code, target)) => add_problem(&mut problems, code, state, target, Some(id)),
            }
        }

        Ok(MigrationPlan {
            definition_id: request.definition_id.clone(),
            from_version: request.from_version.clone(),
            to_version: request.to_version.clone(),
            instances: instances.len(),
            moves: moves.into_values().collect(),
            problems: problems.into_values().collect(),
        })
    }

    /// Applies a migration whose plan has no problems, one transaction per instance.
    /// Returns the plan with its problems and nothing changed when it has any.
    pub async fn apply_migration(&self, request: &MigrationRequest, by: &str) -> Result<MigrationOutcome, EngineError> {
        let plan = self.plan_migration(request).await?;
        if !plan.is_safe() {
            return Ok(MigrationOutcome { plan, migrated: 0, skipped: Vec::new() });
        }
        let versions = self.migration_versions(request).await?;
        tracing::info!(definition = %request.definition_id, from = %short(&request.from_version), to = %short(&request.to_version), instances = plan.instances, by, "migration started");

        let mut migrated = 0;
        let mut skipped = Vec::new();
        for (id, _) in self.migratable(&request.definition_id, &request.from_version).await? {
            let mut tx = self.db.begin_write().await?;
            if self.migrate_one(&mut tx, &versions, request, &id, by).await? {
                tx.commit().await?;
                migrated += 1;
            } else {
                drop(tx);
                skipped.push(id);
            }
        }
        self.work_ready.notify_waiters();
        tracing::info!(definition = %request.definition_id, migrated, skipped = skipped.len(), by, "migration finished");
        Ok(MigrationOutcome { plan, migrated, skipped })
    }

    /// Moves one instance inside `tx`. Returns `false`, changing nothing, when the
    /// instance no longer qualifies (it finished, or its state now has a problem).
    async fn migrate_one(
        &self,
        tx: &mut Transaction<'static, Any>,
        versions: &Versions,
        request: &MigrationRequest,
        instance_id: &str,
        by: &str,
    ) -> Result<bool, EngineError> {
        let now = self.clock.now();
        let row = sqlx::query("SELECT state, version, status FROM wf_instances WHERE id = $1")
            .bind(instance_id)
            .fetch_one(&mut **tx)
            .await?;
        let state: String = row.get(0);
        let version: String = row.get(1);
        let status: String = row.get(2);
        if version != request.from_version || status == "terminal" {
            return Ok(false);
        }
        let entered = self.entered_state_at(&mut **tx, instance_id).await?;
        let pending = self.pending_timer_dues(&mut **tx, instance_id).await?;
        let Ok(placement) = place(versions, &state, entered, &pending, now) else {
            return Ok(false);
        };
        let target = versions.new.state(&placement.target).expect("placement checked the target");
        let new_status = match (target.kind, status.as_str()) {
            (StateKind::Terminal, _) => "terminal",
            (_, "paused") => "paused",
            _ => "running",
        };

        sqlx::query(
            "UPDATE wf_instances SET version = $1, state = $2, status = $3, lock_version = lock_version + 1, updated_at = $4 WHERE id = $5",
        )
        .bind(&request.to_version)
        .bind(&target.id)
        .bind(new_status)
        .bind(now.timestamp_millis())
        .bind(instance_id)
        .execute(&mut **tx)
        .await?;

        if let TimerChange::Rearm(dues) = &placement.timers {
            effects::cancel_timers(tx, instance_id).await?;
            for (index, due) in dues {
                effects::insert_timer(tx, instance_id, target, *index, *due, now).await?;
            }
        }

        let entry = HistoryEntry {
            kind: "migrated",
            event: None,
            event_id: None,
            from: Some(&state),
            to: Some(&target.id),
            detail: json!({ "from_version": request.from_version, "to_version": request.to_version, "by": by }),
        };
        effects::append_history(tx, instance_id, now.timestamp_millis(), &[entry]).await?;
        Ok(true)
    }

    async fn migration_versions(&self, request: &MigrationRequest) -> Result<Versions, EngineError> {
        let mut found = Vec::new();
        for version in [&request.from_version, &request.to_version] {
            let owner: Option<String> = sqlx::query_scalar("SELECT definition_id FROM wf_definitions WHERE version = $1 AND definition_id = $2")
                .bind(version)
                .bind(&request.definition_id)
                .fetch_optional(&self.db.pool)
                .await?;
            if owner.is_none() {
                return Err(EngineError::UnknownVersion(version.clone()));
            }
            found.push(self.definition_version(version).await?);
        }
        let new = found.pop().expect("two versions");
        let old = found.pop().expect("two versions");
        Ok(Versions { old, new, states: request.states.clone() })
    }

    /// Returns (id, state) of every running or paused instance pinned to `version`.
    async fn migratable(&self, definition_id: &str, version: &str) -> Result<Vec<(String, String)>, EngineError> {
        // NOTE: the whole list is read at once; a version with millions of running
        // instances would want a keyset-paged walk.
        let rows = sqlx::query(
            "SELECT id, state FROM wf_instances WHERE definition_id = $1 AND version = $2 AND status <> 'terminal' ORDER BY id",
        )
        .bind(definition_id)
        .bind(version)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// Returns when the instance last changed state: its start or its last transition
    /// into another state. Migrations and in-state transitions do not count, so a
    /// deadline measured from the entry keeps its date.
    async fn entered_state_at<'e, E: sqlx::Executor<'e, Database = Any>>(&self, executor: E, instance_id: &str) -> Result<DateTime<Utc>, EngineError> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT at FROM wf_history WHERE instance_id = $1 AND kind IN ('started', 'transition')
               AND (from_state IS NULL OR from_state <> to_state)
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(instance_id)
        .fetch_optional(executor)
        .await?;
        Ok(at.and_then(|ms| Utc.timestamp_millis_opt(ms).single()).unwrap_or_else(|| self.clock.now()))
    }

    async fn pending_timer_dues<'e, E: sqlx::Executor<'e, Database = Any>>(&self, executor: E, instance_id: &str) -> Result<Vec<i64>, EngineError> {
        Ok(sqlx::query_scalar("SELECT due_at FROM wf_timers WHERE instance_id = $1 AND status = 'pending'")
            .bind(instance_id)
            .fetch_all(executor)
            .await?)
    }
}

/// Decides where an instance in `state` lands, or the problem code (and target) that
/// forbids it.
fn place(
    versions: &Versions,
    state: &str,
    entered: DateTime<Utc>,
    pending: &[i64],
    now: DateTime<Utc>,
) -> Result<Placement, (&'static str, Option<String>)> {
    let target_id = versions.states.get(state).cloned().unwrap_or_else(|| state.to_string());
    let Some(target) = versions.new.state(&target_id) else {
        return Err(("MIGRATION_TARGET_MISSING", Some(target_id)));
    };
    if target.kind != StateKind::Terminal && target.timers.is_empty() && target.transitions.is_empty() {
        return Err(("MIGRATION_STRANDED", Some(target_id)));
    }
    if target.kind == StateKind::Active && target_id != state {
        return Err(("MIGRATION_ACTIVE_TARGET", Some(target_id)));
    }

    let unchanged = target_id == state && versions.old.state(state).is_some_and(|old| same_timers(&old.timers, &target.timers));
    let (timers, overdue) = if unchanged {
        let overdue = pending.iter().filter(|due| **due <= now.timestamp_millis()).count();
        (TimerChange::Keep, overdue)
    } else {
        let dues: Vec<(usize, DateTime<Utc>)> =
            (0..target.timers.len()).filter_map(|index| effects::due_at(target, index, entered, now).map(|due| (index, due))).collect();
        let overdue = dues.iter().filter(|(_, due)| *due <= now).count();
        (TimerChange::Rearm(dues), overdue)
    };
    if overdue > 1 {
        return Err(("MIGRATION_TIMER_OVERDUE_REPEATED", Some(target_id)));
    }
    Ok(Placement { target: target_id, timers, overdue })
}

fn same_timers(old: &[Timer], new: &[Timer]) -> bool {
    old.len() == new.len() && old.iter().zip(new).all(|(a, b)| timer_key(a) == timer_key(b))
}

fn timer_key(timer: &Timer) -> String {
    match &timer.when {
        TimerWhen::After(duration) => format!("after {} -> {}", duration.num_milliseconds(), timer.fire),
        TimerWhen::At(spec) => format!("at {} -> {}", spec.to_text(), timer.fire),
    }
}

fn add_problem(
    problems: &mut BTreeMap<(&'static str, String, Option<String>), MigrationProblem>,
    code: &'static str,
    from_state: &str,
    to_state: Option<String>,
    instance: Option<&String>,
) {
    let entry = problems.entry((code, from_state.to_string(), to_state.clone())).or_insert_with(|| MigrationProblem {
        code,
        from_state: from_state.to_string(),
        to_state,
        instances: 0,
        sample: Vec::new(),
    });
    if let Some(id) = instance {
        entry.instances += 1;
        if entry.sample.len() < 10 {
            entry.sample.push(id.clone());
        }
    }
}

fn short(version: &str) -> &str {
    &version[..version.len().min(12)]
}
