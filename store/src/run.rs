//! Integration runs: the run writer ([`RunGuard`]) and the run log.
//!
//! A run's data goes into ONE SQLite write transaction, started at the first write and held
//! by the guard until [`RunGuard::finish`] or [`RunGuard::fail`]. If the process dies, SQLite
//! discards the uncommitted transaction, so the previous state stays as it was. The run row
//! is written in its own small transactions: `running` at [`Store::begin_run`], the final
//! status at the end (for a real, successful run, in the data transaction itself, so data
//! and status commit together).
//!
//! Liveness: while a run is live, its process holds an exclusive OS lock on a file beside the
//! database (`rollcall.db-run-<id>.lock`). The kernel drops that lock when the process dies,
//! whatever the cause, so [`Store::begin_run`] can tell a live run from one left `running` by a
//! dead process (which it marks failed) without relying on pids, which get reused, or on
//! heartbeats, which cannot be committed while the run holds SQLite's write lock.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};

use crate::users::UserKey;

mod batch;
mod digest;
mod enrich;
mod fields;
mod fresh;

use crate::{Store, StoreError, time};
pub use enrich::Enrichment;
pub use fields::AccountFields;

macro_rules! select_runs {
    ($tail:literal) => {
        concat!(
            "SELECT id, integration, started_at, finished_at, status, dry_run, complete, fetched, created,
                updated, unchanged, skipped, failed, marked_absent, message, pid, heartbeat_at FROM runs",
            $tail
        )
    };
}

/// At most this many errors are kept per run; further ones are only counted.
const MAX_RUN_ERRORS: usize = 10_000;

/// The message of a run found `running` after its process died.
pub const INTERRUPTED: &str = "interrupted: the process stopped before the run finished";

/// What to do with records whose person is not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// Only update people who exist; skip the others.
    UpdateOnly,
    /// Create people who do not exist, update those who do.
    CreateAndUpdate,
}

/// What a run writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The person and their account in the app.
    UserPlusSaasUser,
    /// Only the person.
    UserOnly,
}

/// Where in a run a record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Fetching pages from the app.
    Fetch,
    /// Extracting records from a page.
    Extract,
    /// A plugin's record transform dropped the record.
    Plugin,
    /// Mapping a record's fields.
    Map,
    /// Storing the record (including records skipped because no person matched).
    Store,
}

impl Stage {
    /// The stage's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Extract => "extract",
            Stage::Plugin => "plugin",
            Stage::Map => "map",
            Stage::Store => "store",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "fetch" => Stage::Fetch,
            "extract" => Stage::Extract,
            "plugin" => Stage::Plugin,
            "map" => Stage::Map,
            "store" => Stage::Store,
            _ => return None,
        })
    }
}

/// How a run applies records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncOptions {
    /// The app, e.g. "Miro".
    pub app: String,
    /// The app instance (e.g. the Miro organisation), which scopes external ids.
    pub instance: String,
    /// Whether people may be created.
    pub preference: Preference,
    /// Whether accounts are stored too.
    pub selection: Selection,
    /// The role given to people created by the run.
    pub role: Option<String>,
    /// The user field records are matched on.
    pub sync_key: UserKey,
    /// The `source` written on people created by the run, e.g. "integration:Miro Users".
    pub source: String,
}

/// One account record from an app, already mapped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IncomingAccount {
    /// The app's id for this account.
    pub external_id: String,
    /// The record's value for the sync key (e.g. its username).
    pub sync_value: Option<String>,
    /// Mapped person fields: `username`, `email`, `first_name`, `last_name`, and custom keys.
    pub user_fields: std::collections::BTreeMap<String, Value>,
    /// The account's username in the app.
    pub username: Option<String>,
    /// The account's type, e.g. "Full".
    pub user_type: Option<String>,
    /// Whether the account is active.
    pub active: Option<bool>,
    /// The account's roles in the app.
    pub roles: Vec<String>,
    /// When the account was last active.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Every field of the record (computed ones aside), in the stream's order.
    pub fields: AccountFields,
}

/// What [`RunGuard::apply`] did with a record.
///
/// `Created` when the person or the account was created, `Updated` when either changed,
/// `Unchanged` when only the seen timestamps moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Something new was stored.
    Created,
    /// Something stored changed.
    Updated,
    /// Nothing but timestamps changed.
    Unchanged,
    /// Nothing was stored; the sentence says why. Also recorded in the run's errors.
    Skipped(String),
}

/// A run's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Records fetched from the app.
    pub fetched: u64,
    /// Records that created something.
    pub created: u64,
    /// Records that changed something.
    pub updated: u64,
    /// Records that changed nothing.
    pub unchanged: u64,
    /// Records skipped.
    pub skipped: u64,
    /// Records that failed before they could be applied.
    pub failed: u64,
}

/// A run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Live, or left behind by a process that died (until the next `begin_run` notices).
    Running,
    /// Finished; its data is committed (or, for a dry run, was computed and discarded).
    Completed,
    /// Failed or interrupted; its data was rolled back.
    Failed,
    /// Stopped on request (a signal) before it finished; its data was rolled back.
    Cancelled,
}

impl RunStatus {
    /// The status's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => return None,
        })
    }
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: i64,
    /// Whether the data was discarded.
    pub dry_run: bool,
    /// Whether the run saw every account (and so marked unseen ones not present).
    pub complete: bool,
    /// The counts recorded.
    pub counts: Counts,
    /// Accounts marked not present because this complete run did not see them.
    pub marked_absent: u64,
    /// Errors recorded for the run.
    pub errors: u64,
    /// Errors beyond the per-run limit, counted but not recorded.
    pub errors_dropped: u64,
}

/// A run as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// The run's id.
    pub id: i64,
    /// The integration's name.
    pub integration: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its state.
    pub status: RunStatus,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Whether it saw every account.
    pub complete: bool,
    /// Its counters.
    pub counts: Counts,
    /// Accounts it marked not present.
    pub marked_absent: u64,
    /// Why it failed, or a note.
    pub message: Option<String>,
    /// The process that ran it.
    pub pid: i64,
    /// The last sign of life recorded (start and end of the run).
    pub heartbeat_at: DateTime<Utc>,
}

/// One error of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunErrorRow {
    /// Row id.
    pub id: i64,
    /// The run.
    pub run_id: i64,
    /// The record, e.g. its external id.
    pub record_key: String,
    /// Where it failed.
    pub stage: Stage,
    /// Why.
    pub reason: String,
}

/// The writer of one live run. Obtain it from [`Store::begin_run`]; end it with
/// [`finish`](RunGuard::finish) or [`fail`](RunGuard::fail). Dropping it without either
/// rolls the data back; the run row stays `running` until the next `begin_run` of the same
/// integration marks it failed as interrupted.
pub struct RunGuard {
    store: Store,
    id: i64,
    integration: String,
    dry_run: bool,
    tx: Option<Transaction<'static, Sqlite>>,
    lock: Option<(File, PathBuf)>,
    errors: Vec<(String, Stage, String)>,
    errors_dropped: u64,
    instances: BTreeSet<(String, String)>,
    custom_keys_seen: HashSet<String>,
    /// What one batch carries to the next: the next free ids, what it changed, and its
    /// writes until they run (see `batch`).
    pipeline: batch::Pipeline,
    /// The run's start time: every person and account the run writes or sees gets this
    /// one timestamp, so "seen by run R" reads alike on all of them.
    started_at: String,
    tally: Counts,
    ended: bool,
}

impl std::fmt::Debug for RunGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunGuard")
            .field("id", &self.id)
            .field("integration", &self.integration)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

fn lock_path(store: &Store, run_id: i64) -> PathBuf {
    let mut name = store.path().as_os_str().to_owned();
    name.push(format!("-run-{run_id}.lock"));
    PathBuf::from(name)
}

const LIVE_RUNS: &str =
    "SELECT id, started_at FROM runs WHERE integration = ? AND status = 'running'";

/// Whether the process of a `running` run still holds its lock (a probe: the lock is
/// released again at once).
pub(crate) fn is_live(store: &Store, run_id: i64) -> Result<bool, StoreError> {
    Ok(try_lock(&lock_path(store, run_id))?.is_none())
}

/// Opens and tries to lock a run's lock file: `Some(file)` if we now hold it.
fn try_lock(path: &PathBuf) -> Result<Option<File>, StoreError> {
    let io = |action| {
        move |source| StoreError::Io {
            action,
            path: path.clone(),
            error: source,
        }
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io("open the run lock file"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock the run lock file")(e)),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Starts a run of `integration`. Refuses with [`StoreError::RunInProgress`] while a live
    /// run of the same integration exists; a run left `running` by a dead process is marked
    /// failed ("interrupted: …") and does not block.
    pub async fn begin_run(
        &self,
        integration: &str,
        dry_run: bool,
    ) -> Result<RunGuard, StoreError> {
        let ctx = || format!("start a run of integration '{integration}'");
        // First a plain read (WAL readers never wait for the writer), so that a live run is
        // reported at once even while it holds SQLite's write lock.
        let live: Vec<(i64, String)> = sqlx::query_as(LIVE_RUNS)
            .bind(integration)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db(ctx()))?;
        for (run_id, started_at) in live {
            if is_live(self, run_id)? {
                return Err(StoreError::RunInProgress {
                    integration: integration.to_owned(),
                    run_id,
                    started_at,
                });
            }
        }
        // Then check again and insert under the write lock, so two starts cannot both win.
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await.map_err(StoreError::db(format!(
            "start a run of integration '{integration}' (waiting for the database's write lock, which another run may hold)"
        )))?;
        let live: Vec<(i64, String)> = sqlx::query_as(LIVE_RUNS)
            .bind(integration)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db(ctx()))?;
        let now = time::now();
        for (run_id, started_at) in live {
            let path = lock_path(self, run_id);
            match try_lock(&path)? {
                None => {
                    return Err(StoreError::RunInProgress {
                        integration: integration.to_owned(),
                        run_id,
                        started_at,
                    });
                }
                Some(file) => {
                    tracing::warn!(
                        run_id,
                        integration,
                        "marking a run left running by a dead process as failed"
                    );
                    sqlx::query(
                        "UPDATE runs SET status = 'failed', finished_at = ?1, message = ?2 WHERE id = ?3",
                    )
                    .bind(&now)
                    .bind(INTERRUPTED)
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db(format!("mark run {run_id} as interrupted")))?;
                    drop(file);
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let pid = i64::from(std::process::id());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (integration, started_at, status, dry_run, pid, heartbeat_at)
             VALUES (?1, ?2, 'running', ?3, ?4, ?2) RETURNING id",
        )
        .bind(integration)
        .bind(&now)
        .bind(dry_run)
        .bind(pid)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(ctx()))?;
        let path = lock_path(self, id);
        let Some(file) = try_lock(&path)? else {
            return Err(StoreError::Io {
                action: "lock the new run's lock file (another process holds it)",
                path,
                error: std::io::Error::from(std::io::ErrorKind::WouldBlock),
            });
        };
        if let Err(e) = tx.commit().await {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(StoreError::db(ctx())(e));
        }
        tracing::debug!(run_id = id, integration, dry_run, "run started");
        Ok(RunGuard {
            store: self.clone(),
            id,
            integration: integration.to_owned(),
            dry_run,
            tx: None,
            lock: Some((file, path)),
            errors: Vec::new(),
            errors_dropped: 0,
            instances: BTreeSet::new(),
            custom_keys_seen: HashSet::new(),
            pipeline: batch::Pipeline::default(),
            started_at: now,
            tally: Counts::default(),
            ended: false,
        })
    }

    /// The runs, newest first; only those of integration `filter` if given.
    pub async fn runs(&self, filter: Option<&str>) -> Result<Vec<RunRow>, StoreError> {
        const SQL: &str = select_runs!(" WHERE ?1 IS NULL OR integration = ?1 ORDER BY id DESC");
        let rows = sqlx::query(SQL)
            .bind(filter)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db("list the runs"))?;
        rows.into_iter().map(run_row).collect()
    }

    /// The run with this id, if any.
    pub async fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        const SQL: &str = select_runs!(" WHERE id = ?");
        let row = sqlx::query(SQL)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db(format!("read run {id}")))?;
        row.map(run_row).transpose()
    }

    /// The errors recorded for a run, in the order they were recorded.
    pub async fn run_errors(&self, run_id: i64) -> Result<Vec<RunErrorRow>, StoreError> {
        let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
            "SELECT id, run_id, record_key, stage, reason FROM run_errors WHERE run_id = ? ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db(format!("list the errors of run {run_id}")))?;
        rows.into_iter()
            .map(|(id, run_id, record_key, stage, reason)| {
                Ok(RunErrorRow {
                    stage: Stage::parse(&stage).ok_or_else(|| StoreError::Corrupt {
                        what: format!("stage of run error {id}"),
                        detail: format!("'{stage}' is not a stage"),
                    })?,
                    id,
                    run_id,
                    record_key,
                    reason,
                })
            })
            .collect()
    }
}

fn run_row(row: SqliteRow) -> Result<RunRow, StoreError> {
    let id: i64 = row
        .try_get("id")
        .map_err(StoreError::db("read a run row"))?;
    let ctx = || format!("read run {id}");
    let text = |col: &str| row.try_get::<String, _>(col).map_err(StoreError::db(ctx()));
    let int = |col: &str| row.try_get::<i64, _>(col).map_err(StoreError::db(ctx()));
    let status = text("status")?;
    let finished_at: Option<String> = row.try_get("finished_at").map_err(StoreError::db(ctx()))?;
    Ok(RunRow {
        id,
        integration: text("integration")?,
        started_at: time::parse(|| format!("started_at of run {id}"), &text("started_at")?)?,
        finished_at: finished_at
            .map(|f| time::parse(|| format!("finished_at of run {id}"), &f))
            .transpose()?,
        status: RunStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            what: format!("status of run {id}"),
            detail: format!("'{status}' is not a run status"),
        })?,
        dry_run: int("dry_run")? != 0,
        complete: int("complete")? != 0,
        counts: Counts {
            fetched: to_u64(int("fetched")?),
            created: to_u64(int("created")?),
            updated: to_u64(int("updated")?),
            unchanged: to_u64(int("unchanged")?),
            skipped: to_u64(int("skipped")?),
            failed: to_u64(int("failed")?),
        },
        marked_absent: to_u64(int("marked_absent")?),
        message: row.try_get("message").map_err(StoreError::db(ctx()))?,
        pid: int("pid")?,
        heartbeat_at: time::parse(
            || format!("heartbeat_at of run {id}"),
            &text("heartbeat_at")?,
        )?,
    })
}

impl RunGuard {
    /// The run's id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Whether this is a dry run (its data is discarded at the end).
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The guard's own tally of [`apply`](RunGuard::apply) outcomes (created, updated,
    /// unchanged, skipped); `fetched` and `failed` are the caller's to count.
    pub fn tally(&self) -> Counts {
        self.tally
    }

    /// Declares that this run covers the accounts of `instance` of `app`, so that a complete
    /// run marks that instance's unseen accounts not present even if it applied no record.
    /// Runs with [`Selection::UserPlusSaasUser`] declare the instances they apply to by
    /// themselves.
    pub fn covers(&mut self, app: &str, instance: &str) {
        self.instances.insert((app.to_owned(), instance.to_owned()));
    }

    async fn tx(&mut self) -> Result<&mut Transaction<'static, Sqlite>, StoreError> {
        if self.tx.is_none() {
            let tx = self
                .store
                .pool()
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(StoreError::db(format!(
                    "start the data transaction of run {}",
                    self.id
                )))?;
            self.tx = Some(tx);
        }
        self.tx.as_mut().ok_or_else(|| StoreError::InvalidInput {
            what: format!("run {}", self.id),
            detail: "the data transaction is gone".to_owned(),
        })
    }

    /// Applies one record inside the run's transaction: a batch of one
    /// (see [`apply_batch`](RunGuard::apply_batch)).
    ///
    /// The person is found by `opts.sync_key` (case-insensitive). Not found: skipped under
    /// [`Preference::UpdateOnly`], created with `opts.role` under
    /// [`Preference::CreateAndUpdate`]. Found: the mapped fields that differ are updated
    /// (the role and source of existing people are left alone). With
    /// [`Selection::UserPlusSaasUser`] the account (instance, external id) is then created or
    /// updated and linked to the person.
    ///
    /// A skipped record (no sync value, no person under update-only, a username or email held
    /// by someone else) stores no person and no account; if the account is known already,
    /// only its `last_seen_at` moves, so a complete run does not mark it not present. The
    /// skip reason is recorded in the run's errors (stage `store`) by this method.
    pub async fn apply(
        &mut self,
        rec: IncomingAccount,
        opts: &SyncOptions,
    ) -> Result<Outcome, StoreError> {
        let mut outcomes = self.apply_batch(vec![rec], opts).await?;
        outcomes.pop().ok_or_else(|| StoreError::InvalidInput {
            what: format!("run {}", self.id),
            detail: "a batch of one record gave no outcome".to_owned(),
        })
    }

    /// Applies records inside the run's transaction, with the same effect, outcomes, tally
    /// and recorded skip reasons as calling [`apply`](RunGuard::apply) on each in order
    /// (including records of the same account or the same person twice), but with a
    /// handful of SQL statements for the whole batch instead of several per record: the
    /// people and accounts the batch can touch are read at once, the records are decided in
    /// memory in order, and the changes are written with multi-row statements.
    ///
    /// Batches of a few hundred records work best. On an error nothing of the batch is
    /// counted; the run should then [`fail`](RunGuard::fail) (some of the batch's writes may
    /// have reached the run's transaction).
    pub async fn apply_batch(
        &mut self,
        recs: Vec<IncomingAccount>,
        opts: &SyncOptions,
    ) -> Result<Vec<Outcome>, StoreError> {
        if recs.is_empty() {
            return Ok(Vec::new());
        }
        if opts.selection == Selection::UserPlusSaasUser {
            self.covers(&opts.app, &opts.instance);
        }
        self.tx().await?;
        let Some(tx) = self.tx.as_mut() else {
            return Err(StoreError::InvalidInput {
                what: format!("run {}", self.id),
                detail: "the data transaction is gone".to_owned(),
            });
        };
        let applied = batch::apply(
            tx,
            opts,
            batch::RunRef {
                id: self.id,
                integration: &self.integration,
                now: &self.started_at,
            },
            &self.custom_keys_seen,
            &mut self.pipeline,
            recs,
        )
        .await?;
        self.custom_keys_seen.extend(applied.declared);
        for (rec, outcome) in applied.records.into_iter().zip(&applied.outcomes) {
            match outcome {
                Outcome::Created => self.tally.created += 1,
                Outcome::Updated => self.tally.updated += 1,
                Outcome::Unchanged => self.tally.unchanged += 1,
                Outcome::Skipped(reason) => {
                    self.tally.skipped += 1;
                    self.push_error(rec.external_id, Stage::Store, reason.clone());
                }
            }
        }
        Ok(applied.outcomes)
    }

    /// Runs the batch writes still pending, so the run's transaction holds every record
    /// applied so far. [`apply_batch`](RunGuard::apply_batch) leaves a batch's writes to
    /// run while the next batch is decided; [`finish`](RunGuard::finish) flushes, so
    /// callers need this only to see each batch written before the next is read.
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(tx) = self.tx.as_mut() {
            self.pipeline.flush(tx).await?;
        }
        Ok(())
    }

    fn push_error(&mut self, record_key: String, stage: Stage, reason: String) {
        if self.errors.len() < MAX_RUN_ERRORS {
            self.errors.push((record_key, stage, reason));
        } else {
            self.errors_dropped += 1;
        }
    }

    /// Records an error against a record. Errors are kept in memory (at most 10 000 per run;
    /// further ones are counted) and written with the run's final status, so they are kept
    /// even when the run fails.
    pub async fn record_error(
        &mut self,
        record_key: &str,
        stage: Stage,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.push_error(record_key.to_owned(), stage, reason.to_owned());
        Ok(())
    }

    /// Ends the run successfully. If `complete` (the run saw every account), accounts of the
    /// instances it covered that it did not see are marked not present (never deleted).
    /// Then the data and the final status commit together; a dry run instead discards the
    /// data and is recorded as a completed dry run. `counts` is recorded as given (see
    /// [`tally`](RunGuard::tally)).
    pub async fn finish(
        mut self,
        complete: bool,
        counts: &Counts,
    ) -> Result<RunSummary, StoreError> {
        let id = self.id;
        let now = time::now();
        let mut marked_absent = 0;
        if let Err(e) = self.flush().await {
            return Err(self.could_not_save(e, complete, counts).await);
        }
        if complete {
            let instances: Vec<_> = self.instances.iter().cloned().collect();
            for (app, instance) in instances {
                let tx = self.tx().await?;
                let done = sqlx::query(
                    "UPDATE saas_users SET present = 0, updated_at = ?1
                     WHERE app = ?2 AND instance = ?3 AND present = 1
                       AND (last_seen_run_id IS NULL OR last_seen_run_id <> ?4)",
                )
                .bind(&now)
                .bind(&app)
                .bind(&instance)
                .bind(id)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::db(format!(
                    "mark unseen accounts of {instance} not present"
                )))?;
                marked_absent += done.rows_affected();
            }
        }
        let summary = RunSummary {
            id,
            dry_run: self.dry_run,
            complete,
            counts: *counts,
            marked_absent,
            errors: self.errors.len() as u64,
            errors_dropped: self.errors_dropped,
        };
        let message = self.dropped_note();
        let result = if self.dry_run {
            if let Some(tx) = self.tx.take() {
                tx.rollback()
                    .await
                    .map_err(StoreError::db(format!("discard the data of dry run {id}")))?;
            }
            self.write_status(
                "completed",
                complete,
                counts,
                marked_absent,
                message.as_deref(),
            )
            .await
        } else {
            self.tx().await?;
            let Some(tx) = self.tx.as_mut() else {
                return Err(StoreError::InvalidInput {
                    what: format!("run {id}"),
                    detail: "the data transaction is gone".to_owned(),
                });
            };
            let written = write_status_on(
                tx,
                StatusWrite {
                    id,
                    status: "completed",
                    complete,
                    counts,
                    marked_absent,
                    message: message.as_deref(),
                    errors: &self.errors,
                    now: &now,
                },
            )
            .await;
            match written {
                Ok(()) => match self.tx.take() {
                    Some(tx) => tx
                        .commit()
                        .await
                        .map_err(StoreError::db(format!("commit the data of run {id}"))),
                    None => Ok(()),
                },
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            return Err(self.could_not_save(e, complete, counts).await);
        }
        self.release();
        tracing::debug!(run_id = id, marked_absent, "run finished");
        Ok(summary)
    }

    /// The data is rolled back; records why the run failed and gives the error back.
    async fn could_not_save(
        &mut self,
        e: StoreError,
        complete: bool,
        counts: &Counts,
    ) -> StoreError {
        self.tx = None;
        let why = format!("the run could not be saved: {e}");
        let _ = self
            .write_status("failed", complete, counts, 0, Some(&why))
            .await;
        self.release();
        e
    }

    /// Ends the run as failed: its data is rolled back, its errors kept, and `message`
    /// recorded.
    pub async fn fail(self, message: &str) -> Result<(), StoreError> {
        self.end_rolled_back("failed", message).await
    }

    /// Ends the run as cancelled (stopped on request): its data is rolled back, its errors
    /// kept, and `message` recorded.
    pub async fn cancel(self, message: &str) -> Result<(), StoreError> {
        self.end_rolled_back("cancelled", message).await
    }

    async fn end_rolled_back(mut self, status: &str, message: &str) -> Result<(), StoreError> {
        if let Some(tx) = self.tx.take() {
            tx.rollback().await.map_err(StoreError::db(format!(
                "roll back the data of run {}",
                self.id
            )))?;
        }
        let note = self.dropped_note();
        let message = match note {
            Some(note) => format!("{message} ({note})"),
            None => message.to_owned(),
        };
        let tally = self.tally;
        let result = self
            .write_status(status, false, &tally, 0, Some(&message))
            .await;
        self.release();
        result
    }

    fn dropped_note(&self) -> Option<String> {
        (self.errors_dropped > 0).then(|| {
            format!(
                "{} more errors were not recorded (the limit is {MAX_RUN_ERRORS} per run)",
                self.errors_dropped
            )
        })
    }

    /// Writes the final status in a small transaction of its own.
    async fn write_status(
        &mut self,
        status: &str,
        complete: bool,
        counts: &Counts,
        marked_absent: u64,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = self.id;
        let mut tx = self
            .store
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::db(format!("record the end of run {id}")))?;
        write_status_on(
            &mut tx,
            StatusWrite {
                id,
                status,
                complete,
                counts,
                marked_absent,
                message,
                errors: &self.errors,
                now: &time::now(),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db(format!("record the end of run {id}")))
    }

    fn release(&mut self) {
        self.ended = true;
        if let Some((file, path)) = self.lock.take() {
            let _ = std::fs::remove_file(&path);
            drop(file);
        }
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.ended {
            tracing::warn!(
                run_id = self.id,
                integration = %self.integration,
                "run dropped without finish or fail; its data is rolled back"
            );
        }
    }
}

struct StatusWrite<'a> {
    id: i64,
    status: &'a str,
    complete: bool,
    counts: &'a Counts,
    marked_absent: u64,
    message: Option<&'a str>,
    errors: &'a [(String, Stage, String)],
    now: &'a str,
}

async fn write_status_on(
    conn: &mut SqliteConnection,
    w: StatusWrite<'_>,
) -> Result<(), StoreError> {
    let id = w.id;
    let ctx = || format!("record the end of run {id}");
    for (key, stage, reason) in w.errors {
        sqlx::query(
            "INSERT INTO run_errors (run_id, record_key, stage, reason) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(key)
        .bind(stage.as_str())
        .bind(reason)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db(ctx()))?;
    }
    sqlx::query(
        "UPDATE runs SET status = ?1, finished_at = ?2, heartbeat_at = ?2, complete = ?3, fetched = ?4,
            created = ?5, updated = ?6, unchanged = ?7, skipped = ?8, failed = ?9, marked_absent = ?10,
            message = ?11 WHERE id = ?12",
    )
    .bind(w.status)
    .bind(w.now)
    .bind(w.complete)
    .bind(to_i64(w.counts.fetched))
    .bind(to_i64(w.counts.created))
    .bind(to_i64(w.counts.updated))
    .bind(to_i64(w.counts.unchanged))
    .bind(to_i64(w.counts.skipped))
    .bind(to_i64(w.counts.failed))
    .bind(to_i64(w.marked_absent))
    .bind(w.message)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db(ctx()))?;
    Ok(())
}
