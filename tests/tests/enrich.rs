//! Joins (`enrich`): Miro's SCIM users enriched with `last_activity_at` from the REST
//! members list of the in-process server, into a real SQLite file; and through the real
//! `rollcall` binary.

use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rollcall_core::inputs::{Origin, ProvidedInputs};
use rollcall_core::integration::{Integration, load_integration};
use rollcall_core::observe::Silent;
use rollcall_core::{Connector, Inputs};
use rollcall_source::SourceFile;
use rollcall_store::{ListQuery, Store};
use rollcall_sync::{RunOptions, SyncReport, run};
use rollcall_tests::{
    TOKEN, TestManifest, rest_inputs_integration, rollcall_bin, server, temp_store,
};
use rollcall_testserver::{Fault, Match, ScimServer};
use serde_json::Value;

fn integration(connector: &Arc<Connector>, extra: &str) -> Integration {
    let text = format!(
        "name: Miro Users\nconnector: miro\nsaas: {{ app: Miro, instance: Miro EU }}\npreference: create-and-update\nrole: Employee\nsync_key: username\n{extra}"
    );
    let c = connector.clone();
    let find = move |name: &str| (name == "miro").then(|| c.clone());
    load_integration(SourceFile::new("it.yaml", text), &find).unwrap_or_else(|e| panic!("{e}"))
}

/// A store in a fresh directory, a server with `users` users and the test manifest.
async fn setup(users: usize) -> (tempfile::TempDir, Store, ScimServer, Arc<Connector>) {
    let (dir, store) = temp_store().await;
    (
        dir,
        store,
        server(users).await,
        TestManifest::default().load(),
    )
}

/// The server's SCIM inputs; with `rest_token`, its REST inputs too (with that token).
fn provided(server: &ScimServer, rest_token: Option<&str>) -> ProvidedInputs {
    let mut p = ProvidedInputs::new();
    let test = || Origin::Other("test".into());
    p.provide("base_url", server.scim_base_url(), test());
    p.provide("token", TOKEN, test());
    if let Some(rest_token) = rest_token {
        let h = server.handle();
        p.provide("org_id", h.config().org_id.clone(), test());
        p.provide("rest_token", rest_token, test());
        p.provide("rest_base_url", h.origin(), test());
    }
    p
}

/// The inputs for `server`: SCIM only, or (`rest`) with the REST inputs it accepts.
fn inputs(connector: &Connector, server: &ScimServer, rest: bool) -> Inputs {
    let rest_token = rest.then(|| server.handle().config().rest_token.clone());
    let p = provided(server, rest_token.as_deref());
    Inputs::resolve(connector, p).unwrap_or_else(|e| panic!("inputs refused: {e:?}"))
}

/// A run that writes, at the tests' fixed sync time.
fn run_options() -> RunOptions {
    RunOptions {
        dry_run: false,
        sync_time: Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap(),
    }
}

/// Runs `i` once; the report (the run must succeed).
async fn sync(store: &Store, i: &Integration, c: &Arc<Connector>, inputs: &Inputs) -> SyncReport {
    run(store, i, c.clone(), inputs, run_options(), Arc::new(Silent))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// An RFC 3339 time as UTC.
fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// How many members-list requests the server has seen.
fn members_requests(server: &ScimServer) -> usize {
    server
        .handle()
        .requests()
        .iter()
        .filter(|r| r.path.contains("/members"))
        .count()
}

/// external id → stored `last_activity_at`.
async fn activity(store: &Store) -> Vec<(String, Option<DateTime<Utc>>)> {
    let rows = store
        .list_saas_users(&ListQuery {
            app: Some("Miro".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let t = r["last_activity_at"].as_str().map(utc);
            (r["external_id"].as_str().unwrap().to_string(), t)
        })
        .collect()
}

/// What the server's members list says for `id`.
fn served(server: &ScimServer, id: &str) -> Option<DateTime<Utc>> {
    server.handle().last_activity(id).flatten().map(|s| utc(&s))
}

#[tokio::test]
async fn rest_inputs_fill_last_activity_from_the_members_list_and_reruns_are_unchanged() {
    let (_dir, store, server, c) = setup(230).await; // more than two members pages
    let ids = server.handle().user_ids();
    server.handle().set_last_activity(&ids[0], None);
    server
        .handle()
        .set_last_activity(&ids[1], Some("2025-01-02T03:04:05Z".into()));
    let i = integration(&c, "");
    let inputs = inputs(&c, &server, true);
    let r = sync(&store, &i, &c, &inputs).await;
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let got = activity(&store).await;
    assert_eq!(got.len(), 230);
    let mut some = 0;
    for (id, t) in &got {
        assert_eq!(*t, served(&server, id), "account {id}");
        some += usize::from(t.is_some());
    }
    assert!(
        some > 100,
        "most generated members have been active: {some}"
    );
    let first = got.iter().find(|(id, _)| *id == ids[0]).unwrap();
    assert_eq!(first.1, None, "never logged in: empty");
    assert_eq!(members_requests(&server), 3, "230 members in pages of 100");

    // Nothing changed: the rerun finds every account unchanged (the join keeps digests).
    let again = sync(&store, &i, &c, &inputs).await;
    assert_eq!(again.summary.counts.unchanged, 230);
    assert_eq!(again.summary.counts.updated, 0);
    // A change in the members list alone reaches the account.
    server
        .handle()
        .set_last_activity(&ids[0], Some("2026-10-01T00:00:00Z".into()));
    sync(&store, &i, &c, &inputs).await;
    let got = activity(&store).await;
    assert_eq!(
        got.iter().find(|(id, _)| *id == ids[0]).unwrap().1,
        served(&server, &ids[0])
    );
    let rerun = sync(&store, &i, &c, &inputs).await;
    assert_eq!(
        rerun.summary.counts.unchanged, 230,
        "digests survive the join"
    );
}

#[tokio::test]
async fn without_rest_inputs_last_activity_is_empty_with_one_warning() {
    let (_dir, store, server, c) = setup(20).await;
    let r = sync(
        &store,
        &integration(&c, ""),
        &c,
        &inputs(&c, &server, false),
    )
    .await;
    assert_eq!(r.summary.counts.created, 20);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("`members` stream was not joined")
            && r.warnings[0].contains("`org_id`, `rest_token`"),
        "{}",
        r.warnings[0]
    );
    assert!(activity(&store).await.iter().all(|(_, t)| t.is_none()));
    assert_eq!(members_requests(&server), 0, "no members request");
}

#[tokio::test]
async fn the_integration_can_turn_enrichment_off() {
    let (_dir, store, server, c) = setup(20).await;
    let i = integration(&c, "enrich: false\n");
    let r = sync(&store, &i, &c, &inputs(&c, &server, true)).await;
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert!(activity(&store).await.iter().all(|(_, t)| t.is_none()));
    assert_eq!(members_requests(&server), 0, "no members request");
}

#[tokio::test]
async fn a_member_missing_from_the_members_list_stays_empty() {
    let (_dir, store, server, c) = setup(10).await;
    let ids = server.handle().user_ids();
    for id in &ids {
        server
            .handle()
            .set_last_activity(id, Some("2026-05-05T05:05:05Z".into()));
    }
    // The members list is served from the same users as SCIM; a user removed after the
    // SCIM list was read (while the members request waits) is missing from the members.
    server.handle().push_fault(Fault::delay(
        Match::Members,
        1,
        std::time::Duration::from_millis(400),
    ));
    let h = server.handle().clone();
    let gone = ids[3].clone();
    let remover = tokio::spawn(async move {
        while !h.requests().iter().any(|r| r.path.contains("/members")) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(h.remove_user(&gone));
    });
    let i = integration(&c, "");
    let r = sync(&store, &i, &c, &inputs(&c, &server, true)).await;
    remover.await.unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let got = activity(&store).await;
    assert_eq!(got.len(), 10);
    for (id, t) in &got {
        if *id == ids[3] {
            assert_eq!(*t, None, "not in the members list: empty");
        } else {
            assert_eq!(
                t.map(|t| t.to_rfc3339()),
                Some("2026-05-05T05:05:05+00:00".into())
            );
        }
    }
}

#[tokio::test]
async fn a_429_on_the_members_list_is_retried() {
    let (_dir, store, server, c) = setup(15).await;
    server
        .handle()
        .push_fault(Fault::too_many_requests(Match::Members, 2, Some("0")));
    let r = sync(&store, &integration(&c, ""), &c, &inputs(&c, &server, true)).await;
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    for (id, t) in activity(&store).await {
        assert_eq!(t, served(&server, &id));
    }
    assert_eq!(members_requests(&server), 3, "two 429s, then the page");
}

#[test]
fn rollcall_run_with_rest_inputs_stores_last_activity() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(server(12));
    let dir = tempfile::tempdir().unwrap();
    let h = server.handle();
    let file = dir.path().join("miro.yaml");
    std::fs::write(&file, rest_inputs_integration(&server)).unwrap();
    let cmd = |args: &[&str]| {
        let o = Command::new(rollcall_bin())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .env("ROLLCALL_MIRO_TOKEN", TOKEN)
            .env("ROLLCALL_MIRO_REST_TOKEN", &h.config().rest_token)
            .env_remove("ROLLCALL_CONNECTORS_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    cmd(&["integrations", "apply", file.to_str().unwrap()]);
    let (out, err) = cmd(&["run", "Miro Users"]);
    assert!(out.contains("created    12"), "{out}");
    assert!(!err.contains("not joined"), "{err}");
    let (list, _) = cmd(&[
        "saas-users",
        "list",
        "--app",
        "Miro",
        "--format",
        "json",
        "--columns",
        "external_id,last_activity_at",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(rows.len(), 12);
    for r in rows {
        let id = r["external_id"].as_str().unwrap();
        let t = r["last_activity_at"].as_str().map(utc);
        assert_eq!(t, served(&server, id), "{id}");
    }
    drop(rt);
}

#[tokio::test]
async fn a_members_list_that_refuses_the_token_fails_the_run_and_changes_nothing() {
    let (_dir, store, server, c) = setup(8).await;
    let inputs = Inputs::resolve(&c, provided(&server, Some("not-the-rest-token"))).unwrap();
    let err = run(
        &store,
        &integration(&c, ""),
        c.clone(),
        &inputs,
        run_options(),
        Arc::new(Silent),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("joining the `members` stream failed") && err.contains("401"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-rest-token"),
        "the token is never shown: {err}"
    );
    assert!(activity(&store).await.is_empty(), "the run was rolled back");
}
