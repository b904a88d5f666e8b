//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store. Each message is a sentence that names what
/// was being done and on what, so it can be shown to an operator as it is. A message that
/// ends with its underlying error keeps that error in a field named `error`, which is not
/// reported as the `source()`, so a printed chain says it once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation on the data directory or a run lock file failed.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being done, e.g. "create the data directory".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The database file could not be opened or configured.
    #[error("cannot open the database {}: {error}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        error: sqlx::Error,
    },
    /// The database was written by a newer rollcall whose schema this build does not know.
    #[error(
        "the database {} was written by a newer rollcall (schema {found}; this build knows up to {known}); upgrade rollcall or use another --data-dir",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The highest schema version recorded in the database.
        found: i64,
        /// The highest schema version this build knows.
        known: i64,
    },
    /// Applying the schema migrations failed.
    #[error("cannot bring the database {} up to schema {known}: {error}", path.display())]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The schema version this build wanted to reach.
        known: i64,
        /// The underlying error.
        error: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("cannot {context}: {error}")]
    Database {
        /// What was being done, e.g. "list the integrations".
        context: String,
        /// The underlying error.
        error: sqlx::Error,
    },
    /// A value read back from the database is not what the schema promises.
    #[error("the stored {what} is not valid: {detail}")]
    Corrupt {
        /// Which value, e.g. "roles of saas user 12".
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A value given to the store cannot be stored.
    #[error("cannot store {what}: {detail}")]
    InvalidInput {
        /// Which value.
        what: String,
        /// Why not.
        detail: String,
    },
    /// Something with that name exists already and replacing it was not asked for.
    #[error("a {kind} named '{name}' already exists; pass replace to overwrite it")]
    AlreadyExists {
        /// The kind of thing, e.g. "credential".
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A live run of this integration exists, so another may not start.
    #[error(
        "integration '{integration}' is already running (run {run_id}, started {started_at}); wait for it to finish"
    )]
    RunInProgress {
        /// The integration's name.
        integration: String,
        /// The id of the live run.
        run_id: i64,
        /// When the live run started (RFC 3339).
        started_at: String,
    },
    /// A list query names something that cannot be queried.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
}

impl StoreError {
    /// Wraps a sqlx error with a sentence fragment saying what was being done.
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database {
            context: context.into(),
            error: source,
        }
    }
}
