//! The engine's figures: transitions, one-step instances, job-driven steps and job
//! pickup, on a platform built as `certflow serve` builds it, with small definitions
//! published for the bench.

use std::sync::Arc;
use std::time::{Duration, Instant};

use workers::queues::JobQueues;
use workers::runtime::{self, DEFAULT_POLL, Roles};
use workers::services::Services;
use workflows::clock::SystemClock;
use workflows::definition::set::DefinitionSet;
use workflows::definition::validate::AnyEnvironment;
use workflows::runtime::{Engine, EventIn, EventOutcome, Instance};
use workflows::testing::TempDir;

use super::measure::{Measurement, measure_concurrent, summarize};
use crate::config::Config;
use crate::platform;

/// Two states that swap on `flip`: each event is one transition with history and no
/// side effect.
const LOOP: &str = "id: bench_loop\nlabel: 基准测试·往返\nsubject: [key]\ninitial: idle\nevents:\n  flip: {}\nstates:\n  idle:\n    on:\n      flip: busy\n  busy:\n    on:\n      flip: idle\n";

/// Started and finished by one event.
const ONE_STEP: &str = "id: bench_one_step\nlabel: 基准测试·单步\nsubject: [key]\ninitial: open\nevents:\n  finish: {}\nstates:\n  open:\n    on:\n      finish: done\n  done:\n    kind: terminal\n";

/// Each `go` is an internal transition that queues one `noop` job.
const JOB_STEP: &str = "id: bench_job_step\nlabel: 基准测试·作业步骤\nsubject: [key]\ninitial: ready\nevents:\n  go: {}\nretry_policies:\n  default: {initial: 1s, backoff: 2.0, max_interval: 10s, max_attempts: 3}\nstates:\n  ready:\n    on:\n      go:\n        to: ready\n        do:\n          - job: noop\n";

/// Instances each concurrent task cycles through, so tasks do not contend on one row.
const INSTANCES_PER_TASK: usize = 16;

/// A platform on a fresh database, with the bench definitions published.
pub struct Bed {
    pub engine: Engine,
    pub services: Arc<Services>,
    pub queues: JobQueues,
    _dir: TempDir,
}

impl Bed {
    pub async fn open(database_url: &str) -> anyhow::Result<Bed> {
        let dir = TempDir::new();
        let config = Config {
            database_url: database_url.to_string(),
            data_dir: dir.path.join("data"),
            definitions_dir: None,
            smtp: None,
            mail_from: "certflow-bench@localhost".into(),
            sms_gateway: None,
            sms_api: None,
            provincial: None,
            s3: None,
            real_name: None,
        };
        let platform = platform::build(&config, Arc::new(SystemClock)).await?;
        let set = DefinitionSet::from_sources(
            vec![("bench/loop.yaml".into(), LOOP.into()), ("bench/one_step.yaml".into(), ONE_STEP.into()), ("bench/job_step.yaml".into(), JOB_STEP.into())],
            &AnyEnvironment,
        );
        if set.has_errors() {
            anyhow::bail!("bench definitions are invalid: {:?}", set.diagnostics);
        }
        for versioned in &set.definitions {
            platform.engine.publish(versioned, "bench", "").await?;
        }
        let queues = JobQueues::connect(database_url).await?;
        Ok(Bed { engine: platform.engine, services: platform.services, queues, _dir: dir })
    }

    async fn start_many(&self, definition: &str, prefix: &str, count: usize) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let instance: Instance = self.engine.start(definition, &[("key", format!("{prefix}-{n}"))], Default::default()).await?;
            ids.push(instance.id);
        }
        Ok(ids)
    }
}

/// Transitions from `tasks` concurrent tasks; latency is event to commit.
pub async fn transitions(bed: &Bed, budget: Duration, min_calls: usize, tasks: usize) -> anyhow::Result<Measurement> {
    let ids = Arc::new(bed.start_many("bench_loop", "loop", tasks * INSTANCES_PER_TASK).await?);
    let engine = bed.engine.clone();
    measure_concurrent(budget, min_calls, tasks, move |task, call| {
        let engine = engine.clone();
        let ids = ids.clone();
        async move {
            let id = &ids[task * INSTANCES_PER_TASK + call % INSTANCES_PER_TASK];
            let outcome = engine.send(id, EventIn::new(format!("flip-{task}-{call}"), "flip")).await?;
            anyhow::ensure!(matches!(outcome, EventOutcome::Applied { .. }), "flip not applied: {outcome:?}");
            Ok(())
        }
    })
    .await
}

/// One-step instances from `tasks` concurrent tasks: start, one event, terminal.
pub async fn one_step_instances(bed: &Bed, budget: Duration, min_calls: usize, tasks: usize) -> anyhow::Result<Measurement> {
    let engine = bed.engine.clone();
    let run = uuid::Uuid::new_v4().simple().to_string();
    measure_concurrent(budget, min_calls, tasks, move |task, call| {
        let engine = engine.clone();
        let key = format!("{run}-{task}-{call}");
        async move {
            let instance = engine.start("bench_one_step", &[("key", key)], Default::default()).await?;
            let outcome = engine.send(&instance.id, EventIn::new(format!("finish-{}", instance.id), "finish")).await?;
            anyhow::ensure!(matches!(outcome, EventOutcome::Applied { .. }), "finish not applied: {outcome:?}");
            Ok(())
        }
    })
    .await
}

/// Job-driven steps and job pickup, with the workers of one `serve --role worker`
/// running in this process.
pub struct JobFigures {
    pub steps: Measurement,
    pub pickup: Measurement,
}

/// Sends `steps` `go` events from `tasks` tasks and waits for every `noop` job to be
/// done, for steps per second from the first event to the last job done. Then, with the
/// workers idle, it measures `pickup_samples` times from one event's commit to its job
/// done.
pub async fn job_steps(bed: &Bed, steps: usize, tasks: usize, pickup_samples: usize) -> anyhow::Result<JobFigures> {
    let ids = Arc::new(bed.start_many("bench_job_step", "job", tasks * INSTANCES_PER_TASK + 1).await?);
    let handle = runtime::start(bed.services.clone(), bed.queues.clone(), Roles { workers: true, scheduler: false }, DEFAULT_POLL);
    let result = measure_jobs(bed, &ids, steps, tasks, pickup_samples).await;
    handle.stop().await;
    result
}

async fn measure_jobs(bed: &Bed, ids: &Arc<Vec<String>>, steps: usize, tasks: usize, pickup_samples: usize) -> anyhow::Result<JobFigures> {
    let done_before = done_jobs(bed).await?;
    let started = Instant::now();
    let per_task = steps.div_ceil(tasks.max(1));
    let mut senders = Vec::new();
    for task in 0..tasks.max(1) {
        let engine = bed.engine.clone();
        let ids = ids.clone();
        senders.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for call in 0..per_task {
                let id = &ids[task * INSTANCES_PER_TASK + call % INSTANCES_PER_TASK];
                let sent = Instant::now();
                engine.send(id, EventIn::new(format!("go-{task}-{call}"), "go")).await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for sender in senders {
        latencies.extend(sender.await??);
    }
    let total = per_task * tasks.max(1);
    wait_for_done(bed, done_before + total as i64, Duration::from_secs(300)).await?;
    let steps = summarize(latencies, total, started.elapsed());

    // Pickup on an idle system: one event at a time on an instance of its own.
    let pickup_instance = ids.last().expect("one instance kept for pickup");
    let mut pickups = Vec::new();
    for sample in 0..pickup_samples {
        let expected = done_jobs(bed).await? + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        bed.engine.send(pickup_instance, EventIn::new(format!("pickup-{sample}"), "go")).await?;
        let committed = Instant::now();
        wait_for_done(bed, expected, Duration::from_secs(30)).await?;
        pickups.push(committed.elapsed());
    }
    let count = pickups.len();
    let wall = pickups.iter().sum();
    Ok(JobFigures { steps, pickup: summarize(pickups, count, wall) })
}

async fn done_jobs(bed: &Bed) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE kind = 'job' AND status = 'done'").fetch_one(&bed.engine.db.pool).await?)
}

/// Polls every millisecond until `expected` jobs are done.
async fn wait_for_done(bed: &Bed, expected: i64, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let done = done_jobs(bed).await?;
        if done >= expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("{done} of {expected} bench jobs done after {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
