//! Versioned schema migrations, embedded at compile time from `store/migrations/`.

use std::borrow::Cow;
use std::path::Path;

use sqlx::SqlitePool;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::StoreError;

/// The highest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 7;

/// Every migration: version, description, SQL. Public (hidden) so that tests can build a
/// database at an earlier version from the very same texts.
#[doc(hidden)]
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "account digest",
        include_str!("../migrations/0002_account_digest.sql"),
    ),
    (
        3,
        "prices and reports",
        include_str!("../migrations/0003_prices_reports.sql"),
    ),
    (
        4,
        "workflows and audit log",
        include_str!("../migrations/0004_workflows.sql"),
    ),
    (5, "jobs", include_str!("../migrations/0005_jobs.sql")),
    (
        6,
        "bulk writes without statement journals",
        include_str!("../migrations/0006_bulk_writes.sql"),
    ),
    (
        7,
        "cancelled runs and plugin drops",
        include_str!("../migrations/0007_run_outcomes.sql"),
    ),
];

/// A migrator that applies `migrations` (a prefix of [`MIGRATIONS`], for tests that need a
/// database at an earlier version).
#[doc(hidden)]
pub fn migrator_for(migrations: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = migrations
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Refuses a database from a newer rollcall, then applies the missing migrations.
pub(crate) async fn migrate(pool: &SqlitePool, path: &Path) -> Result<(), StoreError> {
    let has_table: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db(format!(
        "read the schema version of {}",
        path.display()
    )))?;
    if has_table.is_some() {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(pool)
                .await
                .map_err(StoreError::db(format!(
                    "read the schema version of {}",
                    path.display()
                )))?;
        if let Some(found) = found
            && found > SCHEMA_VERSION
        {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
    }
    migrator_for(MIGRATIONS)
        .run(pool)
        .await
        .map_err(|source| StoreError::Migrate {
            path: path.to_path_buf(),
            known: SCHEMA_VERSION,
            error: source,
        })
}
