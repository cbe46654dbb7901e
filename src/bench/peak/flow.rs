//! The timed run: one goose user per exam-taker goes once through the exam flow, with a
//! think time between steps. Goose times every request from sending to the response
//! headers. Axum sends the headers once the handler is done, so the time covers the
//! server's work on loopback but not the reading of the body.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use domain::courseware::Question;
use goose::config::GooseConfiguration;
use goose::metrics::GooseMetrics;
use goose::prelude::*;
use serde_json::{Value, json};

use super::seed::ExamTaker;

/// The steps of the flow in order, as request names in the metrics.
pub const STEPS: [&str; 6] = ["consent", "start", "paper", "autosave", "submit", "result"];

/// Per-request timeout of the load generator.
const REQUEST_TIMEOUT_SECS: &str = "60";

pub struct FlowOptions {
    /// Users started per second.
    pub ramp_per_second: f64,
    pub autosaves: usize,
    pub think_min: Duration,
    pub think_max: Duration,
}

/// Results of the run: goose's metrics and the counts kept beside them.
pub struct FlowOutcome {
    pub metrics: GooseMetrics,
    /// From the first request sent to the last response received.
    pub wall: Duration,
    pub passed: usize,
    /// `step: status api-code` (or `step: transport`) → count.
    pub errors: BTreeMap<String, usize>,
    /// Steps not attempted because an earlier step of the same user failed.
    pub skipped: usize,
}

/// State shared by every user's transactions.
struct Context {
    takers: Vec<ExamTaker>,
    bank: HashMap<String, Question>,
    autosaves: usize,
    epoch: Instant,
    /// Nanoseconds since `epoch`: the first request sent, the last response received.
    first_sent: AtomicU64,
    last_received: AtomicU64,
    passed: AtomicUsize,
    skipped: AtomicUsize,
    errors: Mutex<BTreeMap<String, usize>>,
}

impl Context {
    fn error(&self, kind: String) {
        *self.errors.lock().unwrap_or_else(PoisonError::into_inner).entry(kind).or_default() += 1;
    }
}

/// One user's exam-taker and progress.
#[derive(Clone)]
struct Progress {
    taker: ExamTaker,
    attempt_id: Option<String>,
    /// The answers, one batch per autosave.
    batches: Vec<Value>,
    autosaved: usize,
}

/// Runs the flow for every exam-taker of `takers` against the API at `base_url`.
pub async fn run(base_url: &str, takers: Vec<ExamTaker>, bank: HashMap<String, Question>, options: &FlowOptions) -> anyhow::Result<FlowOutcome> {
    let users = takers.len();
    let context = Arc::new(Context {
        takers,
        bank,
        autosaves: options.autosaves.max(1),
        epoch: Instant::now(),
        first_sent: AtomicU64::new(u64::MAX),
        last_received: AtomicU64::new(0),
        passed: AtomicUsize::new(0),
        skipped: AtomicUsize::new(0),
        errors: Mutex::new(BTreeMap::new()),
    });

    let mut scenario = scenario!("ExamTaker").set_wait_time(options.think_min, options.think_max)?;
    scenario = scenario.register_transaction(transaction(&context, claim).set_name("claim").set_on_start());
    scenario = scenario.register_transaction(transaction(&context, consent).set_name("consent"));
    scenario = scenario.register_transaction(transaction(&context, start).set_name("start"));
    scenario = scenario.register_transaction(transaction(&context, paper).set_name("paper"));
    for _ in 0..context.autosaves {
        scenario = scenario.register_transaction(transaction(&context, autosave).set_name("autosave"));
    }
    scenario = scenario.register_transaction(transaction(&context, submit).set_name("submit"));
    scenario = scenario.register_transaction(transaction(&context, result).set_name("result"));

    let ramp = format!("{}", options.ramp_per_second.max(0.1));
    let stdout_guard = super::stdout_guard::StdoutToStderr::redirect()?;
    let metrics = GooseAttack::initialize_with_config(GooseConfiguration::default())?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, base_url)?
        .set_default(GooseDefault::Users, users)?
        .set_default(GooseDefault::IncreaseRate, ramp.as_str())?
        .set_default(GooseDefault::Iterations, 1usize)?
        .set_default(GooseDefault::Timeout, REQUEST_TIMEOUT_SECS)?
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .set_default(GooseDefault::NoErrorSummary, true)?
        .set_default(GooseDefault::Quiet, 1usize)?
        .execute()
        .await;
    drop(stdout_guard);
    let metrics = metrics?;

    let first = context.first_sent.load(Ordering::Relaxed);
    let last = context.last_received.load(Ordering::Relaxed);
    let wall = Duration::from_nanos(last.saturating_sub(if first == u64::MAX { last } else { first }));
    let errors = context.errors.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok(FlowOutcome { metrics, wall, passed: context.passed.load(Ordering::Relaxed), errors, skipped: context.skipped.load(Ordering::Relaxed) })
}

type Step = for<'r> fn(&'r mut GooseUser, Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + 'r>>;

/// Wraps `step` as a goose transaction with the shared context.
fn transaction(context: &Arc<Context>, step: Step) -> Transaction {
    let context = context.clone();
    let function: TransactionFunction = Arc::new(move |user| step(user, context.clone()));
    Transaction::new(function)
}

/// Gives the user the exam-taker of its index, so every user has its own operator.
fn claim(user: &mut GooseUser, context: Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>> {
    Box::pin(async move {
        let taker = context.takers[user.weighted_users_index % context.takers.len()].clone();
        user.set_session_data(Progress { taker, attempt_id: None, batches: Vec::new(), autosaved: 0 });
        Ok(())
    })
}

fn consent(user: &mut GooseUser, context: Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>> {
    Box::pin(async move {
        let enrollment_id = progress(user).taker.enrollment_id.clone();
        let body = json!({ "notice_version": api::proctoring::NOTICE_VERSION });
        call(user, &context, "consent", GooseMethod::Post, &format!("/api/enrollments/{enrollment_id}/proctoring-consent"), Some(&body)).await?;
        Ok(())
    })
}

fn start(user: &mut GooseUser, context: Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>> {
    Box::pin(async move {
        let enrollment_id = progress(user).taker.enrollment_id.clone();
        let Some(attempt) = call(user, &context, "start", GooseMethod::Post, &format!("/api/enrollments/{enrollment_id}/exam/start"), Some(&json!({}))).await? else {
            return Ok(());
        };
        let answers = crate::demo::answers::answer_paper(&attempt, &context.bank, true);
        let batches = split_answers(&answers, context.autosaves);
        let attempt_id = attempt["attempt_id"].as_str().map(str::to_string);
        if attempt_id.is_none() || batches.iter().all(|batch| batch.as_object().is_none_or(|map| map.is_empty())) {
            context.error("start: no attempt id or no question in the response".into());
        }
        let state = progress_mut(user);
        state.attempt_id = attempt_id;
        state.batches = batches;
        Ok(())
    })
}

fn paper(user: &mut GooseUser, context: Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>> {
    Box::pin(async move {
        let Some(attempt_id) = attempt(user, &context) else { return Ok(()) };
        if let Some(shown) = call(user, &context, "paper", GooseMethod::Get, &format!("/api/exams/{attempt_id}"), None).await? {
            if shown["questions"].as_array().is_none_or(Vec::is_empty) {
                context.error("paper: no question in the response".into());
            }
        }
        Ok(())
    })
}

fn autosave(user: &mut GooseUser, context: Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>> {
    Box::pin(async move {
        let Some(attempt_id) = attempt(user, &context) else { return Ok(()) };
        let state = progress_mut(user);
        let batch = state.batches.get(state.autosaved).cloned().unwrap_or_else(|| json!({}));
        state.autosaved += 1;
        call(user, &context, "autosave", GooseMethod::Put, &format!("/api/exams/{attempt_id}/answers"), Some(&json!({ "answers": batch }))).await?;
        Ok(())
    })
}

fn submit(user: &mut GooseUser, context: Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>> {
    Box::pin(async move {
        let Some(attempt_id) = attempt(user, &context) else { return Ok(()) };
        call(user, &context, "submit", GooseMethod::Post, &format!("/api/exams/{attempt_id}/submit"), Some(&json!({}))).await?;
        Ok(())
    })
}

fn result(user: &mut GooseUser, context: Arc<Context>) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransactionResult> + Send + '_>> {
    Box::pin(async move {
        let Some(attempt_id) = attempt(user, &context) else { return Ok(()) };
        if let Some(shown) = call(user, &context, "result", GooseMethod::Get, &format!("/api/exams/{attempt_id}"), None).await? {
            if shown["status"] == "submitted" && shown["passed"] == true {
                context.passed.fetch_add(1, Ordering::Relaxed);
            } else {
                // Every answer was correct, so anything but a pass is a wrong result.
                context.error(format!("result: status {} passed {}", shown["status"], shown["passed"]));
            }
        }
        Ok(())
    })
}

fn progress(user: &GooseUser) -> &Progress {
    user.get_session_data_unchecked::<Progress>()
}

fn progress_mut(user: &mut GooseUser) -> &mut Progress {
    user.get_session_data_unchecked_mut::<Progress>()
}

/// Returns the user's attempt id, or counts the step as skipped when the start failed.
fn attempt(user: &GooseUser, context: &Context) -> Option<String> {
    let attempt_id = progress(user).attempt_id.clone();
    if attempt_id.is_none() {
        context.skipped.fetch_add(1, Ordering::Relaxed);
    }
    attempt_id
}

/// Sends one request as the user's operator and returns its JSON body on success. A
/// failure is counted by kind and returns `None`, and goose records it in its metrics too.
async fn call(user: &mut GooseUser, context: &Context, step: &str, method: GooseMethod, path: &str, body: Option<&Value>) -> Result<Option<Value>, Box<TransactionError>> {
    let token = progress(user).taker.token.clone();
    let mut builder = user.get_request_builder(&method, path)?.bearer_auth(token).header("accept-language", "zh-CN");
    if let Some(body) = body {
        builder = builder.json(body);
    }
    let request = GooseRequest::builder().method(method).path(path).name(step).set_request_builder(builder).build();
    let sent = context.epoch.elapsed().as_nanos() as u64;
    context.first_sent.fetch_min(sent, Ordering::Relaxed);
    let goose = user.request(request).await?;
    context.last_received.fetch_max(context.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);

    let response = match goose.response {
        Ok(response) => response,
        Err(error) => {
            let kind = if error.is_timeout() { "timeout" } else if error.is_connect() { "connect" } else { "transport" };
            context.error(format!("{step}: {kind}"));
            return Ok(None);
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        let code = parsed.as_ref().and_then(|body| body["code"].as_str()).unwrap_or("-").to_string();
        context.error(format!("{step}: {} {code}", status.as_u16()));
        return Ok(None);
    }
    if parsed.is_none() {
        context.error(format!("{step}: body is not JSON"));
    }
    Ok(parsed)
}

/// Splits the answers into `batches` objects of about equal size, in question order.
fn split_answers(answers: &Value, batches: usize) -> Vec<Value> {
    let entries: Vec<(&String, &Value)> = answers.as_object().map(|map| map.iter().collect()).unwrap_or_default();
    let size = entries.len().div_ceil(batches.max(1)).max(1);
    let mut out: Vec<Value> = entries.chunks(size).map(|chunk| Value::Object(chunk.iter().map(|(id, answer)| ((*id).clone(), (*answer).clone())).collect())).collect();
    out.resize(batches.max(1), json!({}));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_split_into_every_batch() {
        let answers = json!({ "a": "A", "b": "B", "c": true, "d": "AC", "e": false });
        let batches = split_answers(&answers, 2);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].as_object().unwrap().len(), 3);
        assert_eq!(batches[1].as_object().unwrap().len(), 2);
    }

    #[test]
    fn fewer_answers_than_batches_leaves_empty_batches() {
        let batches = split_answers(&json!({ "a": "A" }), 3);
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].as_object().unwrap().len(), 1);
        assert!(batches[2].as_object().unwrap().is_empty());
    }
}
