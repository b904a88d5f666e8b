//! Scheduled jobs: what the daemon last did with each job, and the lock that keeps two
//! runs of one job from overlapping, even across processes.
//!
//! The lock is an exclusive OS lock on a file beside the database
//! (`rollcall.db-job-<kind>-<hash of the name>.lock`), like a run's liveness lock (see
//! `run.rs`): the kernel releases it when the holder's process dies, however it dies, so
//! there is no lease to expire and no stale lock to clean up. Taking it needs no database
//! write, so it never waits behind a sync holding SQLite's write lock. Lock files are left
//! in place after use: deleting one while another process is about to lock it would let
//! two holders lock two different files.

use std::fs::File;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{RunStatus, Store, StoreError, time};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A sync of an integration.
    Integration,
    /// A workflow run.
    Workflow,
}

impl JobKind {
    /// The kind as stored and shown: `integration`, `workflow`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Integration => "integration",
            JobKind::Workflow => "workflow",
        }
    }

    fn parse(s: &str) -> Option<JobKind> {
        Some(match s {
            "integration" => JobKind::Integration,
            "workflow" => JobKind::Workflow,
            _ => return None,
        })
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a job's last run ended (or that it is still running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Started and not ended: live if [`JobRow::live`], else interrupted.
    Running,
    /// Ended well.
    Completed,
    /// Ended with an error.
    Failed,
    /// Stopped by a shutdown before it ended; nothing of it was applied.
    Cancelled,
}

impl JobStatus {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<JobStatus> {
        Some(match s {
            "running" => JobStatus::Running,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }
}

/// A job as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    /// What it does.
    pub kind: JobKind,
    /// The integration's or workflow's name.
    pub name: String,
    /// When its last run started.
    pub last_started_at: Option<DateTime<Utc>>,
    /// When its last run ended.
    pub last_finished_at: Option<DateTime<Utc>>,
    /// How its last run ended.
    pub last_status: Option<JobStatus>,
    /// What its last run said (an error, a summary).
    pub last_message: Option<String>,
    /// The run its last start made (for integrations, a `rollcall runs` id).
    pub last_run_id: Option<i64>,
    /// When the daemon that ran it last planned its next run.
    pub next_due_at: Option<DateTime<Utc>>,
    /// Whether a process holds the job's lock now (a run is live).
    pub live: bool,
}

/// The lock on one job, held while it runs. Dropping it releases the lock; so does the
/// death of the process.
#[derive(Debug)]
pub struct JobLock {
    store: Store,
    kind: JobKind,
    name: String,
    _file: File,
}

/// The lock file of a job: the name is hashed (FNV-1a, 64 bits), since it may hold any
/// character.
fn lock_path(store: &Store, kind: JobKind, name: &str) -> PathBuf {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut path = store.path().as_os_str().to_owned();
    path.push(format!("-job-{kind}-{hash:016x}.lock"));
    PathBuf::from(path)
}

/// Opens and tries to lock a job's lock file: `Some(file)` if we now hold it.
fn try_lock(path: &PathBuf) -> Result<Option<File>, StoreError> {
    let io = |action| {
        move |source| StoreError::Io {
            action,
            path: path.clone(),
            error: source,
        }
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(io("open the job lock file"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock the job lock file")(e)),
    }
}

macro_rules! select_jobs {
    ($tail:literal) => {
        concat!(
            "SELECT id, kind, name, last_started_at, last_finished_at, last_status, last_message,
                last_run_id, next_due_at FROM jobs",
            $tail
        )
    };
}

type Raw = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

impl Store {
    /// Takes the lock of a job. `None` when another run of the job holds it (in this
    /// process or another). Writes nothing to the database.
    pub fn try_lock_job(&self, kind: JobKind, name: &str) -> Result<Option<JobLock>, StoreError> {
        Ok(try_lock(&lock_path(self, kind, name))?.map(|file| JobLock {
            store: self.clone(),
            kind,
            name: name.to_owned(),
            _file: file,
        }))
    }

    /// Every recorded job, by kind and name, with whether it is running now.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        let rows: Vec<Raw> = sqlx::query_as(select_jobs!(" ORDER BY kind, name"))
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db("list the scheduled jobs"))?;
        rows.into_iter().map(|r| self.job_row(r)).collect()
    }

    /// One recorded job, if it ever ran under the daemon.
    pub async fn job(&self, kind: JobKind, name: &str) -> Result<Option<JobRow>, StoreError> {
        let row: Option<Raw> = sqlx::query_as(select_jobs!(" WHERE kind = ? AND name = ?"))
            .bind(kind.as_str())
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db(format!("read the {kind} job '{name}'")))?;
        row.map(|r| self.job_row(r)).transpose()
    }

    fn job_row(&self, r: Raw) -> Result<JobRow, StoreError> {
        let (id, kind, name, started, finished, status, message, run_id, next) = r;
        let when = |col: &str, v: Option<String>| {
            v.map(|s| time::parse(|| format!("{col} of job {id}"), &s))
                .transpose()
        };
        let kind = JobKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
            what: format!("kind of job {id}"),
            detail: format!("'{kind}' is not a job kind"),
        })?;
        // A probe: the lock is released again at once.
        let live = status.as_deref() == Some("running")
            && try_lock(&lock_path(self, kind, &name))?.is_none();
        Ok(JobRow {
            kind,
            last_started_at: when("last_started_at", started)?,
            last_finished_at: when("last_finished_at", finished)?,
            last_status: status
                .map(|s| {
                    JobStatus::parse(&s).ok_or_else(|| StoreError::Corrupt {
                        what: format!("status of job {id}"),
                        detail: format!("'{s}' is not a job status"),
                    })
                })
                .transpose()?,
            last_message: message,
            last_run_id: run_id,
            next_due_at: when("next_due_at", next)?,
            live,
            name,
        })
    }

    /// When the last real (not dry) run of an integration started, whoever started it,
    /// and its status (`Failed` for a run left `running` by a process that died).
    pub async fn last_run(
        &self,
        integration: &str,
    ) -> Result<Option<(DateTime<Utc>, RunStatus)>, StoreError> {
        let ctx = || format!("read the last run of integration '{integration}'");
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT id, started_at, status FROM runs WHERE integration = ? AND dry_run = 0 ORDER BY id DESC LIMIT 1",
        )
        .bind(integration)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db(ctx()))?;
        let Some((id, started, status)) = row else {
            return Ok(None);
        };
        let started = time::parse(|| format!("started_at of run {id}"), &started)?;
        let mut status = RunStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            what: format!("status of run {id}"),
            detail: format!("'{status}' is not a run status"),
        })?;
        // Left `running` by a process that died: the next `begin_run` marks it failed.
        if status == RunStatus::Running && !crate::run::is_live(self, id)? {
            status = RunStatus::Failed;
        }
        Ok(Some((started, status)))
    }
}

impl JobLock {
    /// The job's kind.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records that the job's run started at `at` (creating the job's row on first use).
    pub async fn started(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO jobs (kind, name, last_started_at, last_status) VALUES (?1, ?2, ?3, 'running')
             ON CONFLICT (kind, name) DO UPDATE SET last_started_at = ?3, last_finished_at = NULL,
                last_status = 'running', last_message = NULL, last_run_id = NULL",
        )
        .bind(self.kind.as_str())
        .bind(&self.name)
        .bind(time::fmt(at))
        .execute(self.store.pool())
        .await
        .map_err(StoreError::db(format!(
            "record the start of the {} job '{}'",
            self.kind, self.name
        )))?;
        Ok(())
    }

    /// Records how the run ended and when the job is due next, then releases the lock.
    pub async fn finished(
        self,
        status: JobStatus,
        message: Option<&str>,
        run_id: Option<i64>,
        next_due_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET last_finished_at = ?1, last_status = ?2, last_message = ?3,
                last_run_id = ?4, next_due_at = ?5 WHERE kind = ?6 AND name = ?7",
        )
        .bind(time::now())
        .bind(status.as_str())
        .bind(message)
        .bind(run_id)
        .bind(next_due_at.map(time::fmt))
        .bind(self.kind.as_str())
        .bind(&self.name)
        .execute(self.store.pool())
        .await
        .map_err(StoreError::db(format!(
            "record the end of the {} job '{}'",
            self.kind, self.name
        )))?;
        Ok(())
    }
}
