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
    /// SMS accepted by the provider stub through the signed template API.
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
    /// Papers holding a question of a course the operator had not completed when the
    /// summary was taken; the demo fails unless this is 0.
    pub papers_outside_studied_courses: i64,
    /// Papers holding a question that the bank did not publish for that course
    /// version, or whose exact version is missing.
    pub papers_with_unpublished_questions: i64,
    /// Study sessions whose hours a review decision cleared.
    pub sessions_voided: i64,
    /// Exam attempts whose score a review decision voided.
    pub scores_voided: i64,
    /// Internal training events (内部培训) approved, and the credits they awarded.
    pub training_events_approved: i64,
    pub training_credits: i64,
    /// Attendees credited by this run's internal training approval; not stored.
    #[serde(skip)]
    pub training_attendees_credited: usize,
    pub email_transport: &'static str,
    pub sms_transport: &'static str,
}

async fn count(world: &World, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(&world.engine.db.pool).await?)
}

/// Checks every stored paper against the operator's completed courses and the bank.
/// Returns (papers outside the studied courses, papers with a question version that
/// is missing or was drawn while not published).
async fn check_papers(world: &World) -> anyhow::Result<(i64, i64)> {
    let pool = &world.engine.db.pool;
    let rows: Vec<(String, String, i64)> = sqlx::query_as("SELECT a.paper, a.enrollment_id, a.started_at FROM exam_attempts a").fetch_all(pool).await?;
    let (mut outside, mut unpublished) = (0, 0);
    for (paper_text, enrollment_id, started_at) in rows {
        let paper: domain::exam::Paper = serde_json::from_str(&paper_text)?;
        let enrollment: (String, i64, String) = sqlx::query_as("SELECT operator_id, year, item_code FROM enrollments WHERE id = $1").bind(&enrollment_id).fetch_one(pool).await?;
        let row = workers::records::EnrollmentRow { id: enrollment_id, operator_id: enrollment.0, year: enrollment.1, item_code: enrollment.2 };
        let completed: std::collections::HashSet<String> = workers::records::completed_courses(pool, &row).await?.into_iter().collect();
        if paper.questions.iter().any(|question| !completed.contains(&question.course_code)) {
            outside += 1;
        }

        // A question version drawn by this paper must have been published before the
        // paper's start; the history records when.
        let mut bad = false;
        for question in &paper.questions {
            let published_at: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(at) FROM bank_history WHERE subject_kind = 'question' AND subject_id = $1 AND to_status = 'published'",
            )
            .bind(question.version_id())
            .fetch_one(pool)
            .await?;
            if published_at.is_none_or(|at| at > started_at) {
                bad = true;
            }
        }
        if bad {
            unpublished += 1;
        }
    }
    Ok((outside, unpublished))
}

pub async fn collect(world: &World, tally: &Tally) -> anyhow::Result<Summary> {
    let (papers_outside_studied_courses, papers_with_unpublished_questions) = check_papers(world).await?;
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
        papers_outside_studied_courses,
        papers_with_unpublished_questions,
        sessions_voided: count(world, "SELECT COUNT(*) FROM study_sessions WHERE status = 'voided'").await?,
        scores_voided: count(world, "SELECT COUNT(*) FROM exam_attempts WHERE review_status = 'voided'").await?,
        training_events_approved: count(world, "SELECT COUNT(*) FROM training_events WHERE status = 'approved'").await?,
        training_credits: count(world, "SELECT COUNT(*) FROM credits WHERE withdrawn_at IS NULL AND attempt_id LIKE 'training:%'").await?,
        training_attendees_credited: tally.training_attendees_credited,
        email_transport: if world.smtp_used { "smtp" } else { "file_outbox" },
        sms_transport: "signed_api_stub",
    })
}

/// Renders the summary for people, in zh-CN.
pub fn render_zh(summary: &Summary, labels: &Labels) -> String {
    let mut lines = vec![
        "演示年度结束，汇总如下：".to_string(),
        format!("  导入作业人员 {} 人，名册中拒绝 {} 行", summary.operators_imported, summary.rows_rejected),
        format!("  学习记录 {} 条，其中 {} 条被标记待审核；审核决定 {} 件", summary.study_sessions, summary.sessions_flagged, summary.review_decisions),
        format!("  审核清除学时的学习记录 {} 条，作废考试成绩 {} 次", summary.sessions_voided, summary.scores_voided),
        format!(
            "  考试 {} 次，其中未通过 {} 次；本次运行中因当天次数用完被拒绝 {} 次",
            summary.exam_attempts, summary.exams_failed, summary.attempts_refused_daily_limit
        ),
        format!(
            "  试卷核对：含未学完课程试题的试卷 {} 份，含未发布试题的试卷 {} 份（均应为 0）",
            summary.papers_outside_studied_courses, summary.papers_with_unpublished_questions
        ),
        format!(
            "  内部培训审核通过 {} 次，记入学分 {} 个（本次运行 {} 名参训人员获得学分）",
            summary.training_events_approved, summary.training_credits, summary.training_attendees_credited
        ),
        format!("  记入学分 {} 个，签发学分卡 {} 张", summary.credits_awarded, summary.cards_issued),
        format!("  省平台确认接收记录 {} 条", summary.sync_delivered),
        format!(
            "  发送邮件 {} 封（{}），短信 {} 条（经短信服务商接口模拟服务，模板签名请求）",
            summary.emails_sent,
            if summary.email_transport == "smtp" { "经 SMTP 服务器" } else { "写入文件发件箱" },
            summary.sms_sent
        ),
        format!("  待处理异常 {} 件", summary.incidents),
        "  各流程实例状态：".to_string(),
    ];
    for (definition, states) in &summary.instances_by_state {
        let definition_labels = labels.get(definition);
        let name = definition_labels.map_or(definition.as_str(), |(label, _)| label.as_str());
        let parts: Vec<String> = states
            .iter()
            .map(|(state, count)| {
                let state_name = definition_labels.and_then(|(_, states)| states.get(state)).map_or(state.as_str(), String::as_str);
                format!("{state_name} {count}")
            })
            .collect();
        lines.push(format!("    {name}：{}", parts.join("，")));
    }
    lines.join("\n")
}

/// Definition id → (its label, state id → state label), from the newest published
/// version of each definition, so that the summary names states as staff see them.
pub type Labels = BTreeMap<String, (String, BTreeMap<String, String>)>;

/// Reads the labels of every loaded definition.
pub fn labels(world: &World) -> Labels {
    let registry = &world.engine.registry;
    registry
        .definition_ids()
        .into_iter()
        .filter_map(|id| {
            let (_, definition) = registry.latest(&id)?;
            let states = definition.states.iter().map(|state| (state.id.clone(), state.label.clone())).collect();
            Some((id, (definition.label.clone(), states)))
        })
        .collect()
}
