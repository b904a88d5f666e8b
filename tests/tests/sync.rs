//! Sync runs against the in-process SCIM server into a real SQLite file: both
//! preferences, both user selections, unchanged reruns, accounts gone from the app,
//! failed runs leaving the previous state, concurrent runs, dry runs, a run killed
//! with SIGKILL, a run stopped by SIGINT or SIGTERM, and a list cut by the page limit.

#[cfg(unix)]
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rollcall_core::integration::{Integration, load_integration};
use rollcall_core::observe::Silent;
use rollcall_core::{Connector, Inputs};
use rollcall_source::SourceFile;
use rollcall_store::{ListQuery, NewUser, Store, UserKey};
use rollcall_sync::{RunOptions, SyncError, SyncReport, run};
use rollcall_tests::cli::CliEnv;
#[cfg(unix)]
use rollcall_tests::cli::{Running, wait_for};
use rollcall_tests::{TOKEN, TestManifest, inputs, server};
use rollcall_testserver::{Fault, FaultBody, FaultKind, Match, ScimServer};
use serde_json::Value;

fn integration(connector: &Arc<Connector>, preference: &str, users: &str) -> Integration {
    let text = format!(
        "name: Miro Users\nconnector: miro\nusers: {users}\nsaas: {{ app: Miro, instance: Miro EU }}\npreference: {preference}\nrole: Employee\nsync_key: username\nmappings:\n  smart: true\n  fields:\n    - {{ from: id, to: miro_id, label: \"Miro ID\", create: true }}\n"
    );
    let c = connector.clone();
    let find = move |name: &str| (name == "miro").then(|| c.clone());
    load_integration(SourceFile::new("it.yaml", text), &find).unwrap_or_else(|e| panic!("{e}"))
}

fn opts(second: u32) -> RunOptions {
    RunOptions {
        dry_run: false,
        sync_time: Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, second).unwrap(),
    }
}

async fn people_from(server: &ScimServer, every: usize) -> Vec<NewUser> {
    server
        .handle()
        .users()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(_, u)| NewUser {
            username: u["userName"].as_str().unwrap().to_string(),
            email: None,
            first_name: None,
            last_name: None,
            role: Some("Employee".into()),
            custom: Default::default(),
            source: "test".into(),
        })
        .collect()
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    server: ScimServer,
    connector: Arc<Connector>,
    inputs: Inputs,
}

async fn setup(users: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let server = server(users).await;
    let connector = TestManifest::default().load();
    let inputs = inputs(&connector, &server.scim_base_url(), TOKEN);
    Setup {
        _dir: dir,
        store,
        server,
        connector,
        inputs,
    }
}

impl Setup {
    /// One sync of `i` from the test server into the store, with these options.
    async fn sync(&self, i: &Integration, options: RunOptions) -> Result<SyncReport, SyncError> {
        let connector = self.connector.clone();
        run(
            &self.store,
            i,
            connector,
            &self.inputs,
            options,
            Arc::new(Silent),
        )
        .await
    }
}

async fn count_users(store: &Store) -> usize {
    store.list_users(&ListQuery::default()).await.unwrap().len()
}

async fn saas(store: &Store) -> Vec<serde_json::Map<String, Value>> {
    store
        .list_saas_users(&ListQuery {
            app: Some("Miro".into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn update_only_skips_unknown_people_and_logs_why() {
    let s = setup(40).await;
    let people = people_from(&s.server, 2).await; // 20 of the 40
    s.store
        .import_users(people, UserKey::Username)
        .await
        .unwrap();
    let i = integration(&s.connector, "update-only", "user-plus-saas-user");
    let r = s.sync(&i, opts(0)).await.unwrap();
    let c = r.summary.counts;
    assert_eq!((c.fetched, c.skipped), (40, 20));
    assert_eq!(
        count_users(&s.store).await,
        20,
        "update-only creates no one"
    );
    assert_eq!(
        saas(&s.store).await.len(),
        20,
        "skipped people get no account"
    );
    let errors = s.store.run_errors(r.summary.id).await.unwrap();
    assert_eq!(errors.len(), 20);
    assert!(
        errors[0].reason.contains("preference is update-only"),
        "{}",
        errors[0].reason
    );
    // The custom field from the mapping is stored and listable.
    let miro_ids = s
        .store
        .list_users(&ListQuery {
            columns: Some(vec!["username".into(), "miro_id".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        miro_ids
            .iter()
            .all(|u| u["miro_id"].as_str().is_some_and(|v| !v.is_empty())),
        "{miro_ids:?}"
    );
}

#[tokio::test]
async fn create_and_update_creates_people_with_the_role_and_reruns_change_nothing() {
    let s = setup(30).await;
    let i = integration(&s.connector, "create-and-update", "user-plus-saas-user");
    let first = s.sync(&i, opts(0)).await.unwrap();
    assert_eq!(first.summary.counts.created, 30);
    let users = s.store.list_users(&ListQuery::default()).await.unwrap();
    assert_eq!(users.len(), 30);
    assert!(users.iter().all(|u| u["role"] == "Employee"));
    // A later sync time, the same data: nothing but timestamps changes.
    let again = s.sync(&i, opts(30)).await.unwrap();
    let c = again.summary.counts;
    assert_eq!((c.created, c.updated, c.unchanged), (0, 0, 30), "{c:?}");
    // A deactivation in the app is an update.
    let id = s.server.handle().user_ids()[3].clone();
    s.server.handle().set_active(&id, false);
    let third = s.sync(&i, opts(45)).await.unwrap();
    assert_eq!(
        (third.summary.counts.updated, third.summary.counts.unchanged),
        (1, 29)
    );
    let inactive: Vec<_> = saas(&s.store)
        .await
        .into_iter()
        .filter(|a| a["active"] == false)
        .collect();
    assert!(
        inactive.iter().any(|a| a["external_id"] == id.as_str()),
        "{inactive:?}"
    );
}

#[tokio::test]
async fn user_only_stores_no_accounts() {
    let s = setup(10).await;
    let i = integration(&s.connector, "create-and-update", "user-only");
    s.sync(&i, opts(0)).await.unwrap();
    assert_eq!(count_users(&s.store).await, 10);
    assert!(saas(&s.store).await.is_empty());
}

#[tokio::test]
async fn an_account_gone_from_the_app_is_marked_not_present_never_deleted() {
    let s = setup(12).await;
    let i = integration(&s.connector, "create-and-update", "user-plus-saas-user");
    s.sync(&i, opts(0)).await.unwrap();
    let gone = s.server.handle().user_ids()[5].clone();
    assert!(s.server.handle().remove_user(&gone));
    let r = s.sync(&i, opts(10)).await.unwrap();
    assert_eq!(r.summary.marked_absent, 1);
    let accounts = saas(&s.store).await;
    assert_eq!(accounts.len(), 12, "nothing is deleted");
    let a = accounts
        .iter()
        .find(|a| a["external_id"] == gone.as_str())
        .unwrap();
    assert_eq!(a["present"], false);
}

#[tokio::test]
async fn a_failed_run_leaves_the_previous_state_and_is_recorded() {
    let s = setup(15).await;
    let i = integration(&s.connector, "create-and-update", "user-plus-saas-user");
    s.sync(&i, opts(0)).await.unwrap();
    let before = saas(&s.store).await;
    // The app changes, then fails on the second page of the next run.
    for id in s.server.handle().user_ids().iter().take(3) {
        s.server.handle().set_active(id, false);
    }
    let connector = TestManifest {
        page_size: 5,
        concurrency: 1,
        attempts: 2,
        ..Default::default()
    }
    .load();
    let inputs = inputs(&connector, &s.server.scim_base_url(), TOKEN);
    s.server.handle().push_fault(Fault {
        matcher: Match::ListUsers,
        times: 100,
        kind: FaultKind::Status {
            status: 500,
            retry_after: None,
            body: FaultBody::Empty,
        },
    });
    // Let the first page through: drop the fault after one page is served is not possible,
    // so fail from the first page on; the state must be as before either way.
    let err = run(&s.store, &i, connector, &inputs, opts(20), Arc::new(Silent))
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Fetch { .. }), "{err}");
    assert_eq!(saas(&s.store).await, before, "a failed run changes nothing");
    let runs = s.store.runs(Some("Miro Users")).await.unwrap();
    let failed = runs
        .iter()
        .find(|r| serde_json::to_value(r.status).unwrap() == "failed");
    assert!(failed.is_some(), "{runs:?}");
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let s = setup(8).await;
    let i = integration(&s.connector, "create-and-update", "user-plus-saas-user");
    let o = RunOptions {
        dry_run: true,
        ..opts(0)
    };
    let r = s.sync(&i, o).await.unwrap();
    assert!(r.summary.dry_run);
    assert_eq!(
        r.summary.counts.created, 8,
        "the dry run reports what it would do"
    );
    assert_eq!(count_users(&s.store).await, 0);
    assert!(saas(&s.store).await.is_empty());
}

#[tokio::test]
async fn a_second_run_of_the_same_integration_at_once_is_refused() {
    let s = setup(20).await;
    let i = integration(&s.connector, "create-and-update", "user-plus-saas-user");
    // The first run is slowed by a delay on its first page.
    s.server.handle().push_fault(Fault::delay(
        Match::ListUsers,
        1,
        Duration::from_millis(800),
    ));
    let (store, connector, inp) = (s.store.clone(), s.connector.clone(), s.inputs.clone());
    let i2 = i.clone();
    let first =
        tokio::spawn(
            async move { run(&store, &i2, connector, &inp, opts(0), Arc::new(Silent)).await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = s.sync(&i, opts(1)).await;
    let err = second.unwrap_err();
    assert!(
        err.to_string().contains("running") || err.to_string().contains("in progress"),
        "{err}"
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(
        first.summary.counts.created, 20,
        "the first run is not disturbed"
    );
}

/// The test manifest reading `page_size` users a page, one page at a time.
fn paged(page_size: u32, max_pages: Option<u64>) -> TestManifest {
    TestManifest {
        page_size,
        concurrency: 1,
        max_pages,
        ..Default::default()
    }
}

/// A data directory for the real binary with the integration `Miro Users` (instance
/// Miro EU) reading a new test server of `users` users through `manifest`, after one
/// completed `rollcall run`.
fn after_one_cli_run(
    rt: &tokio::runtime::Runtime,
    users: usize,
    manifest: &TestManifest,
) -> (ScimServer, CliEnv) {
    let server = rt.block_on(server(users));
    let mut env = CliEnv::new();
    env.connector("miro", &manifest.text());
    env.integration("Miro Users", "Miro EU", &server.scim_base_url(), "");
    env.ok(&["run", "Miro Users"]);
    (server, env)
}

/// `rollcall run` killed with SIGKILL in the middle leaves the previous state; the next
/// run works and the killed one is recorded as failed.
#[cfg(unix)]
#[test]
fn a_run_killed_with_sigkill_is_never_half_applied() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, env) = after_one_cli_run(&rt, 60, &paged(10, None));
    let accounts = || {
        rt.block_on(async {
            let store = Store::open(&env.data_dir()).await.unwrap();
            let s = saas(&store).await;
            store.close().await;
            s
        })
    };
    let before = accounts();
    assert_eq!(before.len(), 60);
    // The next run sees changes but is killed while it pages slowly.
    for id in server.handle().user_ids().iter().take(10) {
        server.handle().set_active(id, false);
    }
    server.handle().push_fault(Fault::delay(
        Match::ListUsers,
        100,
        Duration::from_millis(300),
    ));
    let mut child = env
        .command(&["run", "Miro Users"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a few pages were served, then kill.
    wait_for("a few pages of the run", Duration::from_secs(20), || {
        server.handle().list_pages_served() >= 3 + 7
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    server.handle().clear_faults();
    let after = accounts();
    assert_eq!(after, before, "a killed run applies nothing");
    env.ok(&["run", "Miro Users"]);
    let statuses: Vec<Value> = env.runs().iter().map(|r| r["status"].clone()).collect();
    assert!(statuses.contains(&Value::from("failed")), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == "completed").count(),
        2,
        "{statuses:?}"
    );
}

/// A list that still has a next page at the stream's `max_pages` fails `rollcall run`:
/// the run is recorded as failed with why, and no account it did not reach is marked
/// not present (a complete run would have marked most of them gone).
#[test]
fn a_run_stopped_by_the_page_limit_fails_and_marks_nobody_absent() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_server, mut env) = after_one_cli_run(&rt, 30, &paged(5, None));
    let present = |env: &CliEnv| {
        env.json(&["saas-users", "list"])
            .iter()
            .filter(|a| a["present"] == true)
            .count()
    };
    assert_eq!(present(&env), 30);

    env.connector("miro", &paged(5, Some(2)).text());
    let o = env.cmd(&["run", "Miro Users"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the API still had a next page after 2 pages")
            && stderr.contains("`max_pages`"),
        "{stderr}"
    );
    assert_eq!(present(&env), 30, "nobody is marked not present");
    let runs = env.runs();
    assert_eq!(runs[0]["status"], "failed", "{runs:#?}");
    assert!(
        runs[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("still had a next page after 2 pages")),
        "{runs:#?}"
    );
}

/// SIGINT (Ctrl-C) or SIGTERM during `rollcall run` stops the fetch, rolls the run back
/// and records it as cancelled with the daemon's `cancelled:` message; one line says so and
/// the exit status is 128 + the signal's number.
#[cfg(unix)]
#[test]
fn a_signal_during_rollcall_run_rolls_it_back_and_records_it_cancelled() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, env) = after_one_cli_run(&rt, 60, &paged(10, None));
    let before = env.json(&["saas-users", "list"]);
    assert_eq!(before.len(), 60);
    // The next run would deactivate accounts; it is stopped while it pages.
    let turned_off: Vec<String> = server
        .handle()
        .users()
        .iter()
        .take(25)
        .filter(|u| u["active"] == true)
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!turned_off.is_empty());
    for id in &turned_off {
        assert!(server.handle().set_active(id, false));
    }
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let h = server.handle();
        h.reset_requests();
        // Two pages come at once (their records reach the run's transaction), the rest hang.
        h.push_fault(Fault::delay(Match::ListUsers, 2, Duration::ZERO));
        h.push_fault(Fault::delay(
            Match::ListUsers,
            100,
            Duration::from_secs(120),
        ));
        let run = Running(
            env.command(&["run", "Miro Users"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        wait_for("the run to hang on page 3", Duration::from_secs(60), || {
            h.requests()
                .iter()
                .filter(|r| r.path.ends_with("/Users"))
                .count()
                >= 3
        });
        run.signal(signal);
        let (status, stdout, stderr) = run.finish(Duration::from_secs(30));
        h.clear_faults();
        assert_eq!(
            status.code(),
            Some(code),
            "SIG{signal}:\n{stdout}\n{stderr}"
        );
        let said: Vec<&str> = stderr.lines().filter(|l| l.contains("cancel")).collect();
        assert_eq!(
            said,
            [format!(
                "SIG{signal}: run {} of `Miro Users` was cancelled and rolled back; nothing was changed",
                env.runs()[0]["id"]
            )],
            "SIG{signal}:\n{stderr}"
        );
        assert!(!stdout.contains("completed"), "{stdout}");
        assert_eq!(
            env.json(&["saas-users", "list"]),
            before,
            "SIG{signal}: the store holds the previous state"
        );
        let runs = env.runs();
        assert_eq!(runs[0]["status"], "cancelled", "{runs:#?}");
        assert_eq!(
            runs[0]["message"].as_str(),
            Some(rollcall_sync::CANCELLED),
            "{runs:#?}"
        );
        let text = env.ok(&["runs"]);
        assert!(text.contains("cancelled:"), "{text}");
    }
    // Nothing was left half done: the next run applies the changes.
    let out = env.ok(&["run", "Miro Users"]);
    assert!(
        out.contains(&format!("updated    {}\n", turned_off.len())),
        "{out}"
    );
    let statuses: Vec<Value> = env.runs().iter().map(|r| r["status"].clone()).collect();
    assert_eq!(
        statuses,
        ["completed", "cancelled", "cancelled", "completed"],
        "{statuses:?}"
    );
}
