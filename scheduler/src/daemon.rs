//! The daemon loop: every pass lists the jobs ([`plan`]), starts the due ones that are
//! not running anywhere, and sleeps until the next one is due, a run ends, the rescan
//! interval passes or the stop token is cancelled.
//!
//! - A job runs under its store lock ([`Store::try_lock_job`]), so it never overlaps
//!   itself, even with another daemon on the same data directory.
//! - At most `max_parallel` runs at once; runs that hold the store's write lock
//!   ([`JobType::holds_write_lock`], integration syncs) go one at a time among those.
//! - Stopping (the token cancelled): no new run starts; running ones get the token, end
//!   as cancelled with nothing applied, and are recorded; then [`run_daemon`] returns.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use rollcall_core::integration::schedule::Timing;
use rollcall_store::{JobKind, JobLock, JobStatus, Store, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::job::{Job, JobOutcome, JobType};
use crate::plan::plan;

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// How schedules without their own zone or time are read.
    pub timing: Timing,
    /// The most runs at once (at least 1).
    pub max_parallel: usize,
    /// Run what is due now, wait for it, and return (for tests and cron).
    pub once: bool,
    /// The longest sleep between passes, so new, changed and removed jobs are seen.
    pub rescan: Duration,
}

/// What a daemon did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaemonReport {
    /// Runs started.
    pub started: u32,
    /// Runs that completed.
    pub completed: u32,
    /// Runs that failed.
    pub failed: u32,
    /// Runs cancelled by the stop (rolled back).
    pub cancelled: u32,
    /// Jobs left alone because a run of them was live in another process (or that
    /// process held their lock).
    pub busy: u32,
}

type Key = (JobKind, String);

/// A run's end, sent back to the loop.
struct Done {
    key: Key,
    /// `None` when the run never started (stopped while it waited for its turn).
    status: Option<JobStatus>,
}

/// Runs due jobs until `stop` is cancelled (or, with `once`, until what was due has run).
/// Returns what it did. Errors only when the store cannot be read with `once` set;
/// otherwise store problems are logged and retried on the next pass.
pub async fn run_daemon(
    store: Store,
    types: Vec<Arc<dyn JobType>>,
    options: DaemonOptions,
    stop: CancellationToken,
) -> Result<DaemonReport, StoreError> {
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(options.max_parallel.max(1)));
    let writer = Arc::new(Semaphore::new(1));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut running: HashSet<Key> = HashSet::new();
    let mut tried: HashSet<Key> = HashSet::new();
    let mut report = DaemonReport::default();
    tracing::info!(
        jobs_at_once = options.max_parallel.max(1),
        zone = %options.timing.zone,
        daily_at = %format!("{:02}:{:02}", options.timing.daily_at.0, options.timing.daily_at.1),
        once = options.once,
        "scheduler started"
    );
    loop {
        if stop.is_cancelled() {
            break;
        }
        let now = Utc::now();
        let mut wake = now + options.rescan;
        let mut waiting_for_a_slot = false;
        match plan(&store, &types, &options.timing, now).await {
            Err(e) if options.once => return Err(e),
            Err(e) => tracing::warn!(error = %e, "cannot read the jobs; trying again later"),
            Ok((jobs, problems)) => {
                for p in problems {
                    tracing::warn!("{p}");
                }
                for planned in jobs {
                    let key = (planned.job.kind, planned.job.name.clone());
                    if running.contains(&key) || (options.once && tried.contains(&key)) {
                        continue;
                    }
                    if planned.running {
                        if tried.insert(key.clone()) {
                            tracing::info!(kind = %key.0, job = %key.1, "a run of it is live in another process; leaving it");
                            report.busy += 1;
                        }
                        continue;
                    }
                    if !planned.is_due(now) {
                        if let Some(t) = planned.next_run {
                            wake = wake.min(t);
                        }
                        continue;
                    }
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        waiting_for_a_slot = true;
                        continue;
                    };
                    let lock = match store.try_lock_job(key.0, &key.1) {
                        Ok(Some(lock)) => lock,
                        Ok(None) => {
                            tracing::info!(kind = %key.0, job = %key.1, "due, but another process is running it; leaving it");
                            report.busy += 1;
                            tried.insert(key);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(kind = %key.0, job = %key.1, error = %e, "cannot take the job's lock");
                            continue;
                        }
                    };
                    let Some(job_type) = types.iter().find(|t| t.kind() == key.0).cloned() else {
                        continue;
                    };
                    tried.insert(key.clone());
                    running.insert(key.clone());
                    let turn = job_type.holds_write_lock().then(|| writer.clone());
                    tracker.spawn(run_job(
                        RunJob {
                            job: planned.job,
                            job_type,
                            lock,
                            slot,
                            turn,
                            timing: options.timing,
                            stop: stop.clone(),
                        },
                        key,
                        done_tx.clone(),
                    ));
                }
            }
        }
        if options.once && running.is_empty() && !waiting_for_a_slot {
            break;
        }
        let sleep = (wake - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(options.rescan);
        tokio::select! {
            () = stop.cancelled() => break,
            Some(done) = done_rx.recv() => {
                finish(&mut running, &mut report, done);
                while let Ok(done) = done_rx.try_recv() {
                    finish(&mut running, &mut report, done);
                }
            }
            () = tokio::time::sleep(sleep) => {}
        }
    }
    if !running.is_empty() {
        tracing::info!(
            runs = running.len(),
            "stopping: waiting for the running jobs to roll back and record their end"
        );
    }
    tracker.close();
    tracker.wait().await;
    drop(done_tx);
    while let Some(done) = done_rx.recv().await {
        finish(&mut running, &mut report, done);
    }
    tracing::info!(
        started = report.started,
        completed = report.completed,
        failed = report.failed,
        cancelled = report.cancelled,
        "scheduler stopped"
    );
    Ok(report)
}

fn finish(running: &mut HashSet<Key>, report: &mut DaemonReport, done: Done) {
    running.remove(&done.key);
    if done.status.is_some() {
        report.started += 1;
    }
    match done.status {
        Some(JobStatus::Completed) => report.completed += 1,
        Some(JobStatus::Failed | JobStatus::Running) => report.failed += 1,
        Some(JobStatus::Cancelled) => report.cancelled += 1,
        None => {}
    }
}

/// Everything one run needs.
struct RunJob {
    job: Job,
    job_type: Arc<dyn JobType>,
    lock: JobLock,
    slot: OwnedSemaphorePermit,
    /// The store writers' turn to wait for, for runs that hold the write lock.
    turn: Option<Arc<Semaphore>>,
    timing: Timing,
    stop: CancellationToken,
}

async fn run_job(r: RunJob, key: Key, done: mpsc::UnboundedSender<Done>) {
    let status = run_one(r).await;
    let _ = done.send(Done { key, status });
}

async fn run_one(r: RunJob) -> Option<JobStatus> {
    let RunJob {
        job,
        job_type,
        lock,
        slot,
        turn,
        timing,
        stop,
    } = r;
    let _slot = slot;
    let _turn = match turn {
        Some(writers) => tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            permit = writers.acquire_owned() => permit.ok(),
        },
        None => None,
    };
    if stop.is_cancelled() {
        return None;
    }
    let started = Utc::now();
    let (kind, name) = (job.kind, job.name.clone());
    if let Err(e) = lock.started(started).await {
        tracing::warn!(%kind, job = %name, error = %e, "cannot record the start of the job; not running it now");
        return Some(JobStatus::Failed);
    }
    tracing::info!(%kind, job = %name, mode = %job.mode, schedule = %job.schedule, "job started");
    let schedule = job.schedule.clone();
    let outcome = AssertUnwindSafe(job_type.run(job, stop.clone()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| JobOutcome::failed("the job stopped with a panic", None));
    let next: Option<DateTime<Utc>> = schedule.next_run(Some(started), Utc::now(), &timing);
    let message = outcome.message.as_deref().unwrap_or("");
    let next_text = next.map_or_else(|| "never".to_owned(), |t| t.to_rfc3339());
    match outcome.status {
        JobStatus::Completed => {
            tracing::info!(%kind, job = %name, run = outcome.run_id, next = %next_text, "job completed: {message}");
        }
        JobStatus::Cancelled => {
            tracing::info!(%kind, job = %name, run = outcome.run_id, "job cancelled: {message}");
        }
        JobStatus::Failed | JobStatus::Running => {
            tracing::warn!(%kind, job = %name, run = outcome.run_id, next = %next_text, "job failed: {message}");
        }
    }
    let status = outcome.status;
    if let Err(e) = lock
        .finished(status, outcome.message.as_deref(), outcome.run_id, next)
        .await
    {
        tracing::warn!(%kind, job = %name, error = %e, "cannot record the end of the job");
    }
    Some(status)
}
