//! The drill's checks, run once the server has drained its work after the last kill:
//! no acknowledged step was lost, no side effect was produced twice for one
//! idempotency key, and every instance is finished or waiting for something.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use workers::provincial::sim::SimState;
use workflows::runtime::Engine;

use super::script::Acknowledged;

/// One check and what it found.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

fn check(name: &'static str, problems: Vec<String>) -> Check {
    let ok = problems.is_empty();
    let detail = if ok { String::new() } else { problems.into_iter().take(10).collect::<Vec<_>>().join("; ") };
    Check { name, ok, detail }
}

pub async fn run(engine: &Engine, sim: &SimState, data_dir: &Path, acknowledged: &[Acknowledged]) -> anyhow::Result<Vec<Check>> {
    Ok(vec![
        acknowledged_steps_kept(engine, acknowledged).await?,
        history_without_gaps(engine).await?,
        one_sms_per_key(data_dir),
        one_record_per_key(engine, sim).await?,
        credits_and_cards_once(engine).await?,
        every_instance_waits_or_ended(engine).await?,
    ])
}

/// Checks that every acknowledged session report is stored once, every acknowledged
/// enrollment has its instance, and a passed exam led to twenty credits.
async fn acknowledged_steps_kept(engine: &Engine, acknowledged: &[Acknowledged]) -> anyhow::Result<Check> {
    let pool = &engine.db.pool;
    let mut problems = Vec::new();
    for operator in acknowledged {
        let who = crate::demo::people::mask(&operator.mobile);
        let instance: Option<String> = sqlx::query_scalar("SELECT instance_id FROM enrollments WHERE id = $1").bind(&operator.enrollment_id).fetch_optional(pool).await?;
        if instance.is_none() {
            problems.push(format!("{who}: enrollment {} lost", operator.enrollment_id));
        }
        for statement in &operator.statements {
            let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM study_sessions WHERE statement_id = $1").bind(statement).fetch_one(pool).await?;
            if stored != 1 {
                problems.push(format!("{who}: session {statement} stored {stored} times"));
            }
        }
        if operator.exam_passed {
            let credits: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credits WHERE enrollment_id = $1").bind(&operator.enrollment_id).fetch_one(pool).await?;
            if credits != 20 {
                problems.push(format!("{who}: {credits} credits after a passed exam"));
            }
        }
    }
    Ok(check("acknowledged_steps_kept", problems))
}

/// Checks that every instance's history runs 1..=history_seq with no gap and no repeat.
async fn history_without_gaps(engine: &Engine) -> anyhow::Result<Check> {
    let rows = sqlx::query(
        "SELECT i.id, i.history_seq, COUNT(h.seq), MIN(h.seq), MAX(h.seq) FROM wf_instances i
         LEFT JOIN wf_history h ON h.instance_id = i.id GROUP BY i.id, i.history_seq",
    )
    .fetch_all(&engine.db.pool)
    .await?;
    let mut problems = Vec::new();
    for row in rows {
        let (id, last, count): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let (first, max): (Option<i64>, Option<i64>) = (row.get(3), row.get(4));
        if count != last || (count > 0 && (first != Some(1) || max != Some(last))) {
            problems.push(format!("instance {id}: history_seq {last}, {count} entries"));
        }
    }
    Ok(check("history_without_gaps", problems))
}

/// Checks that the SMS outbox contains each delivery key once. A line that a kill cut
/// short does not parse and is skipped, as the outbox's own reader skips it.
fn one_sms_per_key(data_dir: &Path) -> Check {
    let text = std::fs::read_to_string(data_dir.join("outbox/sms/sms-outbox.jsonl")).unwrap_or_default();
    let mut keys: HashMap<String, usize> = HashMap::new();
    for line in text.lines() {
        if let Ok(value) = serde_json::from_str::<Value>(line) {
            *keys.entry(value["idempotency_key"].as_str().unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    let problems = keys.into_iter().filter(|(_, n)| *n > 1).map(|(key, n)| format!("SMS key {key} written {n} times")).collect();
    check("one_sms_per_key", problems)
}

/// Checks that each finished sync entry reached the platform once, and that each
/// operator's records carry sequence numbers 1, 2, 3 … in order.
async fn one_record_per_key(engine: &Engine, sim: &SimState) -> anyhow::Result<Check> {
    let records = sim.records(None).await;
    let mut problems = Vec::new();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    let mut by_operator: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for stored in &records {
        *by_key.entry(stored.record.idempotency_key.as_str()).or_default() += 1;
        by_operator.entry(stored.record.operator_ref.as_str()).or_default().push(stored.record.sequence);
    }
    problems.extend(by_key.iter().filter(|(_, n)| **n > 1).map(|(key, n)| format!("record {key} stored {n} times")));
    for (operator, sequences) in &by_operator {
        let expected: Vec<u64> = (1..=sequences.len() as u64).collect();
        if *sequences != expected {
            problems.push(format!("operator {operator}: sequences {sequences:?}"));
        }
    }
    let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE kind = 'sync' AND status = 'done'").fetch_one(&engine.db.pool).await?;
    if done as usize != records.len() {
        problems.push(format!("{done} sync entries done, {} records at the platform", records.len()));
    }
    Ok(check("one_record_per_key", problems))
}

/// Checks for at most one valid card per enrollment, and exactly one when twenty
/// credits were earned.
async fn credits_and_cards_once(engine: &Engine) -> anyhow::Result<Check> {
    let rows = sqlx::query(
        "SELECT e.id, (SELECT COUNT(*) FROM credits c WHERE c.enrollment_id = e.id),
                (SELECT COUNT(*) FROM cards k WHERE k.enrollment_id = e.id AND k.revoked_at IS NULL)
         FROM enrollments e",
    )
    .fetch_all(&engine.db.pool)
    .await?;
    let mut problems = Vec::new();
    for row in rows {
        let (id, credits, cards): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if cards > 1 || (credits >= 20 && cards != 1) {
            problems.push(format!("enrollment {id}: {credits} credits, {cards} valid cards"));
        }
    }
    Ok(check("credits_and_cards_once", problems))
}

/// Checks that no instance is stuck and no incident is open: every instance has
/// finished, has a pending timer or action, or waits for a declared event.
async fn every_instance_waits_or_ended(engine: &Engine) -> anyhow::Result<Check> {
    let mut problems: Vec<String> = engine.check_stuck_instances().await?.into_iter().map(|id| format!("instance {id} is stuck")).collect();
    for incident in engine.incidents("open", 50).await? {
        problems.push(format!("incident {} on {}: {}", incident.id, incident.instance_id, incident.error));
    }
    Ok(check("every_instance_waits_or_ended", problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_written_twice_fails_the_check() {
        let dir = workflows::testing::TempDir::new();
        std::fs::create_dir_all(dir.path.join("outbox/sms")).unwrap();
        let line = r#"{"idempotency_key":"k1","to":"13800000000","template":"registered"}"#;
        let file = dir.path.join("outbox/sms/sms-outbox.jsonl");

        std::fs::write(&file, format!("{line}\n{{\"idempotency_key\":\"k2\"}}\n{{\"idempo")).unwrap();
        assert!(one_sms_per_key(&dir.path).ok, "distinct keys and a cut line pass");

        std::fs::write(&file, format!("{line}\n{line}\n")).unwrap();
        let check = one_sms_per_key(&dir.path);
        assert!(!check.ok);
        assert!(check.detail.contains("k1"), "{}", check.detail);
    }
}
