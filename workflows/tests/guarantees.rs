//! The engine's runtime guarantees, one named test each, on SQLite and on PostgreSQL.
//! Guarantees 6 (no second retry layer) and 7 (one side effect per idempotency key
//! when a late worker finishes) need the workers and are tested in `workers/tests`.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sqlx::Row;
use workflows::both_backends;
use workflows::clock::beijing_date;
use workflows::db::Db;
use workflows::definition::set::{DefinitionSet, Versioned};
use workflows::definition::validate::AnyEnvironment;
use workflows::runtime::migration::MigrationRequest;
use workflows::runtime::outbox::FailureOutcome;
use workflows::runtime::{Engine, EventIn, EventOutcome};
use workflows::SimClock;

const REMINDER: &str = include_str!("defs/reminder.yaml");
const REMINDER_V2: &str = include_str!("defs/reminder_v2.yaml");
const REMINDER_DEADLINES: &str = include_str!("defs/reminder_deadlines.yaml");

/// 08:00 Beijing time on 5 March 2026.
fn start_instant() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 0).unwrap()
}

fn versioned(source: &str) -> Versioned {
    let set = DefinitionSet::from_sources(vec![("pipelines/reminder.yaml".into(), source.into())], &AnyEnvironment);
    set.definitions.into_iter().next().expect("the definition parses")
}

async fn engine_at(db: Db, start: chrono::DateTime<Utc>) -> (Engine, SimClock) {
    let clock = SimClock::starting_at(start);
    let engine = Engine::new(db, Arc::new(clock.clone()));
    engine.publish(&versioned(REMINDER), "test", "").await.unwrap();
    (engine, clock)
}

async fn start(engine: &Engine, operator: &str) -> String {
    engine.start("reminder_loop", &[("operator", operator.to_string())], Default::default()).await.unwrap().id
}

async fn count(db: &Db, sql: &'static str, instance: &str) -> i64 {
    sqlx::query(sql).bind(instance).fetch_one(&db.pool).await.unwrap().get(0)
}

async fn fire_due(engine: &Engine) -> usize {
    let due = engine.due_timers(1000).await.unwrap();
    for timer in &due {
        engine.fire_timer(&timer.id).await.unwrap();
    }
    due.len()
}

both_backends!(guarantee_01_overdue_timer_fires_once_after_downtime, |db: Db| async move {
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    let id = start(&engine, "op-1").await;

    // Down for three days: three 09:00 Beijing reminders were missed.
    clock.advance(Duration::days(3));
    let due = engine.due_timers(100).await.unwrap();
    assert_eq!(due.len(), 1, "one timer row, however many periods passed");
    assert!(matches!(engine.fire_timer(&due[0].id).await.unwrap(), EventOutcome::Applied { .. }));
    assert_eq!(engine.fire_timer(&due[0].id).await.unwrap(), EventOutcome::Duplicate, "a timer fires once");

    assert!(engine.due_timers(100).await.unwrap().is_empty(), "nothing else is due now");
    let pending = engine.pending_timers(&id).await.unwrap();
    assert_eq!(pending.len(), 1);
    let next = Utc.timestamp_millis_opt(pending[0].1).unwrap();
    assert_eq!(next, Utc.with_ymd_and_hms(2026, 3, 8, 1, 0, 0).unwrap(), "the next 09:00 Beijing time, in the future");

    let instance = engine.instance(&id).await.unwrap();
    assert_eq!(instance.context["reminders"], 1, "one reminder, not three");
    let notifies = count(&db, "SELECT COUNT(*) FROM wf_outbox WHERE instance_id = $1 AND action LIKE '%credits_short%'", &id).await;
    assert_eq!(notifies, 1);
});

both_backends!(guarantee_02_timers_survive_restart, |db: Db| async move {
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    let id = start(&engine, "op-1").await;
    drop(engine);

    // The timer is an absolute instant in the database, not a sleeping task.
    let stored = count(&db, "SELECT due_at FROM wf_timers WHERE instance_id = $1 AND status = 'pending'", &id).await;
    assert_eq!(stored, Utc.with_ymd_and_hms(2026, 3, 5, 1, 0, 0).unwrap().timestamp_millis());

    // A new engine on the same database, as after a restart, finds and fires it.
    let restarted = Engine::new(db.clone(), Arc::new(clock.clone()));
    restarted.load_published().await.unwrap();
    clock.advance(Duration::hours(2));
    let due = restarted.due_timers(10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].instance_id, id);
    assert!(matches!(restarted.fire_timer(&due[0].id).await.unwrap(), EventOutcome::Applied { .. }));
    assert_eq!(restarted.instance(&id).await.unwrap().context["reminders"], 1);
});

both_backends!(guarantee_03_invalid_calendar_dates_rejected_at_validation, |db: Db| async move {
    for (date, line) in [("04-31 09:00", 23), ("02-29 09:00", 23), ("13-01 09:00", 23)] {
        let source = REMINDER.replace("at: \"09:00\"", &format!("at: \"{date}\""));
        let set = DefinitionSet::from_sources(vec![("pipelines/reminder.yaml".into(), source)], &AnyEnvironment);
        let found: Vec<_> = set.diagnostics.iter().filter(|d| d.code == "INVALID_CALENDAR_DATE").collect();
        assert_eq!(found.len(), 1, "{date}: {:?}", set.diagnostics);
        assert!(found[0].is_error());
        assert_eq!((found[0].file.as_str(), found[0].line), ("pipelines/reminder.yaml", line), "{date}");
        assert!(set.definitions.is_empty() || set.has_errors(), "an invalid date never reaches publishing");
    }

    // A valid yearly date always has a next firing within a year, so nothing waits forever.
    let source = REMINDER.replace("at: \"09:00\"", "at: \"12-31 09:00\"");
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    engine.publish(&versioned(&source), "test", "").await.unwrap();
    let id = start(&engine, "op-yearly").await;
    let due = engine.pending_timers(&id).await.unwrap()[0].1;
    assert_eq!(due, Utc.with_ymd_and_hms(2026, 12, 31, 1, 0, 0).unwrap().timestamp_millis());
    assert!(due - clock.now_utc().timestamp_millis() < Duration::days(366).num_milliseconds());
});

both_backends!(guarantee_04_beijing_calendar_across_midnights, |db: Db| async move {
    // 23:59 Beijing time is still 5 March; one minute later it is 6 March, while the UTC
    // date (5 March) has not changed. At UTC midnight (08:00 Beijing) nothing turns over.
    let before = Utc.with_ymd_and_hms(2026, 3, 5, 15, 59, 0).unwrap();
    assert_eq!(beijing_date(before), NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
    assert_eq!(beijing_date(before + Duration::minutes(1)), NaiveDate::from_ymd_opt(2026, 3, 6).unwrap());
    assert_eq!(beijing_date(Utc.with_ymd_and_hms(2026, 3, 6, 0, 0, 0).unwrap()), NaiveDate::from_ymd_opt(2026, 3, 6).unwrap());

    // An instance started at 00:30 Beijing time gets its 09:00 reminder that same
    // Beijing morning (01:00 UTC), not a day late as a UTC-dated rule would give.
    let (engine, clock) = engine_at(db.clone(), Utc.with_ymd_and_hms(2026, 3, 5, 16, 30, 0).unwrap()).await;
    let id = start(&engine, "op-night").await;
    assert_eq!(engine.pending_timers(&id).await.unwrap()[0].1, Utc.with_ymd_and_hms(2026, 3, 6, 1, 0, 0).unwrap().timestamp_millis());

    // Fired at 09:00 Beijing on 6 March, the next is 09:00 Beijing on 7 March.
    clock.advance_to(Utc.with_ymd_and_hms(2026, 3, 6, 1, 0, 0).unwrap());
    assert_eq!(fire_due(&engine).await, 1);
    assert_eq!(engine.pending_timers(&id).await.unwrap()[0].1, Utc.with_ymd_and_hms(2026, 3, 7, 1, 0, 0).unwrap().timestamp_millis());

    // A yearly 1 January 00:00 rule fires at 16:00 UTC on 31 December.
    let source = REMINDER.replace("at: \"09:00\"", "at: \"01-01 00:00\"");
    engine.publish(&versioned(&source), "test", "").await.unwrap();
    let yearly = start(&engine, "op-new-year").await;
    assert_eq!(engine.pending_timers(&yearly).await.unwrap()[0].1, Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap().timestamp_millis());
});

both_backends!(guarantee_05_definition_change_never_strands_an_instance, |db: Db| async move {
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    let v1 = versioned(REMINDER).version;
    let old = start(&engine, "op-old").await;
    let v2 = versioned(REMINDER_V2);
    engine.publish(&v2, "staff", "renamed waiting").await.unwrap();

    // The running instance stays pinned to v1 and still works; a new one takes v2.
    assert_eq!(engine.instance(&old).await.unwrap().version, v1);
    let new = start(&engine, "op-new").await;
    assert_eq!(engine.instance(&new).await.unwrap().state, "pending");
    engine.send(&old, EventIn::new("old-1", "credits_updated").with("credits", 5)).await.unwrap();
    assert_eq!(engine.instance(&old).await.unwrap().state, "waiting");

    // Without a map, `waiting` no longer exists in v2: the plan refuses, nothing moves.
    let mut request = MigrationRequest { definition_id: "reminder_loop".into(), from_version: v1.clone(), to_version: v2.version.clone(), ..Default::default() };
    let plan = engine.plan_migration(&request).await.unwrap();
    assert_eq!(plan.instances, 1);
    assert_eq!(plan.problems.len(), 1);
    assert_eq!((plan.problems[0].code, plan.problems[0].instances), ("MIGRATION_TARGET_MISSING", 1));
    assert_eq!(plan.problems[0].sample, vec![old.clone()]);
    let refused = engine.apply_migration(&request, "staff").await.unwrap();
    assert_eq!(refused.migrated, 0);
    assert_eq!(engine.instance(&old).await.unwrap().version, v1, "a refused plan changes nothing");

    // A state with no timer and no way out would strand the instance.
    request.states.insert("waiting".into(), "parked".into());
    let plan = engine.plan_migration(&request).await.unwrap();
    assert_eq!(plan.problems[0].code, "MIGRATION_STRANDED");

    // A typo in the map is reported, not ignored.
    request.states.clear();
    request.states.insert("waitng".into(), "pending".into());
    let codes: Vec<_> = engine.plan_migration(&request).await.unwrap().problems.iter().map(|p| p.code).collect();
    assert!(codes.contains(&"MIGRATION_UNKNOWN_SOURCE_STATE"), "{codes:?}");

    // The right map: one move, applied in one transaction, recorded in history.
    request.states.clear();
    request.states.insert("waiting".into(), "pending".into());
    let plan = engine.plan_migration(&request).await.unwrap();
    assert!(plan.is_safe(), "{:?}", plan.problems);
    assert_eq!((plan.moves[0].from_state.as_str(), plan.moves[0].to_state.as_str(), plan.moves[0].instances), ("waiting", "pending", 1));
    let applied = engine.apply_migration(&request, "staff").await.unwrap();
    assert_eq!(applied.migrated, 1);
    let moved = engine.instance(&old).await.unwrap();
    assert_eq!((moved.version.as_str(), moved.state.as_str()), (v2.version.as_str(), "pending"));
    assert_eq!(moved.context["credits"], 5, "context is kept");
    let last = engine.history(&old, 0, 100).await.unwrap().pop().unwrap();
    assert_eq!((last.kind.as_str(), last.from_state.as_deref(), last.to_state.as_deref()), ("migrated", Some("waiting"), Some("pending")));
    assert_eq!(engine.pending_timers(&old).await.unwrap().len(), 1, "the new state's timer is armed");

    // The migrated instance runs on v2 to the end.
    clock.advance(Duration::hours(2));
    assert_eq!(fire_due(&engine).await, 2, "both instances' 09:00 reminders");
    assert_eq!(engine.instance(&old).await.unwrap().context["reminders"], 1);
    engine.send(&old, EventIn::new("old-2", "finish")).await.unwrap();
    assert_eq!(engine.instance(&old).await.unwrap().status, "terminal");
});

both_backends!(guarantee_05_migration_refuses_timers_overdue_twice, |db: Db| async move {
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    let v1 = versioned(REMINDER).version;
    let id = start(&engine, "op-1").await;
    let deadlines = versioned(REMINDER_DEADLINES);
    engine.publish(&deadlines, "staff", "").await.unwrap();
    let request = MigrationRequest { definition_id: "reminder_loop".into(), from_version: v1.clone(), to_version: deadlines.version.clone(), ..Default::default() };

    // 90 minutes after entry, the new 1-hour timer is overdue: it fires once, at once.
    clock.advance(Duration::minutes(90));
    let plan = engine.plan_migration(&request).await.unwrap();
    assert!(plan.is_safe(), "{:?}", plan.problems);
    assert_eq!(plan.moves[0].timers_fire_at_once, 1);

    // Three hours after entry both new timers would be overdue: refused.
    clock.advance(Duration::minutes(90));
    let plan = engine.plan_migration(&request).await.unwrap();
    assert_eq!(plan.problems[0].code, "MIGRATION_TIMER_OVERDUE_REPEATED");
    assert_eq!(engine.apply_migration(&request, "staff").await.unwrap().migrated, 0);
    assert_eq!(engine.instance(&id).await.unwrap().version, v1);
});

both_backends!(guarantee_06_retry_delays_capped_with_jitter_on_the_clock, |db: Db| async move {
    // A 3-hour outage with a 1-minute doubling policy capped at 10 minutes, full jitter.
    let source = REMINDER.replace(
        "default: {initial: 10s, backoff: 2.0, max_interval: 5m, max_attempts: 4, jitter: none, non_retryable: [rejected]}",
        "default: {initial: 1m, backoff: 2.0, max_interval: 10m, max_attempts: 100, jitter: full, non_retryable: [rejected]}",
    );
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    engine.publish(&versioned(&source), "test", "").await.unwrap();
    start(&engine, "op-1").await;
    let outage_ends = clock.now_utc() + Duration::hours(3);
    let real_start = std::time::Instant::now();

    let mut delays = Vec::new();
    let mut attempts = 0;
    loop {
        let claimed = engine.claim_due_actions(&["notify"], 10).await.unwrap();
        let Some(entry) = claimed.into_iter().next() else {
            let next: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM wf_outbox WHERE status = 'pending'").fetch_one(&db.pool).await.unwrap();
            let next = next.expect("the entry is pending until it succeeds");
            delays.push(next - clock.now_utc().timestamp_millis());
            clock.advance_to(Utc.timestamp_millis_opt(next).unwrap());
            continue;
        };
        attempts += 1;
        if clock.now_utc() >= outage_ends {
            assert!(engine.complete_action(&entry.id, entry.attempt(), serde_json::json!({})).await.unwrap());
            break;
        }
        let outcome = engine.fail_action(&entry.id, entry.attempt(), "timeout", "gateway down").await.unwrap();
        assert!(matches!(outcome, FailureOutcome::RetryAt(_)), "attempt {attempts}: {outcome:?}");
    }

    // Every delay lies within [0, min(cap, 1 min * 2^(n-1))]; jitter makes them differ.
    for (n, delay) in delays.iter().enumerate() {
        let nominal = (60_000_i64 << n.min(20)).min(600_000);
        assert!((0..=nominal).contains(delay), "delay {n} = {delay} ms exceeds {nominal}");
    }
    let capped: Vec<_> = delays.iter().skip(4).collect();
    assert!(capped.windows(2).any(|pair| pair[0] != pair[1]), "full jitter varies the capped delays: {capped:?}");
    // At most 10 minutes apart, so at least 18 attempts in 3 hours.
    assert!(attempts >= 18, "a capped backoff keeps trying through the outage: {attempts} attempts");
    assert!(real_start.elapsed() < std::time::Duration::from_secs(60), "hours of outage pass on the clock, not in real time");
});

both_backends!(guarantee_06_non_retryable_error_stops_at_once, |db: Db| async move {
    let (engine, _) = engine_at(db, start_instant()).await;
    start(&engine, "op-1").await;
    let entry = engine.claim_due_actions(&["notify", "sync", "job"], 10).await.unwrap().remove(0);
    assert!(engine.claim_due_actions(&["notify", "sync", "job"], 10).await.unwrap().is_empty(), "a claimed attempt is not handed out twice");
    let outcome = engine.fail_action(&entry.id, 1, "rejected", "422 invalid record").await.unwrap();
    assert!(matches!(outcome, FailureOutcome::Incident(_)));
    let incident = engine.incidents("open", 10).await.unwrap().remove(0);
    assert_eq!(incident.attempts, 1, "one attempt, no retries");

    // A late report of the same attempt changes nothing.
    assert_eq!(engine.fail_action(&entry.id, 1, "timeout", "late").await.unwrap(), FailureOutcome::Stale);
    assert!(!engine.complete_action(&entry.id, 1, serde_json::json!({})).await.unwrap());
});

both_backends!(guarantee_08_early_twice_and_late_events_follow_declaration, |db: Db| async move {
    let (engine, _) = engine_at(db.clone(), start_instant()).await;
    let id = start(&engine, "op-1").await;

    let rejected = engine.send(&id, EventIn::new("e1", "early_bird_missing")).await.unwrap();
    assert!(matches!(rejected, EventOutcome::Rejected { ref reason, .. } if reason == "unknown_event"));
    assert_eq!(engine.send(&id, EventIn::new("e2", "noise")).await.unwrap(), EventOutcome::Ignored { state: "waiting".into() });

    // An early event waits in the inbox and applies once the state accepts it.
    assert_eq!(engine.send(&id, EventIn::new("e3", "early_bird")).await.unwrap(), EventOutcome::Queued { state: "waiting".into() });
    assert_eq!(engine.send(&id, EventIn::new("e3", "early_bird")).await.unwrap(), EventOutcome::Duplicate, "twice counts once");
    engine.send(&id, EventIn::new("e4", "unlock")).await.unwrap();
    assert_eq!(engine.instance(&id).await.unwrap().state, "done", "the queued event applied after unlock");

    // A late event after the end is rejected with a reason.
    let late = engine.send(&id, EventIn::new("e5", "finish")).await.unwrap();
    assert!(matches!(late, EventOutcome::Rejected { ref reason, .. } if reason == "instance_finished"));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM wf_history WHERE instance_id = $1 AND kind = 'rejected'", &id).await, 2);
});

both_backends!(guarantee_09_stuck_check_raises_incident, |db: Db| async move {
    let (engine, _) = engine_at(db.clone(), start_instant()).await;
    let id = start(&engine, "op-1").await;
    let waiting = start(&engine, "op-2").await;
    assert!(engine.check_stuck_instances().await.unwrap().is_empty(), "a timer or an awaited event is enough");

    // Nothing pending and a state that awaits nothing: that is stuck.
    sqlx::query("UPDATE wf_timers SET status = 'cancelled' WHERE instance_id = $1").bind(&id).execute(&db.pool).await.unwrap();
    sqlx::query("UPDATE wf_outbox SET status = 'done' WHERE instance_id = $1").bind(&id).execute(&db.pool).await.unwrap();
    sqlx::query("UPDATE wf_instances SET state = 'missing_state' WHERE id = $1").bind(&id).execute(&db.pool).await.unwrap();
    assert_eq!(engine.check_stuck_instances().await.unwrap(), vec![id.clone()]);
    assert!(engine.check_stuck_instances().await.unwrap().is_empty(), "reported once while open");
    let incident = engine.incidents("open", 10).await.unwrap().remove(0);
    assert_eq!((incident.instance_id.as_str(), incident.kind.as_str()), (id.as_str(), "stuck_instance"));
    assert_ne!(incident.instance_id, waiting);
});

both_backends!(guarantee_10_history_is_paged_and_never_loaded_by_transitions, |db: Db| async move {
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    let id = start(&engine, "op-1").await;

    // A year of daily reminders.
    for _ in 0..365 {
        clock.advance(Duration::days(1));
        assert_eq!(fire_due(&engine).await, 1);
    }
    assert_eq!(engine.instance(&id).await.unwrap().context["reminders"], 365);

    // Transitions never read old history: with every stored entry unreadable, the
    // next transition still applies.
    sqlx::query("UPDATE wf_history SET detail = 'not json' WHERE instance_id = $1").bind(&id).execute(&db.pool).await.unwrap();
    let outcome = engine.send(&id, EventIn::new("late-credit", "credits_updated").with("credits", 3)).await.unwrap();
    assert!(matches!(outcome, EventOutcome::Applied { .. }));
    sqlx::query("UPDATE wf_history SET detail = '{}' WHERE instance_id = $1").bind(&id).execute(&db.pool).await.unwrap();

    // History is read a page at a time, in order, without gaps.
    let mut after = 0;
    let mut seen = 0;
    loop {
        let page = engine.history(&id, after, 100).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 100);
        assert_eq!(page[0].seq, after + 1);
        after = page.last().unwrap().seq;
        seen += page.len();
    }
    assert_eq!(seen, 1 + 365 + 1, "start, 365 reminders, one credit update");
});

both_backends!(pause_holds_timers_actions_and_events_until_resume, |db: Db| async move {
    let (engine, clock) = engine_at(db.clone(), start_instant()).await;
    let id = start(&engine, "op-1").await;
    let other = start(&engine, "op-2").await;
    assert!(engine.pause(&id, "staff", "checking").await.unwrap());
    assert!(!engine.pause(&id, "staff", "again").await.unwrap(), "pausing twice changes nothing");

    // While paused: no timer fires, no action is handed out, events wait.
    clock.advance(Duration::hours(2));
    let due: Vec<_> = engine.due_timers(10).await.unwrap().into_iter().map(|t| t.instance_id).collect();
    assert_eq!(due, vec![other.clone()]);
    let claimed: Vec<_> = engine.claim_due_actions(&["notify"], 10).await.unwrap().into_iter().map(|e| e.instance_id).collect();
    assert_eq!(claimed, vec![other.clone()]);
    let queued = engine.send(&id, EventIn::new("p-1", "credits_updated").with("credits", 7)).await.unwrap();
    assert_eq!(queued, EventOutcome::Queued { state: "waiting".into() });
    assert_eq!(engine.check_stuck_instances().await.unwrap(), Vec::<String>::new(), "a paused instance is not stuck");

    assert_eq!(fire_due(&engine).await, 1, "the running instance's timer");

    // Resumed: the queued event applies, the overdue timer fires once, the action goes out.
    assert!(engine.resume(&id, "staff").await.unwrap());
    assert_eq!(engine.instance(&id).await.unwrap().context["credits"], 7);
    assert_eq!(fire_due(&engine).await, 1);
    assert_eq!(engine.instance(&id).await.unwrap().context["reminders"], 1);
    assert_eq!(engine.claim_due_actions(&["notify"], 10).await.unwrap().iter().filter(|e| e.instance_id == id).count(), 2);
    let kinds: Vec<_> = engine.history(&id, 0, 50).await.unwrap().into_iter().map(|h| h.kind).collect();
    assert!(kinds.contains(&"paused".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"resumed".to_string()), "{kinds:?}");
});

both_backends!(pause_and_resume_a_whole_version, |db: Db| async move {
    let (engine, _) = engine_at(db.clone(), start_instant()).await;
    let v1 = versioned(REMINDER).version;
    for n in 0..3 {
        start(&engine, &format!("op-{n}")).await;
    }
    assert_eq!(engine.pause_version("reminder_loop", &v1, "staff", "faulty version").await.unwrap(), 3);
    let paused = count(&db, "SELECT COUNT(*) FROM wf_instances WHERE status = 'paused' AND definition_id <> $1", "").await;
    assert_eq!(paused, 3);
    assert_eq!(engine.resume_version("reminder_loop", &v1, "staff").await.unwrap(), 3);
    assert_eq!(engine.resume_version("reminder_loop", &v1, "staff").await.unwrap(), 0);
});

both_backends!(published_version_is_immutable_and_start_up_keeps_staff_choice, |db: Db| async move {
    let (engine, _) = engine_at(db.clone(), start_instant()).await;
    let v1 = versioned(REMINDER);
    let v2 = versioned(REMINDER_V2);
    engine.publish(&v2, "staff", "renamed waiting").await.unwrap();

    // Start-up with the old file does not undo the newer version.
    assert_eq!(engine.publish_if_new(&v1, "startup", "").await.unwrap(), workflows::runtime::registry::Published::Superseded);
    assert_eq!(engine.latest_definition("reminder_loop").await.unwrap().0, v2.version);

    // Publishing v1 on purpose makes it the latest again; its stored text is unchanged.
    engine.publish(&v1, "staff", "back to v1").await.unwrap();
    let versions = engine.versions("reminder_loop").await.unwrap();
    assert_eq!(versions[0].version, v1.version);
    assert_eq!(versions[0].label, "提醒测试", "label and author stay as first published");
    assert_eq!(versions[1].label, "renamed waiting");
    assert_eq!(engine.version_source(&v1.version).await.unwrap(), REMINDER);

    // Another process reads a version it never loaded from the database.
    let other = Engine::new(db.clone(), engine.clock.clone());
    let (latest, definition) = other.latest_definition("reminder_loop").await.unwrap();
    assert_eq!((latest, definition.initial.as_str()), (v1.version.clone(), "waiting"));
});

both_backends!(same_event_sent_concurrently_applies_once, |db: Db| async move {
    let (engine, _clock) = engine_at(db.clone(), start_instant()).await;
    let id = start(&engine, "op-1").await;

    // Two requests deliver one event id at the same moment, as two devices or a retry
    // racing the original do: one applies it, and the other gets a duplicate outcome.
    for round in 0..10 {
        let event = EventIn::new(format!("credits-{round}"), "credits_updated").with("credits", round);
        let (first, second) = tokio::join!(engine.send(&id, event.clone()), engine.send(&id, event));
        let outcomes = [first.unwrap(), second.unwrap()];
        let applied = outcomes.iter().filter(|outcome| matches!(outcome, EventOutcome::Applied { .. })).count();
        assert_eq!(applied, 1, "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&EventOutcome::Duplicate), "round {round}: {outcomes:?}");
    }
});
