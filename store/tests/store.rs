//! Store tests against real SQLite files in temporary directories.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rollcall_store::{
    Counts, Filter, FilterOp, INTERRUPTED, IncomingAccount, ListQuery, NewUser, Outcome,
    Preference, RunStatus, SCHEMA_VERSION, Selection, Stage, Store, StoreError, SyncOptions,
    UserKey,
};
use serde_json::{Value, json};

fn opts(preference: Preference, selection: Selection) -> SyncOptions {
    SyncOptions {
        app: "Miro".into(),
        instance: "miro-org-1".into(),
        preference,
        selection,
        role: Some("Employee".into()),
        sync_key: UserKey::Username,
        source: "integration:Miro Users".into(),
    }
}

fn account(ext: &str, username: &str, email: &str) -> IncomingAccount {
    let mut user_fields = BTreeMap::new();
    user_fields.insert("username".into(), json!(username));
    user_fields.insert("email".into(), json!(email));
    user_fields.insert("first_name".into(), json!(username.to_uppercase()));
    let mut fields = serde_json::Map::new();
    fields.insert("userName".into(), json!(username));
    fields.insert("license".into(), json!("full"));
    IncomingAccount {
        external_id: ext.into(),
        sync_value: Some(username.into()),
        user_fields,
        username: Some(username.into()),
        user_type: Some("Full".into()),
        active: Some(true),
        roles: vec!["member".into()],
        last_activity_at: None,
        fields: fields.into(),
    }
}

async fn store(dir: &Path) -> Store {
    Store::open(&dir.join("data")).await.expect("open store")
}

/// Runs `accounts` to completion as one complete run and returns the outcomes.
async fn run_all(
    store: &Store,
    o: &SyncOptions,
    accounts: Vec<IncomingAccount>,
    complete: bool,
) -> Vec<Outcome> {
    let mut run = store.begin_run("miro", false).await.expect("begin");
    let mut out = Vec::new();
    for a in accounts {
        out.push(run.apply(a, o).await.expect("apply"));
    }
    let tally = run.tally();
    run.finish(complete, &tally).await.expect("finish");
    out
}

fn q() -> ListQuery {
    ListQuery::default()
}

fn col(rows: &[serde_json::Map<String, Value>], name: &str) -> Vec<Value> {
    rows.iter().map(|r| r[name].clone()).collect()
}

#[tokio::test]
async fn open_creates_private_dir_and_schema_and_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    assert_eq!(s.path(), tmp.path().join("data").join("rollcall.db"));
    assert!(s.path().exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("data"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let mode = std::fs::metadata(s.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
    }
    assert!(s.list_users(&q()).await.unwrap().is_empty());
    s.put_integration("miro", &json!({"a": 1})).await.unwrap();
    s.close().await;
    let again = store(tmp.path()).await;
    assert_eq!(again.list_integrations().await.unwrap().len(), 1);
}

#[tokio::test]
async fn newer_schema_is_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let path = s.path().to_path_buf();
    s.close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (999, 'future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let err = Store::open_file(&path).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 999, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "was written by a newer rollcall (schema 999; this build knows up to {SCHEMA_VERSION}); upgrade rollcall or use another --data-dir"
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn integrations_crud() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    assert_eq!(
        s.put_integration("miro", &json!({"v": 1})).await.unwrap(),
        rollcall_store::Created::Created
    );
    assert_eq!(
        s.put_integration("miro", &json!({"v": 2})).await.unwrap(),
        rollcall_store::Created::Updated
    );
    let i = s.integration("miro").await.unwrap().unwrap();
    assert_eq!(i.definition, json!({"v": 2}));
    assert!(s.integration("nope").await.unwrap().is_none());
    assert_eq!(s.list_integrations().await.unwrap().len(), 1);
    assert!(s.remove_integration("miro").await.unwrap());
    assert!(!s.remove_integration("miro").await.unwrap());
}

#[tokio::test]
async fn credentials_keep_bytes_and_are_never_listed_with_ciphertext() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let secret = b"\x00\x01SECRETBYTES\xff".to_vec();
    let names = vec!["token".to_string()];
    s.put_credential("miro-prod", "miro", &names, &secret, false)
        .await
        .unwrap();
    let err = s
        .put_credential("miro-prod", "miro", &names, b"x", false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::AlreadyExists {
                kind: "credential",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        s.credential("miro-prod").await.unwrap().unwrap().ciphertext,
        secret
    );
    s.put_credential("miro-prod", "miro", &names, b"new", true)
        .await
        .unwrap();
    let c = s.credential("miro-prod").await.unwrap().unwrap();
    assert_eq!(c.ciphertext, b"new");
    assert_eq!(c.info.input_names, names);
    assert!(
        !format!("{c:?}").contains("new\""),
        "Debug shows only the length"
    );
    let listed = s.list_credentials().await.unwrap();
    assert_eq!(listed.len(), 1);
    let shown = serde_json::to_string(&listed).unwrap();
    assert!(!shown.contains("ciphertext"), "{shown}");
    assert!(s.remove_credential("miro-prod").await.unwrap());
    assert!(s.credential("miro-prod").await.unwrap().is_none());
}

#[tokio::test]
async fn create_and_update_with_saas_users_then_unchanged_rerun_then_update() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    let batch = || {
        vec![
            account("1", "alice", "alice@x.org"),
            account("2", "bob", "bob@x.org"),
        ]
    };
    assert_eq!(
        run_all(&s, &o, batch(), true).await,
        vec![Outcome::Created, Outcome::Created]
    );
    let users = s.list_users(&q()).await.unwrap();
    assert_eq!(col(&users, "username"), vec![json!("alice"), json!("bob")]);
    assert_eq!(
        col(&users, "role"),
        vec![json!("Employee"), json!("Employee")]
    );
    assert_eq!(users[0]["source"], json!("integration:Miro Users"));
    let accounts = s.list_saas_users(&q()).await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["user_id"], users[0]["id"]);
    assert_eq!(accounts[0]["roles"], json!(["member"]));
    assert_eq!(accounts[0]["fields"]["license"], json!("full"));
    assert_eq!(accounts[0]["present"], json!(true));

    // unchanged data: nothing but seen timestamps changes
    assert_eq!(
        run_all(&s, &o, batch(), true).await,
        vec![Outcome::Unchanged, Outcome::Unchanged]
    );
    let users2 = s.list_users(&q()).await.unwrap();
    assert_eq!(users, users2);
    let accounts2 = s.list_saas_users(&q()).await.unwrap();
    for (a, b) in accounts.iter().zip(&accounts2) {
        let strip = |m: &serde_json::Map<String, Value>| {
            let mut m = m.clone();
            m.remove("last_seen_at");
            m
        };
        assert_eq!(strip(a), strip(b));
    }

    // a changed email (case-insensitive match on the sync key) updates the person
    let mut changed = account("1", "ALICE", "alice@new.org");
    changed
        .user_fields
        .insert("username".into(), json!("alice"));
    changed
        .user_fields
        .insert("first_name".into(), json!("ALICE"));
    let out = run_all(&s, &o, vec![changed], false).await;
    assert_eq!(out, vec![Outcome::Updated]);
    let alice = s
        .list_users(&ListQuery {
            filters: vec![Filter {
                field: "username".into(),
                op: FilterOp::Eq,
                value: "Alice".into(),
                or_empty: false,
            }],
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(alice[0]["email"], json!("alice@new.org"));
    assert_ne!(alice[0]["updated_at"], users[0]["updated_at"]);
    let runs = s.runs(Some("miro")).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[1].counts.unchanged, 2);
}

#[tokio::test]
async fn update_only_skips_unknown_people_and_their_accounts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let report = s
        .import_users(
            [NewUser {
                username: "alice".into(),
                email: Some("alice@x.org".into()),
                source: "csv:hr.csv".into(),
                ..Default::default()
            }],
            UserKey::Username,
        )
        .await
        .unwrap();
    assert_eq!(report.created, 1);
    let o = opts(Preference::UpdateOnly, Selection::UserPlusSaasUser);
    let mut run = s.begin_run("miro", false).await.unwrap();
    let a = run
        .apply(account("1", "alice", "alice@x.org"), &o)
        .await
        .unwrap();
    let b = run
        .apply(account("2", "bob", "bob@x.org"), &o)
        .await
        .unwrap();
    let mut nokey = account("3", "carol", "carol@x.org");
    nokey.sync_value = None;
    let c = run.apply(nokey, &o).await.unwrap();
    let id = run.id();
    let tally = run.tally();
    assert_eq!((tally.created, tally.skipped), (1, 2));
    run.finish(true, &tally).await.unwrap();
    assert_eq!(a, Outcome::Created, "alice's account is new");
    assert_eq!(
        b,
        Outcome::Skipped("no user with username = bob; preference is update-only".into())
    );
    assert!(
        matches!(c, Outcome::Skipped(ref r) if r.contains("no value for the sync key username")),
        "{c:?}"
    );
    let users = s.list_users(&q()).await.unwrap();
    assert_eq!(col(&users, "username"), vec![json!("alice")]);
    assert_eq!(
        users[0]["first_name"],
        json!("ALICE"),
        "mapped fields that differ are updated"
    );
    assert_eq!(users[0]["source"], json!("csv:hr.csv"));
    let accounts = s.list_saas_users(&q()).await.unwrap();
    assert_eq!(col(&accounts, "external_id"), vec![json!("1")]);
    let errors = s.run_errors(id).await.unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].record_key, "2");
    assert_eq!(errors[0].stage, Stage::Store);
    assert_eq!(s.run(id).await.unwrap().unwrap().counts.skipped, 2);
}

#[tokio::test]
async fn user_only_selection_stores_no_accounts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserOnly);
    let mut a = account("1", "alice", "alice@x.org");
    a.user_fields.insert("cost_center".into(), json!("R&D"));
    assert_eq!(run_all(&s, &o, vec![a], true).await, vec![Outcome::Created]);
    assert_eq!(s.list_users(&q()).await.unwrap().len(), 1);
    assert!(s.list_saas_users(&q()).await.unwrap().is_empty());
    let fields = s.custom_fields().await.unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].key, "cost_center");
    assert_eq!(fields[0].created_by_integration.as_deref(), Some("miro"));
    let rows = s
        .list_users(&ListQuery {
            columns: Some(vec!["username".into(), "cost_center".into()]),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(rows[0]["cost_center"], json!("R&D"));
}

#[tokio::test]
async fn complete_runs_mark_unseen_accounts_not_present_and_incomplete_runs_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    run_all(
        &s,
        &o,
        vec![account("1", "alice", "a@x"), account("2", "bob", "b@x")],
        true,
    )
    .await;

    // incomplete run without bob: bob stays present
    run_all(&s, &o, vec![account("1", "alice", "a@x")], false).await;
    let present = |rows: Vec<serde_json::Map<String, Value>>| col(&rows, "present");
    assert_eq!(
        present(s.list_saas_users(&q()).await.unwrap()),
        vec![json!(true), json!(true)]
    );

    // complete run without bob: bob is marked not present, never deleted
    let mut run = s.begin_run("miro", false).await.unwrap();
    run.apply(account("1", "alice", "a@x"), &o).await.unwrap();
    let summary = run.finish(true, &Counts::default()).await.unwrap();
    assert_eq!(summary.marked_absent, 1);
    assert_eq!(
        present(s.list_saas_users(&q()).await.unwrap()),
        vec![json!(true), json!(false)]
    );
    assert_eq!(s.list_users(&q()).await.unwrap().len(), 2);

    // seen again: present again, and that is an update
    let out = run_all(
        &s,
        &o,
        vec![account("1", "alice", "a@x"), account("2", "bob", "b@x")],
        true,
    )
    .await;
    assert_eq!(out, vec![Outcome::Unchanged, Outcome::Updated]);
    assert_eq!(
        present(s.list_saas_users(&q()).await.unwrap()),
        vec![json!(true), json!(true)]
    );

    // a complete run that fetched nothing but declared its instance marks everyone absent
    let mut run = s.begin_run("miro", false).await.unwrap();
    run.covers("Miro", "miro-org-1");
    assert_eq!(
        run.finish(true, &Counts::default())
            .await
            .unwrap()
            .marked_absent,
        2
    );
}

#[tokio::test]
async fn fail_rolls_back_data_and_keeps_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    run_all(&s, &o, vec![account("1", "alice", "a@x")], true).await;
    let before_users = s.list_users(&q()).await.unwrap();
    let before_accounts = s.list_saas_users(&q()).await.unwrap();

    let mut run = s.begin_run("miro", false).await.unwrap();
    run.apply(account("1", "alice", "changed@x"), &o)
        .await
        .unwrap();
    run.apply(account("2", "bob", "b@x"), &o).await.unwrap();
    run.record_error("page-3", Stage::Fetch, "HTTP 500 from /Users")
        .await
        .unwrap();
    let id = run.id();
    run.fail("the app returned HTTP 500 three times")
        .await
        .unwrap();

    assert_eq!(s.list_users(&q()).await.unwrap(), before_users);
    assert_eq!(s.list_saas_users(&q()).await.unwrap(), before_accounts);
    let row = s.run(id).await.unwrap().unwrap();
    assert_eq!(row.status, RunStatus::Failed);
    assert_eq!(
        row.message.as_deref(),
        Some("the app returned HTTP 500 three times")
    );
    assert!(row.finished_at.is_some());
    let errors = s.run_errors(id).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].reason, "HTTP 500 from /Users");
}

#[tokio::test]
async fn dry_run_computes_then_discards() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    run_all(
        &s,
        &o,
        vec![account("1", "alice", "a@x"), account("2", "bob", "b@x")],
        true,
    )
    .await;
    let mut run = s.begin_run("miro", true).await.unwrap();
    assert_eq!(
        run.apply(account("3", "carol", "c@x"), &o).await.unwrap(),
        Outcome::Created
    );
    assert_eq!(
        run.apply(account("1", "alice", "a2@x"), &o).await.unwrap(),
        Outcome::Updated
    );
    let id = run.id();
    let tally = run.tally();
    let summary = run.finish(true, &tally).await.unwrap();
    assert!(summary.dry_run);
    assert_eq!(summary.marked_absent, 1, "bob would be marked absent");
    let users = s.list_users(&q()).await.unwrap();
    assert_eq!(col(&users, "email"), vec![json!("a@x"), json!("b@x")]);
    assert_eq!(
        col(&s.list_saas_users(&q()).await.unwrap(), "present"),
        vec![json!(true), json!(true)]
    );
    let row = s.run(id).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.dry_run, row.counts.created),
        (RunStatus::Completed, true, 1)
    );
}

#[tokio::test]
async fn a_second_live_run_of_the_same_integration_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let first = s.begin_run("miro", false).await.unwrap();
    let other = s.clone();
    let second = tokio::spawn(async move { other.begin_run("miro", false).await.map(|r| r.id()) })
        .await
        .unwrap();
    match second {
        Err(StoreError::RunInProgress {
            integration,
            run_id,
            ..
        }) => {
            assert_eq!((integration.as_str(), run_id), ("miro", first.id()));
        }
        other => panic!("expected RunInProgress, got {other:?}"),
    }
    // another integration may run meanwhile
    let hr = s.begin_run("hr", false).await.unwrap();
    hr.finish(true, &Counts::default()).await.unwrap();
    first.finish(true, &Counts::default()).await.unwrap();
    s.begin_run("miro", false)
        .await
        .unwrap()
        .fail("done")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dropped_guard_rolls_back_and_the_next_run_marks_it_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    let mut run = s.begin_run("miro", false).await.unwrap();
    run.apply(account("1", "alice", "a@x"), &o).await.unwrap();
    let id = run.id();
    drop(run);
    assert!(s.list_users(&q()).await.unwrap().is_empty());
    let next = s.begin_run("miro", false).await.unwrap();
    let row = s.run(id).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.message.as_deref()),
        (RunStatus::Failed, Some(INTERRUPTED))
    );
    next.finish(false, &Counts::default()).await.unwrap();
}

const CHILD_ENV: &str = "ROLLCALL_STORE_TEST_CHILD_DB";

/// Not a test by itself: the body of the child process that `kill_9_mid_run_...` spawns and
/// kills. Without the environment variable it does nothing.
#[tokio::test]
async fn child_process_entry() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let s = Store::open_file(Path::new(&path)).await.unwrap();
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    let mut run = s.begin_run("miro", false).await.unwrap();
    for i in 0..500 {
        run.apply(
            account(&format!("c{i}"), &format!("child{i}"), &format!("c{i}@x")),
            &o,
        )
        .await
        .unwrap();
    }
    run.apply(account("1", "alice", "changed-by-child@x"), &o)
        .await
        .unwrap();
    println!("APPLIED");
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    std::process::abort();
}

#[cfg(unix)]
#[tokio::test]
async fn kill_9_mid_run_leaves_the_previous_state_and_the_run_is_marked_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    run_all(&s, &o, vec![account("1", "alice", "a@x")], true).await;
    let before_users = s.list_users(&q()).await.unwrap();
    let before_accounts = s.list_saas_users(&q()).await.unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, s.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let saw = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("APPLIED"))
    });
    // the child is mid-run now; another begin_run of the integration is refused
    let saw = saw.await.unwrap();
    assert!(saw, "the child never reported its records applied");
    assert!(matches!(
        s.begin_run("miro", false).await,
        Err(StoreError::RunInProgress { .. })
    ));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    assert_eq!(s.list_users(&q()).await.unwrap(), before_users);
    assert_eq!(s.list_saas_users(&q()).await.unwrap(), before_accounts);
    let stale = s.runs(Some("miro")).await.unwrap()[0].clone();
    assert_eq!(stale.status, RunStatus::Running);
    let next = s.begin_run("miro", false).await.unwrap();
    let stale = s.run(stale.id).await.unwrap().unwrap();
    assert_eq!(stale.status, RunStatus::Failed);
    assert_eq!(stale.message.as_deref(), Some(INTERRUPTED));
    next.finish(false, &Counts::default()).await.unwrap();
    // and a fresh open sees the same
    s.close().await;
    let again = store(tmp.path()).await;
    assert_eq!(again.list_users(&q()).await.unwrap(), before_users);
}

#[tokio::test]
async fn import_users_upserts_by_email_and_reports_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let row = |u: &str, e: &str, first: &str| NewUser {
        username: u.into(),
        email: Some(e.into()),
        first_name: Some(first.into()),
        role: Some("Employee".into()),
        source: "csv:hr.csv".into(),
        ..Default::default()
    };
    let r = s
        .import_users(
            [
                row("alice", "alice@x.org", "Alice"),
                row("bob", "bob@x.org", "Bob"),
            ],
            UserKey::Email,
        )
        .await
        .unwrap();
    assert_eq!((r.created, r.updated, r.unchanged), (2, 0, 0));
    let r = s
        .import_users(
            [
                row("alice2", "ALICE@x.org", "Alice"),
                row("bob", "bob@x.org", "Bob"),
                row("alice2", "new@x.org", "X"),
            ],
            UserKey::Email,
        )
        .await
        .unwrap();
    assert_eq!((r.created, r.updated, r.unchanged), (0, 1, 1));
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].0, 2);
    assert!(
        r.skipped[0].1.contains("username alice2 is already used"),
        "{:?}",
        r.skipped
    );
    let users = s
        .list_users(&ListQuery {
            sort: vec![("username".into(), false)],
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(col(&users, "username"), vec![json!("alice2"), json!("bob")]);
    assert_eq!(
        users[0]["email"],
        json!("ALICE@x.org"),
        "matched case-insensitively, stored as given"
    );
}

async fn seeded() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    let mut accounts = Vec::new();
    for (i, name) in ["dora", "alice", "carol", "bob", "eve"].iter().enumerate() {
        let mut a = account(&format!("{i}"), name, &format!("{name}@x.org"));
        a.user_fields.insert("level".into(), json!(i));
        a.fields.insert("seats", json!(i * 10));
        a.active = Some(i.is_multiple_of(2));
        a.last_activity_at = Some(format!("2025-0{}-15T10:00:00Z", i + 1).parse().unwrap());
        if *name == "eve" {
            a.roles = vec!["admin".into(), "member".into()];
        }
        accounts.push(a);
    }
    run_all(&s, &o, accounts, true).await;
    (tmp, s)
}

fn f(field: &str, op: FilterOp, value: &str) -> Filter {
    Filter {
        field: field.into(),
        op,
        value: value.into(),
        or_empty: false,
    }
}

#[tokio::test]
async fn list_columns_filters_sort_and_paging() {
    let (_tmp, s) = seeded().await;
    let names = |rows: Vec<serde_json::Map<String, Value>>| col(&rows, "username");
    // The usernames a list query gives, of people and of accounts.
    let users = async |q: &ListQuery| names(s.list_users(q).await.unwrap());
    let accounts = async |q: &ListQuery| names(s.list_saas_users(q).await.unwrap());
    let sorted = ListQuery {
        columns: Some(vec!["username".into()]),
        sort: vec![("username".into(), false)],
        ..q()
    };
    assert_eq!(
        users(&sorted).await,
        vec![
            json!("alice"),
            json!("bob"),
            json!("carol"),
            json!("dora"),
            json!("eve")
        ]
    );
    let page = ListQuery {
        limit: Some(2),
        offset: Some(1),
        ..sorted.clone()
    };
    let rows = s.list_users(&page).await.unwrap();
    assert_eq!(names(rows.clone()), vec![json!("bob"), json!("carol")]);
    assert_eq!(rows[0].len(), 1, "only the asked column");
    let desc = ListQuery {
        sort: vec![("level".into(), true)],
        limit: Some(1),
        ..sorted.clone()
    };
    assert_eq!(users(&desc).await, vec![json!("eve")]);

    let filtered = |filters| ListQuery {
        filters,
        ..sorted.clone()
    };
    assert_eq!(
        users(&filtered(vec![f("level", FilterOp::Ge, "3")])).await,
        vec![json!("bob"), json!("eve")]
    );
    assert_eq!(
        users(&filtered(vec![f("email", FilterOp::Contains, "ORA@")])).await,
        vec![json!("dora")]
    );
    assert_eq!(
        users(&filtered(vec![
            f("username", FilterOp::Ne, "alice"),
            f("level", FilterOp::Lt, "2")
        ]))
        .await,
        vec![json!("dora")]
    );

    let saas = |filters| ListQuery {
        columns: Some(vec!["username".into(), "fields.seats".into()]),
        filters,
        sort: vec![("username".into(), false)],
        ..q()
    };
    let rows = s
        .list_saas_users(&saas(vec![f("active", FilterOp::Eq, "true")]))
        .await
        .unwrap();
    assert_eq!(
        names(rows.clone()),
        vec![json!("carol"), json!("dora"), json!("eve")]
    );
    assert_eq!(rows[0]["fields.seats"], json!(20));
    assert_eq!(
        accounts(&saas(vec![f("fields.seats", FilterOp::Gt, "25")])).await,
        vec![json!("bob"), json!("eve")]
    );
    assert_eq!(
        accounts(&saas(vec![f("roles", FilterOp::Contains, "ADMIN")])).await,
        vec![json!("eve")]
    );
    // dates as RFC 3339 text, prefixes and offsets
    assert_eq!(
        accounts(&saas(vec![f("last_activity_at", FilterOp::Lt, "2025-03")])).await,
        vec![json!("alice"), json!("dora")]
    );
    assert_eq!(
        accounts(&saas(vec![f(
            "last_activity_at",
            FilterOp::Ge,
            "2025-05-15T12:00:00+02:00"
        )]))
        .await,
        vec![json!("eve")]
    );
    let in_app = ListQuery {
        app: Some("Miro".into()),
        instance: Some("miro-org-1".into()),
        ..sorted.clone()
    };
    assert_eq!(s.list_users(&in_app).await.unwrap().len(), 5);
    let other = ListQuery {
        instance: Some("other".into()),
        ..sorted
    };
    assert!(s.list_users(&other).await.unwrap().is_empty());
    assert!(
        s.list_saas_users(&ListQuery {
            instance: Some("other".into()),
            ..q()
        })
        .await
        .unwrap()
        .is_empty()
    );
}

#[tokio::test]
async fn list_rejects_unknown_fields_and_resists_injection() {
    let (_tmp, s) = seeded().await;
    let err = s
        .list_users(&ListQuery {
            columns: Some(vec!["password".into()]),
            ..q()
        })
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("unknown user field 'password'")
            && msg.contains("username")
            && msg.contains("level"),
        "{msg}"
    );
    let err = s
        .list_saas_users(&ListQuery {
            sort: vec![("nope".into(), false)],
            ..q()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fields.<key>"), "{err}");
    for evil in [
        "username; DROP TABLE users",
        "id) OR 1=1 --",
        "fields.a\") OR 1=1 --",
        "fields.x'y",
    ] {
        let r = s
            .list_saas_users(&ListQuery {
                filters: vec![f(evil, FilterOp::Eq, "x")],
                ..q()
            })
            .await;
        assert!(
            matches!(r, Err(StoreError::InvalidQuery(_))),
            "{evil}: {r:?}"
        );
        let r = s
            .list_users(&ListQuery {
                sort: vec![(evil.into(), true)],
                ..q()
            })
            .await;
        assert!(
            matches!(r, Err(StoreError::InvalidQuery(_))),
            "{evil}: {r:?}"
        );
    }
    // values are bound, so SQL in a value is just text that matches nothing
    for evil in ["' OR '1'='1", "alice' --", "x\"); DROP TABLE users; --"] {
        let rows = s
            .list_users(&ListQuery {
                filters: vec![f("username", FilterOp::Eq, evil)],
                ..q()
            })
            .await
            .unwrap();
        assert!(rows.is_empty(), "{evil}");
        let rows = s
            .list_users(&ListQuery {
                filters: vec![f("level", FilterOp::Contains, evil)],
                ..q()
            })
            .await
            .unwrap();
        assert!(rows.is_empty(), "{evil}");
    }
    assert!(matches!(
        s.list_users(&ListQuery {
            filters: vec![f("id", FilterOp::Eq, "1 OR 1=1")],
            ..q()
        })
        .await,
        Err(StoreError::InvalidQuery(_))
    ));
    assert_eq!(
        s.list_users(&q()).await.unwrap().len(),
        5,
        "the table is still there"
    );
}

/// Opens a second, plain connection to the store's file, as another writer would.
async fn raw(store: &Store) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", store.path().display()))
        .await
        .expect("connect")
}

async fn digest_of(conn: &mut sqlx::SqliteConnection, ext: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT digest FROM saas_users WHERE external_id = ?")
        .bind(ext)
        .fetch_one(conn)
        .await
        .expect("read digest")
}

#[tokio::test]
async fn account_digests_decide_unchanged_and_are_cleared_by_other_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path()).await;
    let o = opts(Preference::CreateAndUpdate, Selection::UserPlusSaasUser);
    let a = || account("u1", "ada@example.com", "ada@example.com");
    assert_eq!(
        run_all(&s, &o, vec![a()], true).await,
        vec![Outcome::Created]
    );
    let mut conn = raw(&s).await;
    let first = digest_of(&mut conn, "u1").await;
    assert!(first.is_some(), "a new account is stored with its digest");

    // Another writer changes the content: the trigger clears the digest, and the next sync
    // compares the full content, finds it changed and writes it back with a digest.
    sqlx::query("UPDATE saas_users SET active = 0 WHERE external_id = 'u1'")
        .execute(&mut conn)
        .await
        .expect("update");
    assert_eq!(digest_of(&mut conn, "u1").await, None);
    assert_eq!(
        run_all(&s, &o, vec![a()], true).await,
        vec![Outcome::Updated]
    );
    let (active, digest): (bool, Option<i64>) =
        sqlx::query_as("SELECT active, digest FROM saas_users WHERE external_id = 'u1'")
            .fetch_one(&mut conn)
            .await
            .expect("read");
    assert!(active);
    assert_eq!(digest, first);

    // A row without a digest but with the same content (as schema 1 wrote them) is
    // unchanged; the run stores its digest.
    sqlx::query("UPDATE saas_users SET digest = NULL")
        .execute(&mut conn)
        .await
        .expect("clear");
    assert_eq!(
        run_all(&s, &o, vec![a()], true).await,
        vec![Outcome::Unchanged]
    );
    assert_eq!(digest_of(&mut conn, "u1").await, first);

    // A change of any content column is seen through the digest.
    let mut changed = a();
    changed.fields.insert("license", json!("free"));
    assert_eq!(
        run_all(&s, &o, vec![changed], true).await,
        vec![Outcome::Updated]
    );
    let fields: String =
        sqlx::query_scalar("SELECT fields FROM saas_users WHERE external_id = 'u1'")
            .fetch_one(&mut conn)
            .await
            .expect("read fields");
    assert_eq!(fields, r#"{"userName":"ada@example.com","license":"free"}"#);
    assert_ne!(digest_of(&mut conn, "u1").await, first);
}
