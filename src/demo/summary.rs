//! The demo's closing summary: totals read from the database after the run (so a rerun
//! against the same database reports the same numbers), plus what only this run saw.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Tally;
use super::world::World;

#[derive(Serialize)]
pub struct Summary {
    pub operators_imported: i64,
    pub rows_rejected: usize,
    /// Definition → state → instances.
    pub instances_by_state: BTreeMap<String, BTreeMap<String, i64>>,
    pub credits_awarded: i64,
    pub cards_issued: i64,
    /// Records acknowledged by the provincial simulator.
    pub sync_delivered: i64,
    /// Emails accepted by the SMTP server, or written to the file outbox without `--smtp`.
    pub emails_sent: i64,
    pub sms_sent: i64,
    pub incidents: i64,
    pub study_sessions: i64,
    pub sessions_flagged: i64,
    pub exam_attempts: i64,
    pub exams_failed: i64,
    /// Starts refused by the daily limit in this run; not stored, so left out of the
    /// JSON, whose counts are all totals in the database.
    #[serde(skip)]
    pub attempts_refused_daily_limit: usize,
    pub review_decisions: i64,
    /// Study sessions whose hours a review decision cleared.
    pub sessions_voided: i64,
    /// Exam attempts whose score a review decision voided.
    pub scores_voided: i64,
    pub email_transport: &'static str,
}

async fn count(world: &World, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(&world.engine.db.pool).await?)
}

pub async fn collect(world: &World, tally: &Tally) -> anyhow::Result<Summary> {
    let mut instances_by_state: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (definition, state, instances) in world.engine.count_by_state().await? {
        instances_by_state.entry(definition).or_default().insert(state, instances);
    }
    Ok(Summary {
        operators_imported: count(world, "SELECT COUNT(*) FROM operators").await?,
        rows_rejected: tally.rows_rejected,
        instances_by_state,
        credits_awarded: count(world, "SELECT COUNT(*) FROM credits WHERE withdrawn_at IS NULL").await?,
        cards_issued: count(world, "SELECT COUNT(*) FROM cards").await?,
        sync_delivered: count(world, "SELECT COUNT(*) FROM sync_records WHERE status = 'delivered'").await?,
        emails_sent: count(world, "SELECT COUNT(*) FROM deliveries WHERE channel = 'email' AND status = 'sent'").await?,
        sms_sent: count(world, "SELECT COUNT(*) FROM deliveries WHERE channel = 'sms' AND status = 'sent'").await?,
        incidents: world.engine.incident_count().await?,
        study_sessions: count(world, "SELECT COUNT(*) FROM study_sessions").await?,
        sessions_flagged: count(world, "SELECT COUNT(*) FROM review_cases WHERE kind = 'session'").await?,
        exam_attempts: count(world, "SELECT COUNT(*) FROM exam_attempts").await?,
        exams_failed: count(world, "SELECT COUNT(*) FROM exam_attempts WHERE passed = 0").await?,
        attempts_refused_daily_limit: tally.attempts_refused,
        review_decisions: count(world, "SELECT COUNT(*) FROM review_cases WHERE status <> 'open'").await?,
        sessions_voided: count(world, "SELECT COUNT(*) FROM study_sessions WHERE status = 'voided'").await?,
        scores_voided: count(world, "SELECT COUNT(*) FROM exam_attempts WHERE review_status = 'voided'").await?,
        email_transport: if world.smtp_used { "smtp" } else { "file_outbox" },
    })
}

/// Renders the summary for people, in zh-CN.
pub fn render_zh(summary: &Summary) -> String {
    let mut lines = vec![
        "演示年度结束，汇总如下：".to_string(),
        format!("  导入作业人员 {} 人，名册中拒绝 {} 行", summary.operators_imported, summary.rows_rejected),
        format!("  学习记录 {} 条，其中 {} 条被标记待审核；审核决定 {} 件", summary.study_sessions, summary.sessions_flagged, summary.review_decisions),
        format!("  审核清除学时的学习记录 {} 条，作废考试成绩 {} 次", summary.sessions_voided, summary.scores_voided),
        format!(
            "  考试 {} 次，其中未通过 {} 次；本次运行中因当天次数用完被拒绝 {} 次",
            summary.exam_attempts, summary.exams_failed, summary.attempts_refused_daily_limit
        ),
        format!("  记入学分 {} 个，签发学分卡 {} 张", summary.credits_awarded, summary.cards_issued),
        format!("  省平台确认接收记录 {} 条", summary.sync_delivered),
        format!(
            "  发送邮件 {} 封（{}），短信 {} 条",
            summary.emails_sent,
            if summary.email_transport == "smtp" { "经 SMTP 服务器" } else { "写入文件发件箱" },
            summary.sms_sent
        ),
        format!("  待处理异常 {} 件", summary.incidents),
        "  各流程实例状态：".to_string(),
    ];
    for (definition, states) in &summary.instances_by_state {
        let parts: Vec<String> = states.iter().map(|(state, count)| format!("{state} {count}")).collect();
        lines.push(format!("    {definition}：{}", parts.join("，")));
    }
    lines.join("\n")
}
