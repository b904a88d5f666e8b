//! rollcall's store: the single source of truth for the people of an organisation and the
//! accounts they hold in SaaS apps.
//!
//! One SQLite file (`rollcall.db` in the data directory) opened through sqlx, in WAL mode
//! with foreign keys on and a busy timeout. The schema is versioned; migrations embedded in
//! this crate are applied on open, and a database written by a newer rollcall is refused.
//!
//! Only runtime `query`/`query_as` calls are used (no compile-time macros), so a Postgres
//! backend can follow with the same shape.
//!
//! The heart is [`RunGuard`]: everything an integration run writes goes into one SQLite write
//! transaction, so a run that fails, or a process that dies (even by `kill -9`), leaves the
//! previous state untouched.

#![warn(missing_docs)]

mod audit;
mod catalog;
mod dashboard;
mod error;
mod filter;
mod jobs;
mod prices;
mod query;
mod reports;
mod run;
mod schema;
mod time;
mod users;
mod workflows;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::{AuditEntry, AuditQuery, AuditResult, NewAuditEntry};
pub use catalog::{
    Created, CustomField, StoredCredential, StoredCredentialInfo, StoredIntegration, StoredView,
    ViewTarget, WEBHOOK_CREDENTIAL,
};
pub use dashboard::{
    ActivityBuckets, Dashboard, INACTIVE_AFTER_DAYS, InstanceStats, UserTypeStats,
};
pub use error::StoreError;
pub use jobs::{JobKind, JobLock, JobRow, JobStatus};
pub use prices::Price;
pub use query::{Filter, FilterOp, ListQuery};
pub use reports::StoredReport;
pub use run::{
    AccountFields, Counts, Enrichment, INTERRUPTED, IncomingAccount, Outcome, Preference,
    RunErrorRow, RunGuard, RunRow, RunStatus, RunSummary, Selection, Stage, SyncOptions,
};
pub use schema::SCHEMA_VERSION;
#[doc(hidden)]
pub use schema::{MIGRATIONS, migrator_for};
pub use users::{ImportReport, NewUser, UserKey};
pub use workflows::{
    AccountUpdate, StoredWorkflow, Trigger, WorkflowAccount, WorkflowMode, WorkflowRunRow,
    WorkflowRunStatus,
};

/// The name of the database file inside a data directory.
pub const DB_FILE_NAME: &str = "rollcall.db";

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite's page cache per connection, in SQLite's notation (negative: KiB).
const CACHE_SIZE: &str = "-16384";

/// A handle on the store. Cheap to clone: all clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    path: Arc<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) `rollcall.db` in `data_dir`, creating the directory too
    /// (mode 0700 on unix), and brings the schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        create_private_dir(data_dir)?;
        Store::open_file(&data_dir.join(DB_FILE_NAME)).await
    }

    /// Opens (creating if needed, mode 0600 on unix) the database file at `path` and brings
    /// the schema up to date. The parent directory must exist.
    pub async fn open_file(path: &Path) -> Result<Store, StoreError> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: committed transactions survive a process crash; only the last
            // ones may be lost on power failure. No fsync per statement.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // A sync inserts into indexes in random order (usernames, emails); with
            // SQLite's 2 MiB default the index pages it touches are evicted and read back
            // from the WAL over and over. 16 MiB a connection keeps them for ~100k
            // accounts (BENCHMARKS.md §4); memory stays bounded whatever the store holds.
            .pragma("cache_size", CACHE_SIZE)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                error: source,
            })?;
        schema::migrate(&pool, path).await?;
        Ok(Store {
            pool,
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// The database file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection of the pool; further use of any clone fails.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| StoreError::Io {
        action: "create the data directory",
        path: dir.to_path_buf(),
        error: source,
    })
}

fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::Io {
            action: "create the database file",
            path: path.to_path_buf(),
            error: source,
        })
}
