//! Runs started from the page: each is a job running `rollcall_sync::run` in the
//! background, with its progress (records read) and its outcome, kept in memory so the
//! job's page can follow it to the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rollcall_core::observe::{Observer, PageEvent};
use rollcall_store::{Counts, Store};

use crate::state::Launcher;

/// Finished jobs kept for their pages.
const KEEP: usize = 100;

/// Where a job is.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    /// Preparing or running.
    Running,
    /// The run completed.
    Completed {
        /// The run's id.
        run_id: i64,
        /// Its counts.
        counts: Counts,
        /// Accounts marked not present.
        marked_absent: u64,
        /// Errors recorded (skipped records).
        errors: u64,
    },
    /// The run could not start or failed; nothing was changed.
    Failed {
        /// The run's id, when it got one.
        run_id: Option<i64>,
        /// Why.
        message: String,
    },
}

/// One run started from the page.
#[derive(Debug)]
pub struct Job {
    /// The job's number (this process only).
    pub id: u64,
    /// The integration run.
    pub integration: String,
    /// When it was started.
    pub started_at: DateTime<Utc>,
    read: AtomicU64,
    total: AtomicU64,
    state: Mutex<JobState>,
}

impl Job {
    /// Records read so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// The number of records the app announced, if it did.
    pub fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    /// The job's state now.
    pub fn state(&self) -> JobState {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set(&self, state: JobState) {
        match self.state.lock() {
            Ok(mut s) => *s = state,
            Err(p) => *p.into_inner() = state,
        }
    }
}

struct Progress(Arc<Job>);

impl Observer for Progress {
    fn page(&self, e: &PageEvent) {
        self.0.read.store(e.emitted, Ordering::Relaxed);
        if let Some(t) = e.total {
            self.0.total.store(t, Ordering::Relaxed);
        }
    }
}

/// The jobs of this server process.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Mutex<JobList>>,
}

#[derive(Default)]
struct JobList {
    next: u64,
    jobs: Vec<Arc<Job>>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, JobList> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The job with this number.
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.lock().jobs.iter().find(|j| j.id == id).cloned()
    }

    /// The running job of an integration, if any.
    pub fn running(&self, integration: &str) -> Option<Arc<Job>> {
        self.lock()
            .jobs
            .iter()
            .rev()
            .find(|j| j.integration == integration && j.state() == JobState::Running)
            .cloned()
    }

    /// Starts a run of `integration` in the background, unless one started here is
    /// still running (then that one is returned).
    pub fn start(&self, store: Store, launcher: Arc<dyn Launcher>, integration: &str) -> Arc<Job> {
        let job = {
            let mut list = self.lock();
            if let Some(j) = list
                .jobs
                .iter()
                .find(|j| j.integration == integration && j.state() == JobState::Running)
            {
                return j.clone();
            }
            list.next += 1;
            let job = Arc::new(Job {
                id: list.next,
                integration: integration.to_owned(),
                started_at: Utc::now(),
                read: AtomicU64::new(0),
                total: AtomicU64::new(0),
                state: Mutex::new(JobState::Running),
            });
            list.jobs.push(job.clone());
            let finished = list.jobs.len().saturating_sub(KEEP);
            if finished > 0 {
                let mut dropped = 0;
                list.jobs.retain(|j| {
                    let keep = dropped >= finished || j.state() == JobState::Running;
                    if !keep {
                        dropped += 1;
                    }
                    keep
                });
            }
            job
        };
        let running = job.clone();
        tokio::spawn(async move {
            let state = run(&store, launcher.as_ref(), running.clone()).await;
            running.set(state);
        });
        job
    }
}

async fn run(store: &Store, launcher: &dyn Launcher, job: Arc<Job>) -> JobState {
    let prepared = match launcher.prepare(&job.integration).await {
        Ok(p) => p,
        Err(message) => {
            return JobState::Failed {
                run_id: None,
                message,
            };
        }
    };
    let options = rollcall_sync::RunOptions {
        dry_run: false,
        sync_time: Utc::now(),
    };
    let result = rollcall_sync::run(
        store,
        &prepared.integration,
        prepared.connector,
        &prepared.inputs,
        options,
        Arc::new(Progress(job)),
    )
    .await;
    match result {
        Ok(report) => JobState::Completed {
            run_id: report.summary.id,
            counts: report.summary.counts,
            marked_absent: report.summary.marked_absent,
            errors: report.summary.errors,
        },
        Err(e) => JobState::Failed {
            run_id: e.run_id(),
            message: e.to_string(),
        },
    }
}
