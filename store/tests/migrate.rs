//! Schema 6 rebuilds `users` and `saas_users` (function-free checks, a deferred foreign
//! key), schema 7 `runs` and `run_errors` (a `cancelled` status, a `plugin` stage). These
//! tests build a real schema-5 database with the migrations as they were, fill it, open it
//! with this build, and check that nothing was lost and the constraints still hold.

use std::path::Path;

use rollcall_store::{MIGRATIONS, SCHEMA_VERSION, Store, migrator_for};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

/// The migrations before schema 6: the store's own texts.
fn before_6() -> &'static [(i64, &'static str, &'static str)] {
    let n = MIGRATIONS.iter().take_while(|m| m.0 < 6).count();
    &MIGRATIONS[..n]
}

async fn pool(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    SqlitePool::connect_with(options).await.unwrap()
}

/// A schema-5 database at `path`, as rollcall before schema 6 left it, with two people,
/// three accounts (two linked, one not), custom fields and digests, and three runs (one
/// cancelled, which schema 5 stored as failed) with errors.
async fn schema_5_database(path: &Path) {
    let pool = pool(path).await;
    migrator_for(before_6()).run(&pool).await.unwrap();
    assert_eq!(before_6().last().map(|m| m.0), Some(5));
    sqlx::raw_sql(
        "INSERT INTO users (id, username, email, first_name, last_name, role, custom, source,
                            created_at, updated_at) VALUES
           (7, 'ana@example.com', 'ana@example.com', 'Ana', 'Lima', 'Employee',
            '{\"miro_id\":\"301\"}', 'csv', '2026-01-01T00:00:00.000000Z',
            '2026-01-02T00:00:00.000000Z'),
           (9, 'bo@example.com', NULL, 'Bo', NULL, NULL, '{}', 'integration:Miro Users',
            '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
         INSERT INTO saas_users (id, user_id, app, instance, external_id, username, user_type,
                                 active, roles, last_activity_at, fields, first_seen_at,
                                 last_seen_at, last_seen_run_id, present, updated_at, digest)
         VALUES
           (11, 7, 'Miro', 'Miro EU', '301', 'ana@example.com', 'Full', 1, '[\"admin\"]',
            '2026-01-03T00:00:00.000000Z', '{\"id\":\"301\"}', '2026-01-01T00:00:00.000000Z',
            '2026-01-03T00:00:00.000000Z', 4, 1, '2026-01-03T00:00:00.000000Z', 12345),
           (12, 9, 'Miro', 'Miro EU', '302', 'bo@example.com', 'Free', 0, '[]', NULL, '{}',
            '2026-01-01T00:00:00.000000Z', '2026-01-03T00:00:00.000000Z', 4, 1,
            '2026-01-03T00:00:00.000000Z', NULL),
           (13, NULL, 'Miro', 'Miro US', '303', 'cy@example.com', 'Full', 1, '[]', NULL, '{}',
            '2026-01-01T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z', 3, 0,
            '2026-01-02T00:00:00.000000Z', 777);
         INSERT INTO runs (id, integration, started_at, finished_at, status, complete, fetched,
                           created, message, pid, heartbeat_at) VALUES
           (3, 'Miro Users', '2026-01-02T00:00:00.000000Z', '2026-01-02T00:01:00.000000Z',
            'completed', 1, 3, 3, NULL, 10, '2026-01-02T00:01:00.000000Z'),
           (4, 'Miro Users', '2026-01-03T00:00:00.000000Z', '2026-01-03T00:01:00.000000Z',
            'failed', 0, 1, 0, 'cancelled: rollcall was asked to stop', 11,
            '2026-01-03T00:01:00.000000Z'),
           (5, 'Miro Users', '2026-01-04T00:00:00.000000Z', '2026-01-04T00:01:00.000000Z',
            'failed', 0, 0, 0, 'HTTP 500 from the app', 12, '2026-01-04T00:01:00.000000Z');
         INSERT INTO run_errors (id, run_id, record_key, stage, reason) VALUES
           (1, 3, 'u-1', 'extract', 'no userName'),
           (2, 4, 'u-2', 'store', 'no user with username = u-2');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

type AccountRow = (
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    String,
    i64,
    Option<i64>,
);

async fn accounts(pool: &SqlitePool) -> Vec<AccountRow> {
    sqlx::query_as(
        "SELECT id, user_id, instance, external_id, username, active, roles, fields, present,
                digest
         FROM saas_users ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn schema_5_data_survives_the_rebuild_with_its_links() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rollcall.db");
    schema_5_database(&path).await;

    let store = Store::open_file(&path).await.unwrap();
    store.close().await;
    let pool = pool(&path).await;

    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 7);

    let people: Vec<(i64, String, Option<String>, String, String)> =
        sqlx::query_as("SELECT id, username, email, custom, created_at FROM users ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        people,
        vec![
            (
                7,
                "ana@example.com".into(),
                Some("ana@example.com".into()),
                "{\"miro_id\":\"301\"}".into(),
                "2026-01-01T00:00:00.000000Z".into()
            ),
            (
                9,
                "bo@example.com".into(),
                None,
                "{}".into(),
                "2026-01-01T00:00:00.000000Z".into()
            ),
        ]
    );
    // The links survive: dropping the old people deleted no link.
    assert_eq!(
        accounts(&pool).await,
        vec![
            (
                11,
                Some(7),
                "Miro EU".into(),
                "301".into(),
                Some("ana@example.com".into()),
                Some(1),
                "[\"admin\"]".into(),
                "{\"id\":\"301\"}".into(),
                1,
                Some(12345)
            ),
            (
                12,
                Some(9),
                "Miro EU".into(),
                "302".into(),
                Some("bo@example.com".into()),
                Some(0),
                "[]".into(),
                "{}".into(),
                1,
                None
            ),
            (
                13,
                None,
                "Miro US".into(),
                "303".into(),
                Some("cy@example.com".into()),
                Some(1),
                "[]".into(),
                "{}".into(),
                0,
                Some(777)
            ),
        ]
    );
    // Every index and the digest trigger are back, and no old table is left.
    let objects: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master
         WHERE tbl_name IN ('users', 'saas_users', 'users_old', 'saas_users_old')
           AND type IN ('table', 'index', 'trigger') AND name NOT LIKE 'sqlite_%'
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        objects,
        [
            "saas_users",
            "saas_users_app_instance",
            "saas_users_digest_stale",
            "saas_users_instance_external",
            "saas_users_user",
            "saas_users_username",
            "users",
            "users_email",
            "users_username",
        ]
    );
    pool.close().await;
}

#[tokio::test]
async fn the_rebuilt_tables_keep_their_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rollcall.db");
    schema_5_database(&path).await;
    Store::open_file(&path).await.unwrap().close().await;
    let pool = pool(&path).await;

    // The digest trigger clears a digest that a content change did not renew.
    sqlx::query("UPDATE saas_users SET active = 0 WHERE id = 11")
        .execute(&pool)
        .await
        .unwrap();
    let digest: Option<i64> = sqlx::query_scalar("SELECT digest FROM saas_users WHERE id = 11")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(digest, None);

    // Deleting a person unlinks their accounts at once (ON DELETE SET NULL).
    sqlx::query("DELETE FROM users WHERE id = 9")
        .execute(&pool)
        .await
        .unwrap();
    let user_id: Option<i64> = sqlx::query_scalar("SELECT user_id FROM saas_users WHERE id = 12")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(user_id, None);

    // A link to nobody is refused, at the latest when the transaction commits.
    let dangling = sqlx::query("UPDATE saas_users SET user_id = 999 WHERE id = 13")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(
        dangling
            .to_string()
            .contains("FOREIGN KEY constraint failed"),
        "{dangling}"
    );
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE saas_users SET user_id = 998 WHERE id = 13")
        .execute(&mut *tx)
        .await
        .expect("a deferred foreign key is checked at commit, not per statement");
    let at_commit = tx.commit().await.unwrap_err();
    assert!(
        at_commit
            .to_string()
            .contains("FOREIGN KEY constraint failed"),
        "{at_commit}"
    );

    // The JSON columns still refuse the wrong kind of value.
    for (sql, what) in [
        ("UPDATE users SET custom = '[1]' WHERE id = 7", "custom"),
        ("UPDATE users SET custom = '\"x\"' WHERE id = 7", "custom"),
        ("UPDATE saas_users SET roles = '{}' WHERE id = 11", "roles"),
        (
            "UPDATE saas_users SET roles = 'admin' WHERE id = 11",
            "roles",
        ),
        (
            "UPDATE saas_users SET fields = '[]' WHERE id = 11",
            "fields",
        ),
        (
            "UPDATE saas_users SET fields = x'7B7D' WHERE id = 11",
            "fields",
        ),
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(
            err.to_string().contains("CHECK constraint failed"),
            "{what}: {sql}: {err}"
        );
    }
    pool.close().await;
}

#[tokio::test]
async fn runs_keep_their_history_and_a_cancelled_run_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rollcall.db");
    schema_5_database(&path).await;
    Store::open_file(&path).await.unwrap().close().await;
    let pool = pool(&path).await;

    let runs: Vec<(i64, String, Option<String>, i64)> =
        sqlx::query_as("SELECT id, status, message, fetched FROM runs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        runs,
        vec![
            (3, "completed".into(), None, 3),
            (
                4,
                "cancelled".into(),
                Some("cancelled: rollcall was asked to stop".into()),
                1
            ),
            (5, "failed".into(), Some("HTTP 500 from the app".into()), 0),
        ]
    );
    let errors: Vec<(i64, i64, String, String)> =
        sqlx::query_as("SELECT id, run_id, record_key, stage FROM run_errors ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        errors,
        vec![
            (1, 3, "u-1".into(), "extract".into()),
            (2, 4, "u-2".into(), "store".into()),
        ]
    );

    // The new values are allowed, others still refused.
    sqlx::query("INSERT INTO run_errors (run_id, record_key, stage, reason) VALUES (5, 'u-3', 'plugin', 'dropped')")
        .execute(&pool)
        .await
        .unwrap();
    let bad_stage = sqlx::query(
        "INSERT INTO run_errors (run_id, record_key, stage, reason) VALUES (5, 'u-4', 'bogus', 'x')",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        bad_stage.to_string().contains("CHECK constraint failed"),
        "{bad_stage}"
    );
    let bad_status = sqlx::query("UPDATE runs SET status = 'paused' WHERE id = 5")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(
        bad_status.to_string().contains("CHECK constraint failed"),
        "{bad_status}"
    );

    // At most one running run per integration, and a run's errors go with it.
    sqlx::query("UPDATE runs SET status = 'running' WHERE id = 4")
        .execute(&pool)
        .await
        .unwrap();
    let second = sqlx::query("UPDATE runs SET status = 'running' WHERE id = 5")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(
        second.to_string().contains("UNIQUE constraint failed"),
        "{second}"
    );
    sqlx::query("DELETE FROM runs WHERE id = 3")
        .execute(&pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_errors WHERE run_id = 3")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let old: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('runs_old', 'run_errors_old')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(old, 0);
    pool.close().await;
}
