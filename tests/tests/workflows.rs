//! Workflows against the in-process Miro-like server and a real SQLite file: accounts are
//! synced first (with last activity from the members list), then planned and applied.
//! Plans list exactly the right accounts and change nothing; apply deactivates exactly
//! those (checked on the server); reruns do nothing; exemptions hold; the guard stops a run
//! before its first change; a 429 is retried and a 500 recorded, and a rerun finishes;
//! role retrieval marks accounts the app no longer has; the webhook gets the summary;
//! the loader reports FILE:LINE:COLUMN; and the real binary's `workflows` and `audit`.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use rollcall_core::action::ActionRunner;
use rollcall_core::integration::{Integration, load_integration};
use rollcall_core::observe::Silent;
use rollcall_core::{Connector, Inputs, Origin, ProvidedInputs};
use rollcall_source::SourceFile;
use rollcall_store::{AuditQuery, AuditResult, ListQuery, Store};
use rollcall_sync::RunOptions;
use rollcall_tests::{
    TOKEN, TestManifest, rest_inputs_integration, rollcall_bin, server, workspace_root,
};
use rollcall_testserver::{Fault, Match, ScimServer};
use rollcall_workflow::{
    ExecuteOptions, Mode, Progress, Target, Trigger, UserOutcome, Workflow, WorkflowReport,
};
use serde_json::{Value, json};

fn integration(connector: &Arc<Connector>) -> Integration {
    let text = "name: Miro Users\nconnector: miro\nsaas: { app: Miro, instance: Miro EU }\npreference: create-and-update\nrole: Employee\nsync_key: username\n";
    let c = connector.clone();
    let find = move |name: &str| (name == "miro").then(|| c.clone());
    load_integration(SourceFile::new("it.yaml", text), &find).unwrap_or_else(|e| panic!("{e}"))
}

fn inputs(connector: &Connector, server: &ScimServer) -> Inputs {
    let h = server.handle();
    let mut p = ProvidedInputs::new();
    let test = || Origin::Other("test".into());
    p.provide("base_url", server.scim_base_url(), test());
    p.provide("token", TOKEN, test());
    p.provide("org_id", h.config().org_id.clone(), test());
    p.provide("rest_token", h.config().rest_token.clone(), test());
    p.provide("rest_base_url", h.origin(), test());
    Inputs::resolve(connector, p).unwrap_or_else(|e| panic!("inputs refused: {e:?}"))
}

fn ago(days: i64) -> Option<String> {
    Some((Utc::now() - Duration::days(days)).to_rfc3339())
}

/// A synced store over a server whose accounts are, by index:
/// 0 active, last active 200 days ago → selected
/// 1 active, never active → selected (never_active: match)
/// 2 active, active 5 days ago → not selected
/// 3 inactive, last active 300 days ago → not selected (active rule)
/// 4 active, 400 days ago, exempt by username (written in upper case)
/// 5 active, 120 days ago, exempt by id
/// 6 active, 91 days ago → selected
/// the rest active, recently → not selected
struct World {
    _dir: tempfile::TempDir,
    store: Store,
    server: ScimServer,
    connector: Arc<Connector>,
    integration: Integration,
    inputs: Inputs,
    ids: Vec<String>,
}

impl World {
    async fn new(users: usize) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let server = server(users).await;
        let h = server.handle();
        let ids = h.user_ids();
        for id in &ids {
            h.set_active(id, true);
            h.set_last_activity(id, ago(2));
        }
        h.set_last_activity(&ids[0], ago(200));
        h.set_last_activity(&ids[1], None);
        h.set_last_activity(&ids[2], ago(5));
        h.set_active(&ids[3], false);
        h.set_last_activity(&ids[3], ago(300));
        h.set_last_activity(&ids[4], ago(400));
        h.set_last_activity(&ids[5], ago(120));
        h.set_last_activity(&ids[6], ago(91));
        let connector = TestManifest::default().load();
        let integration = integration(&connector);
        let inputs = inputs(&connector, &server);
        let w = World {
            _dir: dir,
            store,
            server,
            connector,
            integration,
            inputs,
            ids,
        };
        w.sync().await;
        w
    }

    async fn sync(&self) {
        let r = rollcall_sync::run(
            &self.store,
            &self.integration,
            self.connector.clone(),
            &self.inputs,
            RunOptions {
                dry_run: false,
                sync_time: Utc::now(),
            },
            Arc::new(Silent),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    fn username(&self, i: usize) -> String {
        self.server.handle().user(&self.ids[i]).unwrap()["userName"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn workflow(&self, body: &str) -> Workflow {
        let text = format!("name: Deactivate inactive Miro users\nintegration: Miro Users\n{body}");
        self.load(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn load(&self, text: &str) -> Result<Workflow, String> {
        let target = Target {
            integration: self.integration.clone(),
            connector: self.connector.clone(),
        };
        rollcall_workflow::load_workflow(SourceFile::new("wf.yaml", text), &|name| {
            if name == "Miro Users" {
                Ok(target.clone())
            } else {
                Err((format!("there is no integration named `{name}`"), None))
            }
        })
        .map_err(|e| e.render())
    }

    /// The workflow with the test's exemptions and the given blocks and guard.
    fn inactivity(&self, blocks: &str, guard: &str) -> Workflow {
        self.workflow(&format!(
            "schedule: daily at 06:00\nbegin:\n  rules:\n    all:\n      - {{ field: active, equals: true }}\n      - {{ field: last_activity_at, older_than: 90d, never_active: match }}\n  exempt: [ \"{}\", \"{}\" ]\nblocks:\n{blocks}{guard}",
            self.username(4).to_uppercase(),
            self.ids[5]
        ))
    }

    fn runner(&self) -> ActionRunner {
        ActionRunner::new(self.connector.clone(), &self.inputs, Arc::new(Silent)).unwrap()
    }

    async fn execute(&self, w: &Workflow, mode: Mode) -> (WorkflowReport, Vec<UserOutcome>) {
        let seen = Seen::default();
        let runner = self.runner();
        let report = rollcall_workflow::execute(
            &self.store,
            w,
            Some(&runner),
            ExecuteOptions::new(mode, Trigger::Cli),
            &seen,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let users = seen.0.lock().unwrap().clone();
        (report, users)
    }

    fn server_active(&self, i: usize) -> bool {
        self.server.handle().user(&self.ids[i]).unwrap()["active"] == json!(true)
    }

    /// Requests that act on one user (GET/PATCH /Users/{id}).
    fn user_requests(&self) -> Vec<String> {
        self.server
            .handle()
            .requests()
            .iter()
            .filter(|r| r.path.contains("/Users/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    async fn account(&self, i: usize) -> serde_json::Map<String, Value> {
        let rows = self
            .store
            .list_saas_users(&ListQuery {
                filters: vec![rollcall_store::Filter {
                    field: "external_id".into(),
                    op: rollcall_store::FilterOp::Eq,
                    value: self.ids[i].clone(),
                    or_empty: false,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        rows.into_iter().next().expect("the account is stored")
    }

    async fn audit(&self, run_id: i64) -> Vec<rollcall_store::AuditEntry> {
        self.store
            .audit_entries(&AuditQuery {
                run_id: Some(run_id),
                ..Default::default()
            })
            .await
            .unwrap()
    }
}

#[derive(Default)]
struct Seen(Mutex<Vec<UserOutcome>>);

impl Progress for Seen {
    fn user(&self, outcome: &UserOutcome) {
        self.0.lock().unwrap().push(outcome.clone());
    }
}

fn ids_of(users: &[UserOutcome], exempt: bool) -> BTreeSet<String> {
    users
        .iter()
        .filter(|u| u.exempt.is_some() == exempt)
        .map(|u| u.id.clone())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

const BOTH: &str = "  - role_retrieval: { deactivate_missing: true }\n  - deactivate: {}\n";

#[tokio::test]
async fn the_plan_lists_exactly_the_right_accounts_says_why_and_changes_nothing() {
    let w = World::new(20).await;
    let wf = w.inactivity(BOTH, "guard: { max_actions: \"25%\" }\n");
    w.server.handle().reset_requests();
    let (report, users) = w.execute(&wf, Mode::Plan).await;
    let ids = &w.ids;
    assert_eq!(ids_of(&users, false), set(&[&ids[0], &ids[1], &ids[6]]));
    assert_eq!(ids_of(&users, true), set(&[&ids[4], &ids[5]]));
    assert_eq!((report.accounts, report.matched, report.exempt), (20, 5, 2));
    assert_eq!(report.limit, Some(5));
    assert!(report.succeeded() && report.aborted.is_none());
    let by_id = |id: &str| users.iter().find(|u| u.id == id).unwrap().clone();
    assert!(
        by_id(&ids[0])
            .rule
            .starts_with("active = true and last_activity_at older than 90d ("),
        "{}",
        by_id(&ids[0]).rule
    );
    assert_eq!(
        by_id(&ids[1]).rule,
        "active = true and last_activity_at is empty (never active: match)"
    );
    let actions: Vec<(String, AuditResult)> = by_id(&ids[6])
        .actions
        .iter()
        .map(|a| (a.action.clone(), a.result))
        .collect();
    assert_eq!(
        actions,
        [
            ("role_retrieval".to_string(), AuditResult::Planned),
            ("deactivate".to_string(), AuditResult::Planned)
        ]
    );
    // Nothing was asked of the app, nothing changed on the server or in the store.
    assert_eq!(w.user_requests(), Vec::<String>::new());
    assert!((0..20).filter(|i| *i != 3).all(|i| w.server_active(i)));
    assert_eq!(w.account(0).await["active"], json!(true));
    // The plan is in the audit log: 3 accounts × 2 planned actions + 2 exempt.
    let log = w.audit(report.run_id).await;
    assert_eq!(log.len(), 8);
    assert_eq!(
        log.iter()
            .filter(|e| e.result == AuditResult::Planned)
            .count(),
        6
    );
    assert!(log.iter().all(|e| e.mode == Mode::Plan));
}

#[tokio::test]
async fn a_plan_that_selects_everyone_by_an_empty_date_says_so() {
    let w = World::new(10).await;
    for id in &w.ids {
        w.server.handle().set_last_activity(id, None);
    }
    w.sync().await;
    let wf = w.inactivity(BOTH, "");
    let (report, _) = w.execute(&wf, Mode::Plan).await;
    assert_eq!(
        (report.matched, report.exempt),
        (9, 2),
        "all but the inactive one"
    );
    assert_eq!(report.warnings.len(), 1, "{report:?}");
    assert!(report.warnings[0].contains("7 account(s) were selected because a date is empty"));
    let (normal, _) = World::new(10).await.execute(&wf, Mode::Plan).await;
    assert!(normal.warnings.is_empty(), "{normal:?}");
}

#[tokio::test]
async fn apply_deactivates_exactly_the_selected_accounts_and_a_rerun_does_nothing() {
    let w = World::new(20).await;
    let wf = w.inactivity(BOTH, "guard: { max_actions: 3 }\n");
    let (report, users) = w.execute(&wf, Mode::Apply).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        ids_of(&users, false),
        set(&[&w.ids[0], &w.ids[1], &w.ids[6]])
    );
    for i in 0..20 {
        let want = !matches!(i, 0 | 1 | 3 | 6);
        assert_eq!(w.server_active(i), want, "account {i} on the server");
    }
    assert!(
        w.server_active(4) && w.server_active(5),
        "exempt accounts are left alone"
    );
    for i in [0, 1, 6] {
        let a = w.account(i).await;
        assert_eq!(a["active"], json!(false), "account {i} in the store");
        assert!(
            a["roles"].as_array().is_some_and(|r| !r.is_empty()),
            "role retrieval stored the roles: {a:?}"
        );
    }
    assert_eq!(report.actions["deactivate"].ok, 3);
    assert_eq!(report.actions["role_retrieval"].ok, 3);
    let patches = w
        .user_requests()
        .iter()
        .filter(|r| r.starts_with("PATCH"))
        .count();
    assert_eq!(patches, 3);

    // Rerun: the store knows they are inactive; nothing matches, nothing is sent.
    w.server.handle().reset_requests();
    let (again, users) = w.execute(&wf, Mode::Apply).await;
    assert_eq!(again.selected(), 0);
    assert_eq!(ids_of(&users, false), BTreeSet::new());
    assert_eq!(w.user_requests(), Vec::<String>::new());

    // A workflow without the `active` rule selects them again: deactivating is a noop.
    let any_state = w.workflow(
        "begin:\n  rules: { field: last_activity_at, older_than: 90d, never_active: match }\nblocks:\n  - deactivate: {}\n",
    );
    let (noop, users) = w.execute(&any_state, Mode::Apply).await;
    assert!(noop.succeeded());
    assert_eq!(
        ids_of(&users, false),
        set(&[
            &w.ids[0], &w.ids[1], &w.ids[3], &w.ids[4], &w.ids[5], &w.ids[6]
        ])
    );
    // 0, 1, 3, 6 are inactive: noops. 4 and 5 (not exempt here) are deactivated.
    assert_eq!(noop.actions["deactivate"].noop, 4);
    assert_eq!(noop.actions["deactivate"].ok, 2);
    let patched: Vec<String> = w
        .user_requests()
        .into_iter()
        .filter(|r| r.starts_with("PATCH"))
        .collect();
    assert_eq!(patched.len(), 2, "{patched:?}");
}

#[tokio::test]
async fn the_guard_stops_the_run_before_its_first_change() {
    let w = World::new(20).await;
    for guard in [
        "guard: { max_actions: 2 }\n",
        "guard: { max_actions: \"10%\" }\n",
    ] {
        let wf = w.inactivity(BOTH, guard);
        w.server.handle().reset_requests();
        let (report, users) = w.execute(&wf, Mode::Apply).await;
        assert!(!report.succeeded());
        let why = report.aborted.clone().expect("the guard stops it");
        assert!(
            why.contains("would act on 3 accounts, more than the guard allows (2"),
            "{why}"
        );
        assert!(users.is_empty());
        assert_eq!(w.user_requests(), Vec::<String>::new(), "nothing was sent");
        assert!((0..20).filter(|i| *i != 3).all(|i| w.server_active(i)));
        let log = w.audit(report.run_id).await;
        assert_eq!(log.len(), 1);
        assert_eq!(
            (log[0].action.as_str(), log[0].result),
            ("guard", AuditResult::Failed)
        );
        let runs = w.store.workflow_runs(Some(&wf.name), 1).await.unwrap();
        assert_eq!(runs[0].status, rollcall_store::WorkflowRunStatus::Aborted);
    }
}

#[tokio::test]
async fn a_429_is_retried_a_500_is_recorded_and_the_rerun_finishes() {
    let w = World::new(12).await;
    let wf = w.inactivity("  - deactivate: {}\n", "");
    let h = w.server.handle();
    h.push_fault(Fault::too_many_requests(Match::PatchUser, 1, Some("0")));
    // More 500s than the manifest's attempts: one account's deactivation fails.
    h.push_fault(Fault::scim_error(
        Match::PatchUser,
        4,
        500,
        None,
        "internal error",
    ));
    let (report, users) = w.execute(&wf, Mode::Apply).await;
    assert!(!report.succeeded());
    let c = report.actions["deactivate"];
    assert_eq!((c.ok, c.failed), (2, 1), "{report:?}");
    let failed: Vec<&UserOutcome> = users
        .iter()
        .filter(|u| u.actions.iter().any(|a| a.result == AuditResult::Failed))
        .collect();
    assert_eq!(failed.len(), 1);
    let detail = &failed[0].actions[0].detail;
    assert!(detail.contains("500"), "{detail}");
    assert!(!detail.contains(TOKEN), "no secret in the log");
    let failed_id = failed[0].id.clone();
    let i = w.ids.iter().position(|id| *id == failed_id).unwrap();
    assert!(w.server_active(i), "the failed one is still active");
    assert_eq!(
        [0, 1, 6].iter().filter(|i| !w.server_active(**i)).count(),
        2,
        "the others went on"
    );
    let log = w.audit(report.run_id).await;
    assert_eq!(
        log.iter()
            .filter(|e| e.result == AuditResult::Failed)
            .count(),
        1
    );
    // The rerun finishes what is left.
    let (again, users) = w.execute(&wf, Mode::Apply).await;
    assert!(again.succeeded(), "{again:?}");
    assert_eq!(ids_of(&users, false), set(&[&failed_id]));
    assert!([0, 1, 6].iter().all(|i| !w.server_active(*i)));
}

#[tokio::test]
async fn role_retrieval_marks_accounts_the_app_no_longer_has() {
    let w = World::new(12).await;
    let wf = w.inactivity(BOTH, "");
    assert!(w.server.handle().remove_user(&w.ids[0]));
    let (report, users) = w.execute(&wf, Mode::Apply).await;
    assert!(report.succeeded(), "{report:?}");
    let gone = users.iter().find(|u| u.id == w.ids[0]).unwrap();
    assert_eq!(gone.actions[0].result, AuditResult::Ok);
    assert!(
        gone.actions[0]
            .detail
            .contains("no longer has this account (HTTP 404)"),
        "{}",
        gone.actions[0].detail
    );
    assert_eq!(gone.actions[1].result, AuditResult::Skipped);
    let a = w.account(0).await;
    assert_eq!(
        (a["active"].clone(), a["present"].clone()),
        (json!(false), json!(false))
    );
    // The others were looked up and deactivated.
    assert!(!w.server_active(1) && !w.server_active(6));
    assert_eq!(report.actions["deactivate"].ok, 2);

    // With deactivate_missing off, a missing account is left as it was in the store.
    let w = World::new(12).await;
    let wf = w.inactivity(
        "  - role_retrieval: { deactivate_missing: false }\n  - deactivate: {}\n",
        "",
    );
    assert!(w.server.handle().remove_user(&w.ids[1]));
    let (report, _) = w.execute(&wf, Mode::Apply).await;
    assert_eq!(report.actions["role_retrieval"].skipped, 1);
    let a = w.account(1).await;
    assert_eq!(
        (a["active"].clone(), a["present"].clone()),
        (json!(true), json!(true))
    );
}

#[tokio::test]
async fn notify_posts_the_summary_to_the_webhook() {
    use axum::{Json, Router, routing::post};
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = Router::new().route(
        "/hook/secret-part",
        post(move |Json(v): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let w = World::new(12).await;
    let wf = w.inactivity(
        &format!(
            "  - deactivate: {{}}\n  - notify: {{ url: \"http://{addr}/hook/secret-part\" }}\n"
        ),
        "",
    );
    let (report, _) = w.execute(&wf, Mode::Apply).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.actions["notify"].ok, 1);
    let posted = got.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["workflow"], "Deactivate inactive Miro users");
    assert_eq!(posted[0]["actions"]["deactivate"]["ok"], 3);
    assert!(
        posted[0]["text"]
            .as_str()
            .unwrap()
            .contains("3 of 12 accounts selected (2 more exempt)")
    );
    let log = w.audit(report.run_id).await;
    let entry = log.iter().find(|e| e.action == "notify").unwrap();
    let detail = entry.detail.clone().unwrap();
    assert!(
        !detail.contains("secret-part"),
        "the URL path is not logged: {detail}"
    );
    // A plan does not post.
    let (plan, _) = w.execute(&wf, Mode::Plan).await;
    assert_eq!(plan.actions["notify"].planned, 1);
    assert_eq!(got.lock().unwrap().len(), 1);
}

/// The Miro manifest without `deactivate_user`.
fn without_deactivate() -> Arc<Connector> {
    let text = TestManifest::default().text();
    let start = text.find("\n  deactivate_user:").unwrap();
    let end = text.find("\n  reactivate_user:").unwrap();
    rollcall_tests::load_text(&format!("{}{}", &text[..start], &text[end..]))
}

fn load_with(connector: Arc<Connector>, text: &str) -> Vec<String> {
    let integration = integration(&connector);
    let target = Target {
        integration,
        connector,
    };
    let e = rollcall_workflow::load_workflow(SourceFile::new("wf.yaml", text), &|name| {
        if name == "Miro Users" {
            Ok(target.clone())
        } else {
            Err((format!("there is no integration named `{name}`"), None))
        }
    })
    .expect_err("the file is broken");
    e.diagnostics.iter().map(|d| d.headline()).collect()
}

#[test]
fn validation_locates_unknown_fields_bad_durations_and_missing_actions() {
    let miro = TestManifest::default().load();
    let unknown = "name: W\nintegration: Miro Users\nbegin:\n  rules: { field: active, equals: true }\n  exempts: [a]\nblocks:\n  - deactivate: {}\n";
    let got = load_with(miro.clone(), unknown);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("wf.yaml:5:3: error: ") && got[0].contains("exempts"),
        "{got:?}"
    );

    let bad = "name: W\nintegration: Miro Users\nbegin:\n  rules:\n    all:\n      - { field: active, equals: true }\n      - { field: last_activity_at, older_than: 90x, never_active: match }\n      - { field: last_activty_at, older_than: 90d, never_active: skip }\n      - { field: last_activity_at, older_than: 30d }\nblocks:\n  - deactivate: {}\nguard: { max_actions: \"150%\" }\n";
    assert_eq!(
        load_with(miro.clone(), bad),
        [
            "wf.yaml:7:48: error: `x` in `90x` is not a duration unit: use ms, s, m, h or d",
            "wf.yaml:8:18: error: the accounts have no field `last_activty_at`",
            "wf.yaml:9:48: error: `older_than` on `last_activity_at` needs `never_active`: what about accounts whose date is empty (never active)?",
            "wf.yaml:12:23: error: `150%` is not a share between 0% and 100%",
        ]
    );

    let missing = "name: W\nintegration: Miro Users\nbegin:\n  rules: { field: active, equals: true }\nblocks:\n  - role_retrieval: {}\n  - deactivate: {}\n";
    assert_eq!(
        load_with(without_deactivate(), missing),
        [
            "wf.yaml:7:5: error: `deactivate` needs the action `deactivate_user`, and the connector `miro` of the integration `Miro Users` has none"
        ]
    );
    let elsewhere =
        "name: W\nintegration: Miro User\nbegin:\n  rules: { field: active, equals: true }\n";
    assert_eq!(
        load_with(miro, elsewhere),
        ["wf.yaml:2:14: error: there is no integration named `Miro User`"]
    );
}

/// The binary end to end: integrations, sync, workflows validate/apply/list/run (plan and
/// apply, text and JSON), the guard's exit status and `rollcall audit`.
#[test]
fn the_cli_validates_plans_applies_and_audits() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let world = rt.block_on(World::new(20));
    let dir = tempfile::tempdir().unwrap();
    let connectors = dir.path().join("connectors");
    std::fs::create_dir(&connectors).unwrap();
    std::fs::write(connectors.join("miro.yaml"), TestManifest::default().text()).unwrap();
    let h = world.server.handle();
    let file = dir.path().join("miro.yaml");
    std::fs::write(&file, rest_inputs_integration(&world.server)).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(rollcall_bin())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--connectors-dir")
            .arg(&connectors)
            .args(args)
            .current_dir(workspace_root())
            .env("ROLLCALL_MIRO_TOKEN", TOKEN)
            .env("ROLLCALL_MIRO_REST_TOKEN", &h.config().rest_token)
            .env_remove("ROLLCALL_CONNECTORS_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let ok = |args: &[&str]| {
        let (code, out, err) = run(args);
        assert_eq!(code, 0, "{args:?}: {err}\n{out}");
        out
    };
    ok(&["integrations", "apply", file.to_str().unwrap()]);
    ok(&["run", "Miro Users"]);

    // The example validates against the stored integration once its webhook
    // credential is in the vault.
    let example = "examples/workflows/deactivate-inactive-miro.yaml";
    let (code, _, err) = run(&["workflows", "validate", example]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("error: there is no credential named `team-hook` in the vault"),
        "{err}"
    );
    let added = Command::new(rollcall_bin())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["credentials", "add", "team-hook", "--webhook"])
        .args(["--secret-env", "url=RC_TEST_HOOK"])
        .env(
            "RC_TEST_HOOK",
            "https://hooks.example.com/services/T1/B2/secret",
        )
        .status()
        .unwrap();
    assert!(added.success());
    let out = ok(&["workflows", "validate", example]);
    assert!(
        out.contains(
            "ok, integration `Miro Users` (Miro / Miro EU), blocks: role_retrieval, deactivate, notify"
        ),
        "{out}"
    );
    // A broken file: located errors, exit 1, nothing stored.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "name: W\nintegration: Miro Users\nbegin:\n  rules: { field: last_activity_at, older_than: 90x, never_active: match }\n",
    )
    .unwrap();
    let (code, _, err) = run(&["workflows", "validate", broken.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{}:4:49: error: `x` in `90x`", broken.display())),
        "{err}"
    );

    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        format!(
            "name: Inactive\nintegration: Miro Users\nbegin:\n  rules:\n    all:\n      - {{ field: active, equals: true }}\n      - {{ field: last_activity_at, older_than: 90d, never_active: match }}\n  exempt: [ \"{}\", \"{}\" ]\nblocks:\n  - role_retrieval: {{}}\n  - deactivate: {{}}\nguard: {{ max_actions: 3 }}\n",
            world.username(4),
            world.ids[5]
        ),
    )
    .unwrap();
    let out = ok(&["workflows", "apply", wf.to_str().unwrap()]);
    assert!(out.starts_with("created workflow `Inactive`"), "{out}");
    let out = ok(&["workflows", "list", "--format", "json"]);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (list[0]["name"].as_str(), list[0]["mode"].as_str()),
        (Some("Inactive"), Some("plan"))
    );

    // Plan, JSON: one object per selected account.
    let out = ok(&["workflows", "run", "Inactive", "--format", "json"]);
    let plan: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let planned: BTreeSet<String> = plan
        .iter()
        .filter(|u| u.get("exempt").is_none())
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    let ids = &world.ids;
    assert_eq!(planned, set(&[&ids[0], &ids[1], &ids[6]]));
    let first = plan.iter().find(|u| u["id"] == json!(ids[0])).unwrap();
    assert!(
        first["rule"].as_str().unwrap().contains("older than 90d"),
        "{first}"
    );
    assert_eq!(first["username"], json!(world.username(0)));
    assert_eq!(first["actions"][1]["action"], "deactivate");
    assert_eq!(first["actions"][1]["result"], "planned");
    assert!(world.server_active(0), "a plan changes nothing");

    // Plan, text.
    let out = ok(&["workflows", "run", "Inactive"]);
    assert!(
        out.contains(&format!(
            "{} ({})\n    matched: active = true and last_activity_at",
            world.username(0),
            ids[0]
        )),
        "{out}"
    );
    assert!(out.contains("nothing was changed"), "{out}");

    // Apply.
    let out = ok(&["workflows", "run", "Inactive", "--apply"]);
    assert!(out.contains("deactivate      3 ok"), "{out}");
    assert!(!world.server_active(0) && !world.server_active(1) && !world.server_active(6));
    assert!(world.server_active(4) && world.server_active(5) && world.server_active(2));

    // The guard: a stricter copy stops with exit 3 and changes nothing.
    world.server.handle().set_active(&ids[2], true);
    let strict = dir.path().join("strict.yaml");
    std::fs::write(
        &strict,
        "name: Strict\nintegration: Miro Users\nbegin:\n  rules: { field: active, equals: true }\nblocks:\n  - deactivate: {}\nguard: { max_actions: \"10%\" }\n",
    )
    .unwrap();
    ok(&["workflows", "apply", strict.to_str().unwrap()]);
    let (code, out, _) = run(&["workflows", "run", "Strict", "--apply"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("stopped by the guard"), "{out}");
    assert!(world.server_active(2));

    // The audit log.
    let out = ok(&["audit", "--workflow", "Inactive", "--format", "json"]);
    let log: Vec<Value> = serde_json::from_str(&out).unwrap();
    let applied: Vec<&Value> = log
        .iter()
        .filter(|e| e["mode"] == "apply" && e["action"] == "deactivate")
        .collect();
    assert_eq!(applied.len(), 3);
    assert!(
        applied
            .iter()
            .all(|e| e["result"] == "ok" && e["trigger"] == "cli")
    );
    let out = ok(&["audit", "--format", "csv"]);
    assert!(
        out.starts_with("at,workflow,run,mode,user,external_id,action,result,detail\n"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(",Strict,") && l.contains(",guard,failed,")),
        "{out}"
    );
    let out = ok(&["audit", "--workflow", "Inactive"]);
    assert!(
        out.lines().any(|l| l.contains(&world.username(0))
            && l.contains("deactivate")
            && l.contains(" ok ")),
        "{out}"
    );

    let out = ok(&["workflows", "remove", "Strict"]);
    assert!(out.contains("removed workflow `Strict`"));

    // The daemon runs workflows on their schedules too. `Inactive` says nothing about its
    // mode, so the daemon only records its plan: the audit log gains daemon-triggered plan
    // entries, and the app keeps its state.
    std::fs::write(
        &strict,
        "name: Deactivated\nintegration: Miro Users\nbegin:\n  rules: { field: active, equals: false }\nblocks:\n  - deactivate: {}\n",
    )
    .unwrap();
    ok(&["workflows", "apply", strict.to_str().unwrap()]);
    let out = ok(&["schedule", "--format", "json"]);
    let jobs: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let job = jobs
        .iter()
        .find(|j| j["name"] == "Deactivated")
        .unwrap_or_else(|| panic!("no workflow job in {out}"));
    assert_eq!(
        (job["kind"].as_str(), job["mode"].as_str()),
        (Some("workflow"), Some("plan")),
        "{job}"
    );
    ok(&["daemon", "--once"]);
    let out = ok(&["audit", "--workflow", "Deactivated", "--format", "json"]);
    let log: Vec<Value> = serde_json::from_str(&out).unwrap();
    let by_daemon: BTreeSet<String> = log
        .iter()
        .filter(|e| e["trigger"] == "daemon" && e["mode"] == "plan" && e["action"] == "deactivate")
        .map(|e| e["external_id"].as_str().unwrap_or_default().to_string())
        .collect();
    // The three the apply above deactivated, and any the world started inactive.
    assert!(
        by_daemon.is_superset(&set(&[&ids[0], &ids[1], &ids[6]])),
        "{out}"
    );
    assert!(
        by_daemon.iter().all(|id| {
            let i = ids.iter().position(|x| x == id).unwrap();
            !world.server_active(i)
        }),
        "{out}"
    );
    assert!(
        log.iter()
            .filter(|e| e["trigger"] == "daemon")
            .all(|e| e["mode"] == "plan" && (e["result"] == "noop" || e["result"] == "planned")),
        "{out}"
    );
    assert!(world.server_active(2) && !world.server_active(0));
    let out = ok(&["schedule", "--format", "json"]);
    let jobs: Vec<Value> = serde_json::from_str(&out).unwrap();
    let job = jobs.iter().find(|j| j["name"] == "Deactivated").unwrap();
    assert_eq!(job["last_status"], "completed", "{job}");
    drop(world);
    drop(rt);
}

#[test]
fn the_demo_plans_the_inactivity_workflow() {
    let o = Command::new(rollcall_bin())
        .args(["demo", "--users", "60", "--rows", "3"])
        .env_remove("ROLLCALL_CONNECTORS_DIR")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("6. planned the workflow `Deactivate inactive Miro users`"),
        "{out}"
    );
    assert!(out.contains("nothing was changed (plan)"), "{out}");
}

/// A local webhook receiver: every JSON body POSTed to `/hook/{*rest}` with the path it
/// came on; `/hook/down/...` answers 500.
struct Receiver {
    addr: std::net::SocketAddr,
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    fn start(rt: &tokio::runtime::Runtime) -> Receiver {
        use axum::extract::Path;
        use axum::http::StatusCode;
        use axum::{Json, Router, routing::post};
        let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let sink = got.clone();
        let app = Router::new().route(
            "/hook/{*rest}",
            post(move |Path(rest): Path<String>, Json(v): Json<Value>| {
                let sink = sink.clone();
                async move {
                    let down = rest.starts_with("down/");
                    sink.lock().unwrap().push((rest, v));
                    if down {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, got }
    }

    fn posts(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }
}

/// The real binary on a data directory whose every command's output is kept, so a test
/// can check that none of it holds a secret.
struct Recorded {
    env: rollcall_tests::cli::CliEnv,
    outputs: Mutex<Vec<Vec<u8>>>,
}

impl Recorded {
    fn run(&self, mut cmd: Command, stdin: Option<&str>) -> (i32, String, String) {
        use std::io::Write;
        let o = match stdin {
            None => cmd.output().unwrap(),
            Some(text) => {
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                child.wait_with_output().unwrap()
            }
        };
        let mut outputs = self.outputs.lock().unwrap();
        outputs.push(o.stdout.clone());
        outputs.push(o.stderr.clone());
        (
            o.status.code().expect("exited, not killed"),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let (code, out, err) = self.run(self.env.command(args), None);
        assert_eq!(code, 0, "{args:?}:\n{out}\n{err}");
        (out, err)
    }

    fn fails(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(self.env.command(args), None);
        assert_ne!(code, 0, "{args:?} succeeded:\n{out}\n{err}");
        err
    }

    /// No file under the data directory (database, WAL, key, locks: every byte) and no
    /// output of any command run so far holds any of `secrets`.
    /// `rollcall credentials add NAME --webhook`, the URL from the environment; the
    /// command's exit status, stdout and stderr.
    fn add_webhook(&self, name: &str, url: &str) -> (i32, String, String) {
        let mut add = self.env.command(&[
            "credentials",
            "add",
            name,
            "--webhook",
            "--secret-env",
            "url=RC_TEST_HOOK",
        ]);
        add.env("RC_TEST_HOOK", url);
        self.run(add, None)
    }

    fn assert_never_leaks(&self, secrets: &[&str]) {
        let outputs = self.outputs.lock().unwrap();
        rollcall_tests::assert_no_secret_in(&self.env.data_dir(), &outputs, secrets);
    }
}

/// A synced integration `Miro Users` on the test server, in a fresh data directory.
fn synced(rt: &tokio::runtime::Runtime) -> (Recorded, ScimServer) {
    let server = rt.block_on(rollcall_tests::server(8));
    let r = Recorded {
        env: rollcall_tests::cli::CliEnv::new(),
        outputs: Mutex::default(),
    };
    r.env
        .integration("Miro Users", "Miro EU", &server.scim_base_url(), "");
    r.ok(&["run", "Miro Users"]);
    (r, server)
}

/// A runtime, a webhook receiver on it and a synced integration (see [`synced`]); the
/// runtime is dropped last when the caller binds them in this order.
fn hooked() -> (tokio::runtime::Runtime, Receiver, Recorded, ScimServer) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hooks = Receiver::start(&rt);
    let (r, server) = synced(&rt);
    (rt, hooks, r, server)
}

fn notify_workflow(name: &str, notify: &str) -> String {
    format!(
        "name: {name}\nintegration: Miro Users\nmode: apply\nbegin:\n  rules: {{ field: active, equals: false }}\nblocks:\n  - notify: {notify}\n"
    )
}

/// The webhook URL kept in the vault: stored from the environment and from stdin, listed
/// as a webhook, checked at apply, decrypted for `workflows run --apply` and the daemon,
/// and delivered; the URL and its secret path are in no file of the data directory and
/// in no output.
#[test]
fn a_webhook_url_in_the_vault_is_delivered_and_never_stored_or_shown_in_plain_text() {
    let (_rt, hooks, r, _server) = hooked();
    let secret_path = "T0Secret/B1Secret/XyZ9webhookSecretPath";
    let url = format!("http://{}/hook/{secret_path}", hooks.addr);

    // From the environment.
    let (code, out, err) = r.add_webhook("team-hook", &url);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("stored webhook credential `team-hook` (input: url, to http://127.0.0.1/…)"),
        "{out}"
    );
    // From stdin (one line, as a pipe gives it), and a URL that is refused.
    let add = r
        .env
        .command(&["credentials", "add", "other-hook", "--webhook"]);
    let (code, out, err) = r.run(add, Some(&format!("{url}-other\n")));
    assert_eq!(code, 0, "{out}\n{err}");
    let add = r
        .env
        .command(&["credentials", "add", "plain-hook", "--webhook"]);
    let (code, _, err) = r.run(
        add,
        Some("http://hooks.example.com/services/XyZ9webhookSecretPath\n"),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("plain http to another machine") && err.contains("Nothing was stored"),
        "{err}"
    );

    // Listed as webhooks, never with the value.
    let (out, _) = r.ok(&["credentials", "list", "--format", "json"]);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 2, "{out}");
    let team = list.iter().find(|c| c["name"] == "team-hook").unwrap();
    assert_eq!(
        (&team["kind"], &team["connector"], &team["input_names"]),
        (&json!("webhook"), &Value::Null, &json!(["url"]))
    );
    let (out, _) = r.ok(&["credentials", "list"]);
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("team-hook"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["team-hook", "(webhook)", "url"], "{out}");

    // Applied without a warning, run from the CLI and by the daemon (`mode: apply`).
    let file = r.env.write(
        "hook.yaml",
        &notify_workflow("Hooked", "{ url_credential: team-hook }"),
    );
    let (out, err) = r.ok(&["workflows", "apply", &file]);
    assert!(out.starts_with("created workflow `Hooked`"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    let (out, _) = r.ok(&["workflows", "run", "Hooked"]);
    assert!(out.contains("nothing was changed"), "{out}");
    assert!(hooks.posts().is_empty(), "a plan posts nothing");
    r.ok(&["workflows", "run", "Hooked", "--apply"]);
    r.ok(&["daemon", "--once"]);
    let posts = hooks.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    for ((path, body), trigger) in posts.iter().zip(["cli", "daemon"]) {
        assert_eq!(path, secret_path);
        assert_eq!(
            (&body["workflow"], &body["trigger"]),
            (&json!("Hooked"), &json!(trigger))
        );
    }
    let (out, _) = r.ok(&["audit", "--workflow", "Hooked", "--format", "json"]);
    let log: Vec<Value> = serde_json::from_str(&out).unwrap();
    let sent: Vec<&str> = log
        .iter()
        .filter(|e| e["action"] == "notify" && e["result"] == "ok")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(sent.len(), 2, "{out}");
    assert!(
        sent.iter()
            .all(|d| d.contains("http://127.0.0.1/… (credential `team-hook`)")),
        "{sent:?}"
    );
    r.ok(&["workflows", "show", "Hooked"]);
    r.ok(&["audit"]);

    // A webhook that fails: recorded with its host only.
    let down = format!("http://{}/hook/down/XyZ9webhookSecretPath", hooks.addr);
    assert_eq!(r.add_webhook("down-hook", &down).0, 0);
    let file = r.env.write(
        "down.yaml",
        &notify_workflow("Down", "{ url_credential: down-hook }"),
    );
    r.ok(&["workflows", "apply", &file]);
    let (code, out, err) = r.run(
        r.env.command(&["workflows", "run", "Down", "--apply"]),
        None,
    );
    assert_eq!(code, 1, "a failed notify fails the run:\n{out}\n{err}");
    let (out, _) = r.ok(&["audit", "--workflow", "Down"]);
    assert!(
        out.contains("the webhook http://127.0.0.1/… answered HTTP 500"),
        "{out}"
    );

    r.assert_never_leaks(&[
        &url,
        secret_path,
        "XyZ9webhookSecretPath",
        &format!("{}/hook", hooks.addr),
    ]);
}

/// A missing webhook credential, or one of another kind, is a located error at apply;
/// one removed after the apply fails the run (plan and apply) with a message that says
/// which workflow, which credential and what to do.
#[test]
fn a_missing_or_wrong_webhook_credential_fails_with_a_clear_message() {
    let (_rt, hooks, r, _server) = hooked();

    let file = r.env.write(
        "hook.yaml",
        &notify_workflow("Hooked", "{ url_credential: team-hook }"),
    );
    let err = r.fails(&["workflows", "validate", &file]);
    assert!(
        err.contains(&format!(
            "{file}:7:31: error: there is no credential named `team-hook` in the vault"
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: store the webhook URL in the vault with `rollcall credentials add team-hook --webhook`"),
        "{err}"
    );
    assert!(
        r.fails(&["workflows", "apply", &file])
            .contains(":7:31: error:")
    );

    let mut add = r.env.command(&[
        "credentials",
        "add",
        "team-hook",
        "--connector",
        "miro",
        "--secret-env",
        "token=ROLLCALL_MIRO_TOKEN",
    ]);
    add.env("ROLLCALL_MIRO_TOKEN", TOKEN);
    assert_eq!(r.run(add, None).0, 0);
    let err = r.fails(&["workflows", "apply", &file]);
    assert!(
        err.contains("error: the credential `team-hook` holds the secret inputs of the connector `miro`, not a webhook URL"),
        "{err}"
    );
    r.ok(&["credentials", "remove", "team-hook"]);

    let hook = format!("http://{}/hook/x", hooks.addr);
    assert_eq!(r.add_webhook("team-hook", &hook).0, 0);
    r.ok(&["workflows", "apply", &file]);
    r.ok(&["credentials", "remove", "team-hook"]);
    for args in [
        &["workflows", "run", "Hooked", "--apply"][..],
        &["workflows", "run", "Hooked"][..],
    ] {
        let err = r.fails(args);
        assert!(
            err.contains("the workflow `Hooked` posts to the webhook credential `team-hook`, and there is no credential of that name"),
            "{err}"
        );
        assert!(
            err.contains("`rollcall credentials add team-hook --webhook`"),
            "{err}"
        );
    }
    assert!(hooks.posts().is_empty());
    // The daemon records the same reason on the job.
    r.fails(&["daemon", "--once"]);
    let (out, _) = r.ok(&["schedule", "--format", "json"]);
    let jobs: Vec<Value> = serde_json::from_str(&out).unwrap();
    let job = jobs.iter().find(|j| j["name"] == "Hooked").unwrap();
    assert_eq!(job["last_status"], "failed", "{job}");
    assert!(
        job["last_message"]
            .as_str()
            .unwrap_or_default()
            .contains("no credential of that name"),
        "{job}"
    );
}

/// A webhook URL written in the file still works, and `apply` and `validate` warn,
/// located, that it is stored in plain text and how to move it to the vault.
#[test]
fn a_literal_webhook_url_still_works_and_apply_warns() {
    let (_rt, hooks, r, _server) = hooked();
    let file = r.env.write(
        "literal.yaml",
        &notify_workflow(
            "Literal",
            &format!("{{ url: \"http://{}/hook/literal-part\" }}", hooks.addr),
        ),
    );
    for verb in ["validate", "apply"] {
        let (_, err) = r.ok(&["workflows", verb, &file]);
        assert!(
            err.contains(&format!(
                "{file}:7:20: warning: the webhook URL to http://127.0.0.1/… is written in the file, so rollcall's database will keep it, and the secret in it, in plain text"
            )),
            "{err}"
        );
        assert!(
            err.contains(
                "hint: keep it in the vault instead: `rollcall credentials add team-hook --webhook`"
            ),
            "{err}"
        );
    }
    r.ok(&["workflows", "run", "Literal", "--apply"]);
    let posts = hooks.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, "literal-part");
    assert_eq!(posts[0].1["workflow"], "Literal");
}
