//! Jobs and job types: what the scheduler runs, and the trait through which the CLI
//! tells it where jobs come from and how one runs.

use std::fmt;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use rollcall_core::integration::Schedule;
use rollcall_store::{JobKind, JobStatus};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// What a run of a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobMode {
    /// An integration sync: fetch, map, write.
    Sync,
    /// A workflow that only records its plan.
    Plan,
    /// A workflow that acts (its file says `mode: apply`).
    Apply,
}

impl fmt::Display for JobMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobMode::Sync => "sync",
            JobMode::Plan => "plan",
            JobMode::Apply => "apply",
        })
    }
}

/// A run of the job that did not go through the scheduler (e.g. `rollcall run`), as the
/// job type knows it. The scheduler counts it as the job's last run when it is newer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunElsewhere {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How it ended (`completed`, `failed`, `running`).
    pub status: String,
}

/// One scheduled job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// What it is.
    pub kind: JobKind,
    /// The integration's or workflow's name; unique within its kind.
    pub name: String,
    /// When it runs.
    pub schedule: Schedule,
    /// What a run does.
    pub mode: JobMode,
    /// Its last run outside the scheduler, if the job type can tell.
    pub elsewhere: Option<RunElsewhere>,
}

/// How a job's run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// `Completed`, `Failed` or `Cancelled` (a run the stop token ended: nothing of it may
    /// be applied).
    pub status: JobStatus,
    /// A one-line summary or the error, for the log and `rollcall schedule`.
    pub message: Option<String>,
    /// The run it made (for integrations, a `rollcall runs` id).
    pub run_id: Option<i64>,
}

impl JobOutcome {
    /// A run that ended well.
    pub fn completed(message: impl Into<String>, run_id: Option<i64>) -> JobOutcome {
        JobOutcome {
            status: JobStatus::Completed,
            message: Some(message.into()),
            run_id,
        }
    }

    /// A run that failed.
    pub fn failed(message: impl Into<String>, run_id: Option<i64>) -> JobOutcome {
        JobOutcome {
            status: JobStatus::Failed,
            message: Some(message.into()),
            run_id,
        }
    }

    /// A run stopped by the stop token, with nothing applied.
    pub fn cancelled(message: impl Into<String>, run_id: Option<i64>) -> JobOutcome {
        JobOutcome {
            status: JobStatus::Cancelled,
            message: Some(message.into()),
            run_id,
        }
    }
}

/// A kind of job: where its jobs come from and how one runs. The CLI implements one per
/// kind (integration syncs now; workflows next) and hands the list to
/// [`plan`](crate::plan) and [`run_daemon`](crate::run_daemon).
pub trait JobType: Send + Sync + 'static {
    /// The kind of the jobs it lists.
    fn kind(&self) -> JobKind;

    /// Whether a run holds the store's write transaction for most of its length (an
    /// integration sync does: SQLite has one writer). Such runs go one at a time, so
    /// they never wait on each other's write lock; others run alongside them.
    fn holds_write_lock(&self) -> bool;

    /// The jobs of this kind as they are now. Read on every pass of the daemon, so
    /// applied, changed and removed files are picked up without a restart. An `Err` is a
    /// sentence; the daemon logs it and tries again on the next pass.
    fn jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, String>>;

    /// Runs one job to its end, or until `stop` is cancelled: then the run must stop
    /// soon, leave nothing half-applied and return a [`JobStatus::Cancelled`] outcome.
    /// The scheduler holds the job's lock meanwhile, so a job never overlaps itself.
    fn run(&self, job: Job, stop: CancellationToken) -> BoxFuture<'static, JobOutcome>;
}
