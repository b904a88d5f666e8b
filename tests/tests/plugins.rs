//! Plugins: dynamic libraries and subprocesses built from this workspace, loaded
//! through the real host; every failure the plugin issue lists (library missing, ABI
//! mismatch, missing symbol, panic, invalid JSON, a subprocess that exits, hangs or
//! writes garbage, a sha256 mismatch), and fetches and CLI runs that use them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::action::{ActionCall, ActionOutcome, ActionRunner};
use rollcall_core::manifest::{LoadError, load_connector_with_plugins};
use rollcall_core::plugin::{Plugin, PluginHost, RecordOutcome, Request, Response};
use rollcall_core::raw_record::{RawRecord, RecordView};
use rollcall_core::{Connector, FetchOptions};
use rollcall_plugins::Host;
use rollcall_source::SourceFile;
use rollcall_tests::plugins::{
    fetch_with_plugins, host, install, install_script, library, library_dir, library_file,
    list_plugins, python_example,
};
use rollcall_tests::{
    Recorder, TOKEN, TestManifest, inputs, one_worker_runtime, rollcall_bin, run_connector, server,
    temp_store, workspace_root,
};
use rollcall_testserver::{Fault, FaultKind, Match};
use serde_json::{Value, json};

/// A plugin directory with the Rust example as `libseat_type.so`.
fn dylib_dir() -> tempfile::TempDir {
    library_dir("seat_type").0
}

/// A plugin directory with the Python example as `seat_type.py`.
fn python_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &python_example(), "seat_type.py");
    dir
}

/// The test manifest with pages of `page_size`, read one at a time.
fn one_at_a_time(page_size: u32) -> TestManifest {
    TestManifest {
        page_size,
        concurrency: 1,
        ..TestManifest::default()
    }
}

/// A manifest `text` with `plugin` declared under `plugins:`.
fn declare_plugin(text: &str, plugin: &str) -> String {
    text.replace(
        "\nstreams:\n",
        &format!("\nplugins:\n  {plugin}: {{}}\nstreams:\n"),
    )
}

/// `manifest`'s text with the field read from `path` sent through `plugin`'s `function`,
/// the plugin declared.
fn field_transformed(
    manifest: TestManifest,
    path: &str,
    (plugin, function): (&str, &str),
) -> String {
    declare_plugin(&manifest.text(), plugin).replace(
        &format!("        path: {path}\n"),
        &format!("        path: {path}\n        transform: {{ plugin: {plugin}, function: {function} }}\n"),
    )
}

/// `manifest`'s text with its bearer auth replaced by `plugin`'s `sign` function; `extra`
/// goes after the function (`, config: …` or nothing).
fn auth_plugin_manifest(manifest: TestManifest, plugin: &str, extra: &str) -> String {
    manifest.text().replace(
        "auth:\n  bearer:\n    token: \"{{token}}\"\n",
        &format!(
            "plugins:\n  {plugin}: {{}}\nauth:\n  plugin: {{ plugin: {plugin}, function: sign{extra} }}\n"
        ),
    )
}

/// An answer to the next list request that echoes the request's headers, with `status`.
fn echo_headers(status: u16) -> Fault {
    Fault {
        matcher: Match::ListUsers,
        times: 1,
        kind: FaultKind::EchoHeaders { status },
    }
}

fn transform(p: &dyn Plugin, function: &str, value: Value, record: Option<Value>) -> Response {
    p.invoke(&Request::Transform {
        function: function.into(),
        value,
        record,
        config: Value::Null,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn open_err(h: &Host, name: &str) -> String {
    match h.open(name, None) {
        Ok(_) => panic!("the plugin `{name}` should not open"),
        Err(e) => e,
    }
}

fn check_example(p: &dyn Plugin) {
    let d = p.description();
    assert_eq!(d.name, "seat_type");
    let functions: Vec<&str> = d.capabilities.iter().map(|c| c.function.as_str()).collect();
    assert_eq!(functions, ["seat_type", "full_name", "enrich"]);
    assert_eq!(
        transform(p, "seat_type", json!("Full (Trial)"), None),
        Response::Value {
            value: json!("trial")
        }
    );
    assert_eq!(
        transform(
            p,
            "full_name",
            json!("x"),
            Some(json!({"name": {"givenName": "Ada", "familyName": "Lovelace"}}))
        ),
        Response::Value {
            value: json!("Ada Lovelace")
        }
    );
    let batch = p
        .invoke(&Request::Batch {
            function: "enrich".into(),
            records: vec![
                json!({"userName": "a@x", "userType": "Free Restricted", "displayName": "A"}),
                json!({"id": "2"}),
            ],
            config: Value::Null,
        })
        .unwrap();
    assert_eq!(
        batch,
        Response::Records {
            records: vec![
                RecordOutcome::Set(
                    json!({"seatType": "restricted", "fullName": "A"})
                        .as_object()
                        .cloned()
                        .unwrap()
                ),
                RecordOutcome::Drop("it has no userName".into()),
            ]
        }
    );
    // The plugin's own refusal is a response, not a failure of the plugin.
    assert!(matches!(
        transform(p, "seat_type", json!(3), None),
        Response::Error { .. }
    ));
}

#[test]
fn the_rust_example_loads_as_a_dynamic_library_and_answers() {
    let dir = dylib_dir();
    let h = host(dir.path(), Duration::from_secs(5));
    let p = h.open("seat_type", None).unwrap();
    check_example(p.as_ref());
    // Opened once per process.
    assert!(Arc::ptr_eq(&p, &h.open("seat_type", None).unwrap()));
}

#[test]
fn the_python_example_runs_as_a_subprocess_and_answers_the_same() {
    let dir = python_dir();
    let h = host(dir.path(), Duration::from_secs(10));
    let p = h.open("seat_type", None).unwrap();
    check_example(p.as_ref());
}

#[test]
fn a_missing_plugin_names_the_directories() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(&host(dir.path(), Duration::from_secs(1)), "seat_type");
    assert!(e.contains("the plugin `seat_type` was not found"), "{e}");
    assert!(e.contains(&dir.path().display().to_string()), "{e}");
}

#[test]
fn a_library_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(library_file("broken"));
    std::fs::write(&file, b"not an ELF file").unwrap();
    let e = open_err(&host(dir.path(), Duration::from_secs(1)), "broken");
    assert!(e.contains("cannot be loaded as a dynamic library"), "{e}");
    assert!(e.contains(&file.display().to_string()), "{e}");
}

#[test]
fn an_abi_version_mismatch_is_refused_before_anything_else() {
    let (dir, file) = library_dir("wrong_abi");
    let e = open_err(&host(dir.path(), Duration::from_secs(1)), "wrong_abi");
    assert!(e.contains("plugin ABI version 9999"), "{e}");
    assert!(e.contains("speaks versions 1 to 2"), "{e}");
    assert!(e.contains(&file.display().to_string()), "{e}");
}

#[test]
fn a_missing_symbol_is_named() {
    let (dir, file) = library_dir("no_invoke");
    let e = open_err(&host(dir.path(), Duration::from_secs(1)), "no_invoke");
    assert!(
        e.contains("does not export `rollcall_plugin_invoke`"),
        "{e}"
    );
    assert!(e.contains(&file.display().to_string()), "{e}");
}

#[test]
fn a_panic_inside_a_library_is_an_error_and_the_host_goes_on() {
    let (dir, file) = library_dir("faulty");
    let h = host(dir.path(), Duration::from_secs(1));
    let p = h.open("faulty", None).unwrap();
    let call = |function: &str| {
        p.invoke(&Request::Transform {
            function: function.into(),
            value: json!("x"),
            record: None,
            config: Value::Null,
        })
    };
    let e = call("panic").unwrap_err();
    assert!(
        e.contains("panicked: the faulty plugin panics on \"x\""),
        "{e}"
    );
    assert!(e.contains(&file.display().to_string()), "{e}");
    // The library still works after the panic.
    assert_eq!(
        call("upper").unwrap(),
        Response::Value { value: json!("X") }
    );
}

/// Runs `f` on a thread of its own and waits at most `limit` for it: a call that
/// hangs fails the test instead of hanging it.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|e| panic!("the call did not come back within {limit:?}: {e}"))
}

/// A library call that never returns fails at the timeout with what to do; the plugin
/// is then stuck, and every later call (any function) fails at once saying so,
/// instead of waiting out the timeout again.
#[test]
fn a_library_call_that_hangs_times_out_and_later_calls_fail_at_once() {
    let (dir, file) = library_dir("faulty");
    let h = host(dir.path(), Duration::from_millis(500));
    let p = h.open("faulty", None).unwrap();
    let call = move |function: &'static str| {
        let p = Arc::clone(&p);
        within(Duration::from_secs(60), move || {
            p.invoke(&Request::Transform {
                function: function.into(),
                value: json!("x"),
                record: None,
                config: Value::Null,
            })
        })
    };
    // It works before.
    assert_eq!(call("upper"), Ok(Response::Value { value: json!("X") }));
    let e = call("hang").unwrap_err();
    assert!(
        e.starts_with(&format!(
            "the plugin `faulty` ({}), function `hang`, did not return within 0.5s.",
            file.display()
        )),
        "{e}"
    );
    assert!(e.contains("left running on a thread of its own"), "{e}");
    assert!(e.contains("Fix the plugin"), "{e}");
    assert!(e.contains("--plugin-timeout"), "{e}");
    for function in ["upper", "hang", "panic"] {
        let e = call(function).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "the plugin `faulty` ({}) is not called: its function `hang` did not return within 0.5s and is still running",
                file.display()
            )),
            "{function}: {e}"
        );
        assert!(e.contains("restart rollcall"), "{e}");
    }
}

/// A field transform that hangs: its first record fails at the timeout, the others at
/// once with the stuck message; the fetch itself ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_field_transform_skips_its_records_and_the_fetch_ends() {
    let (dir, _) = library_dir("faulty");
    let h = host(dir.path(), Duration::from_millis(500));
    let text = field_transformed(TestManifest::default(), "$.userName", ("faulty", "hang"));
    assert!(text.contains("function: hang"), "{text}");
    let c = compile(&text, &h);
    let srv = server(5).await;
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        run_connector(c, &srv.scim_base_url()),
    )
    .await
    .expect("the fetch ends");
    assert!(out.summary().complete);
    assert!(out.records.is_empty(), "{:?}", out.records);
    let reasons: Vec<&str> = out.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert!(
        reasons[0].contains("function `hang`, did not return within 0.5s"),
        "{reasons:#?}"
    );
    for r in &reasons[1..] {
        assert!(
            r.contains("is not called: its function `hang` did not return"),
            "{reasons:#?}"
        );
    }
}

#[test]
fn invalid_json_from_a_library_is_an_error() {
    let (dir, file) = library_dir("bad_json");
    let h = host(dir.path(), Duration::from_secs(1));
    let p = h.open("bad_json", None).unwrap();
    let e = p
        .invoke(&Request::Transform {
            function: "anything".into(),
            value: json!(1),
            record: None,
            config: Value::Null,
        })
        .unwrap_err();
    assert!(e.contains("not a rollcall message"), "{e}");
    assert!(e.contains("<html>this is not JSON"), "{e}");
    assert!(e.contains(&file.display().to_string()), "{e}");
}

/// A Python subprocess plugin that says hello, then behaves as `on_request` says.
fn script(on_request: &str) -> String {
    format!(
        r#"#!/usr/bin/env python3
import json, sys, time
for line in sys.stdin:
    req = json.loads(line)
    if req["type"] == "hello":
        desc = {{"name": "odd", "version": "0.0.1", "capabilities": [
            {{"kind": "field_transform", "function": "f"}},
            {{"kind": "record_transform", "function": "batch"}}]}}
        print(json.dumps({{"type": "hello", "protocol": 1, "plugin": desc}}), flush=True)
        continue
{on_request}
"#
    )
}

fn call_f(p: &dyn Plugin) -> Result<Response, String> {
    p.invoke(&Request::Transform {
        function: "f".into(),
        value: json!("v"),
        record: None,
        config: Value::Null,
    })
}

#[test]
fn a_subprocess_that_exits_is_reported_with_its_stderr_then_restarted_a_few_times() {
    let dir = tempfile::tempdir().unwrap();
    let file = install_script(
        dir.path(),
        "odd.py",
        &script("    sys.stderr.write('odd: giving up\\n'); sys.exit(3)"),
    );
    let h = host(dir.path(), Duration::from_secs(5));
    let p = h.open("odd", None).unwrap();
    let e = call_f(p.as_ref()).unwrap_err();
    assert!(e.contains("exited without answering"), "{e}");
    assert!(e.contains("exit status: 3"), "{e}");
    assert!(e.contains("odd: giving up"), "{e}");
    assert!(e.contains(&file.display().to_string()), "{e}");
    for _ in 0..rollcall_plugins::process::MAX_RESTARTS {
        assert!(call_f(p.as_ref()).unwrap_err().contains("exited"));
    }
    let e = call_f(p.as_ref()).unwrap_err();
    assert!(e.contains("is not started again"), "{e}");
}

#[test]
fn a_subprocess_that_hangs_times_out_and_the_next_call_gets_a_fresh_process() {
    let dir = tempfile::tempdir().unwrap();
    // Hangs on its first request only: a marker file tells the restarted process.
    let marker = dir.path().join("hung-once");
    let body = format!(
        "    import os\n    if not os.path.exists({m:?}):\n        open({m:?}, 'w').close(); time.sleep(60)\n    print(json.dumps({{'type': 'value', 'value': req['value']}}), flush=True)",
        m = marker.display().to_string()
    );
    install_script(dir.path(), "odd.py", &script(&body));
    let h = host(dir.path(), Duration::from_millis(500));
    let p = h.open("odd", None).unwrap();
    let started = Instant::now();
    let e = call_f(p.as_ref()).unwrap_err();
    assert!(
        e.contains("did not answer within 0.5s and was stopped"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        call_f(p.as_ref()).unwrap(),
        Response::Value { value: json!("v") }
    );
}

#[test]
fn a_subprocess_that_writes_garbage_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = install_script(
        dir.path(),
        "odd.py",
        &script("    print('Traceback? no, just some text', flush=True)"),
    );
    let h = host(dir.path(), Duration::from_secs(5));
    let p = h.open("odd", None).unwrap();
    let e = call_f(p.as_ref()).unwrap_err();
    assert!(
        e.contains("wrote something that is not a rollcall message"),
        "{e}"
    );
    assert!(e.contains("just some text"), "{e}");
    assert!(e.contains(&file.display().to_string()), "{e}");
}

#[test]
fn a_subprocess_without_a_handshake_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    install_script(dir.path(), "mute.sh", "#!/bin/sh\necho hi there\n");
    let e = open_err(&host(dir.path(), Duration::from_secs(5)), "mute");
    assert!(e.contains("not a rollcall message"), "{e}");
}

#[test]
fn a_sha256_pin_is_checked() {
    let dir = dylib_dir();
    let file = dir.path().join(library_file("seat_type"));
    let digest = rollcall_plugins::pin::sha256_file(&file).unwrap();
    let wrong = "0".repeat(64);
    let h = host(dir.path(), Duration::from_secs(1));
    let e = match h.open("seat_type", Some(&wrong)) {
        Ok(_) => panic!("a wrong pin must refuse the plugin"),
        Err(e) => e,
    };
    assert!(e.contains(&format!("has sha256 {digest}")), "{e}");
    assert!(e.contains("refusing to load it"), "{e}");
    assert!(e.contains(&file.display().to_string()), "{e}");
    assert!(h.open("seat_type", Some(&digest.to_uppercase())).is_ok());
    // Once loaded, another pin is still checked against the loaded file.
    assert!(h.open("seat_type", Some(&wrong)).is_err());
}

/// The example overlay manifest with small pages (so a run has several).
fn overlay_text(page_size: u32) -> String {
    let text =
        std::fs::read_to_string(workspace_root().join("connectors/examples/miro-seat-type.yaml"))
            .expect("the example overlay exists");
    assert!(text.contains("scim: { page_size: 200, concurrency: 4 }"));
    text.replace(
        "scim: { page_size: 200, concurrency: 4 }",
        &format!("scim: {{ page_size: {page_size}, concurrency: 1 }}"),
    )
}

fn load_with(text: &str, host: &Host) -> Result<Connector, LoadError> {
    load_connector_with_plugins(SourceFile::new("overlay.yaml", text), "test", host)
}

fn compile(text: &str, host: &Host) -> Arc<Connector> {
    Arc::new(load_with(text, host).unwrap_or_else(|e| panic!("{}", e.render())))
}

/// A user the example's `enrich` drops: it has no `userName`.
fn nameless() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "nameless-1",
        "active": true,
        "name": {"givenName": "No", "familyName": "Name"},
        "userType": "Full"
    })
}

async fn fetch_overlay(dir: &Path) {
    let h = host(dir, Duration::from_secs(10));
    let srv = server(25).await;
    srv.handle().insert_user(nameless());
    let c = compile(&overlay_text(10), &h);
    let out = run_connector(c, &srv.scim_base_url()).await;
    let summary = out.summary();
    assert!(summary.complete);
    assert_eq!(out.records.len(), 25);
    let users = srv.handle().users();
    for r in &out.records {
        let raw = users.iter().find(|u| u["id"] == r.key.as_str()).unwrap();
        let licence = raw["userType"].as_str();
        let want = match licence {
            Some("Full" | "Standard" | "Advanced") => json!("full"),
            Some("Full (Trial)") => json!("trial"),
            Some("Basic") => json!("occasional"),
            Some("Free") => json!("free"),
            Some("Free Restricted") => json!("restricted"),
            Some(other) => panic!("a licence the test does not know: {other}"),
            None => Value::Null,
        };
        assert_eq!(r.get("seat_type"), Some(&want), "{}", r.key);
        let given = raw["name"]["givenName"].as_str().unwrap();
        let family = raw["name"]["familyName"].as_str().unwrap();
        assert_eq!(
            r.get("full_name"),
            Some(&json!(format!("{given} {family}")))
        );
    }
    assert_eq!(out.skipped.len(), 1, "{:?}", out.skipped);
    let s = &out.skipped[0];
    assert_eq!(s.key.as_deref(), Some("nameless-1"));
    assert!(
        s.reason.starts_with("dropped by plugin `seat_type` (")
            && s.reason.ends_with("function `enrich`: it has no userName"),
        "{}",
        s.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_miro_overlay_fetches_with_the_library_plugin() {
    let dir = dylib_dir();
    fetch_overlay(dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_miro_overlay_fetches_with_the_python_plugin() {
    let dir = python_dir();
    fetch_overlay(dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_reads_its_answer_with_the_plugin_field_transform() {
    let dir = dylib_dir();
    let h = host(dir.path(), Duration::from_secs(10));
    let srv = server(5).await;
    let c = compile(&overlay_text(10), &h);
    let users = srv.handle().users();
    let user = users
        .iter()
        .find(|u| u["userType"] == json!("Full (Trial)"))
        .or_else(|| users.first())
        .expect("the server has users");
    let id = user["id"].as_str().unwrap();
    let runner = ActionRunner::new(
        c.clone(),
        &inputs(&c, &srv.scim_base_url(), TOKEN),
        Arc::new(Recorder::default()),
    )
    .expect("the runner is built");
    let ActionOutcome::Done {
        record: Some(rec), ..
    } = runner
        .call("get_user", &ActionCall::new().param("id", id))
        .await
        .unwrap()
    else {
        panic!("get_user should find the user and read it");
    };
    assert_eq!(rec.key, id);
    let want = match user["userType"].as_str() {
        Some("Full (Trial)") => "trial",
        Some("Full" | "Standard" | "Advanced") => "full",
        Some("Basic") => "occasional",
        Some("Free") => "free",
        Some("Free Restricted") => "restricted",
        other => panic!("a licence the test does not know: {other:?}"),
    };
    assert_eq!(rec.get("seat_type"), Some(&json!(want)));
    // `enrich` is a record transform: it runs on stream pages, not on an action's answer.
    assert_eq!(rec.get("full_name"), Some(&Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_goes_on_when_a_subprocess_plugin_dies_and_its_records_reach_the_error_log() {
    let dir = tempfile::tempdir().unwrap();
    // Keeps every record, but exits instead of answering its second page.
    let marker = dir.path().join("died-once");
    let body = format!(
        "    import os\n    if req['type'] == 'batch' and os.path.exists({m:?}) and not os.path.exists({m:?} + '.2'):\n        open({m:?} + '.2', 'w').close(); sys.stderr.write('dying on purpose\\n'); sys.exit(9)\n    open({m:?}, 'w').close()\n    print(json.dumps({{'type': 'records', 'records': [{{'keep': r}} for r in req['records']]}}), flush=True)",
        m = marker.display().to_string()
    );
    install_script(dir.path(), "odd.py", &script(&body));
    let h = host(dir.path(), Duration::from_secs(10));
    let text = declare_plugin(&one_at_a_time(10).text(), "odd").replace(
        "    primary_key: id\n",
        "    primary_key: id\n    record_transforms:\n      - { plugin: odd, function: batch }\n",
    );
    let c = compile(&text, &h);
    let srv = server(30).await;
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);

    let (_store_dir, store) = temp_store().await;
    let report = rollcall_tests::sync_create_and_update(&store, c, &i)
        .await
        .unwrap_or_else(|e| panic!("the run should go on: {e}"));
    let counts = &report.summary.counts;
    // The records of page 2 were lost; the restarted process did the pages after it.
    assert!(report.summary.complete, "{:?}", report.summary);
    // Records the fetch could not use count as failed in a sync.
    assert!(counts.failed > 0 && counts.failed <= 10, "{counts:?}");
    assert_eq!(counts.failed + counts.created, 30, "{counts:?}");
    let errors = store.run_errors(report.summary.id).await.unwrap();
    assert_eq!(errors.len() as u64, counts.failed);
    for e in &errors {
        assert!(e.reason.contains("the plugin `odd` ("), "{}", e.reason);
        assert!(
            e.reason
                .contains("exited without answering (exit status: 9)"),
            "{}",
            e.reason
        );
        assert!(e.reason.contains("dying on purpose"), "{}", e.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_field_transform_skips_the_record_and_the_fetch_goes_on() {
    let (dir, _) = library_dir("faulty");
    let h = host(dir.path(), Duration::from_secs(5));
    let text = field_transformed(TestManifest::default(), "$.userType", ("faulty", "panic"));
    let c = compile(&text, &h);
    let srv = server(5).await;
    let out = run_connector(c, &srv.scim_base_url()).await;
    assert!(out.summary().complete);
    let with_licence = srv
        .handle()
        .users()
        .iter()
        .filter(|u| u["userType"].is_string())
        .count();
    assert!(with_licence > 0);
    assert_eq!(out.skipped.len(), with_licence);
    assert_eq!(out.records.len(), 5 - with_licence);
    for s in &out.skipped {
        assert!(
            s.reason
                .starts_with("field `user_type`: the plugin `faulty` ("),
            "{}",
            s.reason
        );
        assert!(s.reason.contains("panicked"), "{}", s.reason);
    }
}

#[test]
fn manifest_mistakes_about_plugins_are_located() {
    let dir = dylib_dir();
    let h = host(dir.path(), Duration::from_secs(5));
    let text = overlay_text(10)
        .replace("function: enrich", "function: enrichh")
        .replace(
            "transform: { plugin: seat_type, function: seat_type }",
            "transform: { plugin: seat_typ, function: seat_type }",
        )
        .replace("        path: $.fullName\n", "        path: $.fullName\n        transform: { plugin: seat_type, function: enrich }\n");
    let e = load_with(&text, &h).unwrap_err();
    let all = e.to_string();
    assert_eq!(e.diagnostics.len(), 3, "{all}");
    assert!(
        all.contains("the plugin `seat_type` (") && all.contains("has no function `enrichh`"),
        "{all}"
    );
    assert!(all.contains("did you mean `enrich`?"), "{}", e.render());
    assert!(
        all.contains("the plugin `seat_typ` is not declared under `plugins:`"),
        "{all}"
    );
    assert!(
        all.contains("`enrich` of plugin `seat_type` is a record transform, not a field transform"),
        "{all}"
    );
    for d in &e.diagnostics {
        rollcall_tests::assert_located("overlay.yaml", &d.to_string());
    }

    let pinned = overlay_text(10).replace("  seat_type: {}\n", "  seat_type: { sha256: abc }\n");
    let e = load_with(&pinned, &h).unwrap_err().to_string();
    assert!(e.contains("should be 64 hexadecimal digits"), "{e}");
    let pinned = overlay_text(10).replace(
        "  seat_type: {}\n",
        &format!("  seat_type: {{ sha256: {} }}\n", "ab".repeat(32)),
    );
    let e = load_with(&pinned, &host(dir.path(), Duration::from_secs(5)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("overlay.yaml:") && e.contains("refusing to load it"),
        "{e}"
    );
}

#[test]
fn the_cli_lists_plugins_and_fetches_with_them() {
    let dir = dylib_dir();
    install(
        dir.path(),
        &library("wrong_abi"),
        &library_file("wrong_abi"),
    );
    let stdout = list_plugins(dir.path());
    assert!(
        stdout.contains("seat_type 0.1.0 (dynamic library)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  loads: yes\n  field_transform `seat_type`"),
        "{stdout}"
    );
    assert!(stdout.contains("record_transform `enrich`"), "{stdout}");
    let digest =
        rollcall_plugins::pin::sha256_file(&dir.path().join(library_file("seat_type"))).unwrap();
    assert!(stdout.contains(&format!("sha256: {digest}")), "{stdout}");
    assert!(stdout.contains("wrong_abi - (dynamic library)"), "{stdout}");
    assert!(
        stdout.contains("loads: no: the plugin `wrong_abi`"),
        "{stdout}"
    );

    // A fetch through the real binary, with the plugin pinned.
    let rt = one_worker_runtime();
    let srv = rt.block_on(server(12));
    srv.handle().insert_user(nameless());
    let manifest = dir.path().join("miro.yaml");
    std::fs::write(
        &manifest,
        overlay_text(5).replace(
            "  seat_type: {}\n",
            &format!("  seat_type: {{ sha256: {digest} }}\n"),
        ),
    )
    .unwrap();
    let out = fetch_with_plugins(dir.path(), &manifest, &srv.scim_base_url())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12, "{stderr}");
    assert!(lines.iter().all(|r| r["full_name"].is_string()));
    assert!(lines.iter().any(|r| r["seat_type"] == "full"));
    assert!(
        stderr.contains("(id nameless-1): dropped by plugin `seat_type`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("function `enrich`: it has no userName"),
        "{stderr}"
    );

    // Without the plugin directory the manifest does not load, and says why.
    let out = std::process::Command::new(rollcall_bin())
        .args(["validate"])
        .arg(&manifest)
        .env("ROLLCALL_HOME", dir.path().join("home"))
        .env_remove("ROLLCALL_PLUGINS_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap() + &String::from_utf8(out.stdout).unwrap();
    assert!(!out.status.success());
    assert!(
        stderr.contains("the plugin `seat_type` was not found"),
        "{stderr}"
    );
}

/// An auth-provider subprocess plugin: `Authorization: Bearer <secret token>`, valid
/// for `config.expires_in` seconds; `config.fail` makes it refuse. Every call is
/// logged to `calls.log` next to it.
fn signer_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    install_script(
        dir.path(),
        "signer.py",
        &format!(
            r#"#!/usr/bin/env python3
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    if req["type"] == "hello":
        desc = {{"name": "signer", "version": "0.0.1", "capabilities": [{{"kind": "auth", "function": "sign"}}]}}
        out = {{"type": "hello", "protocol": 1, "plugin": desc}}
    elif req.get("config", {{}}).get("fail"):
        out = {{"type": "error", "message": "the key server said no"}}
    else:
        with open({log:?}, "a") as f:
            f.write(",".join(sorted(req["inputs"])) + ";" + ",".join(sorted(req["secrets"])) + "\n")
        out = {{"type": "headers", "headers": {{"Authorization": "Bearer " + req["secrets"]["token"]}}}}
        if "expires_in" in req.get("config", {{}}):
            out["expires_in"] = req["config"]["expires_in"]
    print(json.dumps(out), flush=True)
"#,
            log = log.display().to_string()
        ),
    );
    dir
}

/// The test manifest, pages of 10 one at a time, signed by `signer_dir`'s plugin with `config`.
fn signer_manifest(config: &str) -> String {
    auth_plugin_manifest(one_at_a_time(10), "signer", &format!(", config: {config}"))
}

fn auth_calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_plugin_gives_the_headers_and_they_are_reused_until_they_expire() {
    let srv = server(30).await;
    // No expiry: asked once for the whole fetch.
    let dir = signer_dir();
    let h = host(dir.path(), Duration::from_secs(10));
    let c = compile(&signer_manifest("{}"), &h);
    let out = run_connector(c, &srv.scim_base_url()).await;
    assert_eq!(out.records.len(), 30);
    let requests = out.recorder.requests.lock().unwrap().len();
    assert!(requests >= 3, "{requests}");
    assert_eq!(auth_calls(dir.path()), ["base_url,rest_base_url;token"]);

    // Expired at once: asked again before every request.
    let dir = signer_dir();
    let h = host(dir.path(), Duration::from_secs(10));
    let c = compile(&signer_manifest("{ expires_in: 0 }"), &h);
    let out = run_connector(c, &srv.scim_base_url()).await;
    assert_eq!(out.records.len(), 30);
    let requests = out.recorder.requests.lock().unwrap().len();
    assert_eq!(auth_calls(dir.path()).len(), requests + 1);

    // A refusal stops the fetch before any request, naming the plugin.
    let dir = signer_dir();
    let h = host(dir.path(), Duration::from_secs(10));
    let c = compile(&signer_manifest("{ fail: true }"), &h);
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let before = srv.handle().request_count();
    let e = match rollcall_core::fetch::start(
        c,
        "users",
        &i,
        FetchOptions::default(),
        Arc::new(rollcall_core::observe::Silent),
    ) {
        Ok(_) => panic!("a refusing auth plugin must stop the fetch"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("plugin `signer` ("), "{e}");
    assert!(
        e.contains("function `sign` failed: the key server said no"),
        "{e}"
    );
    assert_eq!(srv.handle().request_count(), before);
}

/// A Python subprocess plugin `lean` speaking `protocol`, offering `capabilities`
/// (JSON text), that logs the keys of every record it is sent to `seen.log` and
/// answers as `on_request` says.
fn lean_script(dir: &Path, protocol: u32, capabilities: &str, on_request: &str) {
    let log = dir.join("seen.log");
    install_script(
        dir,
        "lean.py",
        &format!(
            r#"#!/usr/bin/env python3
import json, os, sys, time
for line in sys.stdin:
    req = json.loads(line)
    if req["type"] == "hello":
        desc = {{"name": "lean", "version": "0.0.1", "capabilities": {capabilities}}}
        print(json.dumps({{"type": "hello", "protocol": {protocol}, "plugin": desc}}), flush=True)
        continue
    with open({log:?}, "a") as f:
        for r in req.get("records", []) + ([req["record"]] if "record" in req else []):
            f.write(",".join(sorted(r)) + "\n")
{on_request}
"#,
            log = log.display().to_string()
        ),
    );
}

fn seen(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("seen.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The attribute names of an object record, in order.
fn keys(record: &Value) -> Vec<String> {
    record
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn a_record_transform_gets_only_what_it_needs_and_its_patches_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    lean_script(
        dir.path(),
        2,
        r#"[{"kind": "record_transform", "function": "tag", "needs": ["userName", "name"]}]"#,
        r#"    out = []
    for r in req["records"]:
        if r.get("userName") == "drop@x":
            out.append({"drop": "not wanted"})
        elif r.get("userName") == "same@x":
            out.append({"set": {}})
        elif r.get("userName") == "keep@x":
            out.append({"keep": {"userName": "KEEP@X", "tag": "k"}})
        elif r.get("userName") == "KEEP@X":
            out.append({"drop": "kept once is enough"})
        elif r.get("userName") == "changed":
            out.append({"keep": {"userName": "again", "name": {"givenName": "B"}}})
        else:
            out.append({"set": {"tag": r["userName"].upper(), "userName": "changed"}})
    print(json.dumps({"type": "records", "records": out}), flush=True)"#,
    );
    let h = host(dir.path(), Duration::from_secs(10));
    let p = h.open("lean", None).unwrap();
    let t = rollcall_core::plugin::PluginFn::new(p, "tag", Value::Null).unwrap();
    assert!(t.needs_record);
    let records = [
        json!({"id": "1", "userName": "a@x", "name": {"givenName": "A"}, "emails": ["big"]}),
        json!({"id": "2", "userName": "drop@x"}),
        json!({"id": "3", "userName": "same@x", "active": true}),
        json!({"id": "4", "userName": "keep@x", "name": {"givenName": "K"}, "active": false}),
    ];
    let refs: Vec<RecordView> = records.iter().map(RecordView::from).collect();
    let answers = t.batch(&refs).unwrap();
    let out: Vec<_> = records
        .iter()
        .zip(answers)
        .map(|(r, a)| t.apply(a, RawRecord::Borrowed(r)))
        .collect();
    // Only the attributes it declared travelled.
    assert_eq!(
        seen(dir.path()),
        ["name,userName", "userName", "userName", "name,userName"]
    );
    // `set`: added and replaced, the rest kept.
    assert_eq!(
        out[0].as_ref().unwrap().view().to_value().as_ref(),
        &json!({"id": "1", "userName": "changed", "name": {"givenName": "A"}, "emails": ["big"], "tag": "A@X"})
    );
    // … kept next to the page's record, not applied to a copy of it.
    assert!(matches!(out[0], Ok(RawRecord::Patched { .. })));
    // `drop`: skipped on purpose, naming the plugin.
    let d = out[1].as_ref().unwrap_err();
    assert_eq!(d.plugin.as_deref(), Some("lean"));
    assert!(
        d.reason.starts_with("dropped by plugin `lean` (")
            && d.reason.ends_with("function `tag`: not wanted"),
        "{}",
        d.reason
    );
    // `set: {}`: unchanged and not copied.
    assert!(matches!(out[2], Ok(RawRecord::Borrowed(_))));
    // `keep` with `needs`: replaces what was sent (`name` is gone), keeps the rest, and
    // the record keeps its attribute order (added ones last).
    assert_eq!(
        out[3].as_ref().unwrap().view().to_value().as_ref(),
        &json!({"id": "4", "active": false, "userName": "KEEP@X", "tag": "k"})
    );
    assert_eq!(
        keys(&out[3].as_ref().unwrap().view().to_value()),
        ["id", "userName", "active", "tag"]
    );

    // A second transform after the first: it is sent what the first set (through the
    // patch), and its own `set`, `keep` and `drop` land on the first one's results.
    let kept: Vec<RawRecord> = out.into_iter().filter_map(Result::ok).collect();
    let views: Vec<RecordView> = kept.iter().map(RawRecord::view).collect();
    let answers = t.batch(&views).unwrap();
    let again: Vec<_> = kept
        .iter()
        .cloned()
        .zip(answers)
        .map(|(r, a)| t.apply(a, r))
        .collect();
    assert_eq!(
        seen(dir.path())[4..],
        ["name,userName", "userName", "userName"]
    );
    // `set` then `keep`: the patched record is replaced where it was sent.
    assert_eq!(
        again[0].as_ref().unwrap().view().to_value().as_ref(),
        &json!({"id": "1", "emails": ["big"], "tag": "A@X", "userName": "again", "name": {"givenName": "B"}})
    );
    assert_eq!(
        keys(&again[0].as_ref().unwrap().view().to_value()),
        ["id", "userName", "name", "emails", "tag"]
    );
    // `set: {}` twice: still the page's own record.
    assert!(matches!(again[1], Ok(RawRecord::Borrowed(_))));
    // `keep` then `drop`.
    let d = again[2].as_ref().unwrap_err();
    assert!(d.reason.ends_with("kept once is enough"), "{}", d.reason);
}

#[test]
fn a_field_transform_with_needs_gets_the_record_cut_to_those_attributes() {
    let dir = tempfile::tempdir().unwrap();
    lean_script(
        dir.path(),
        2,
        r#"[{"kind": "field_transform", "function": "f", "needs": ["displayName"]}]"#,
        r#"    print(json.dumps({"type": "value", "value": req["record"].get("displayName")}), flush=True)"#,
    );
    let h = host(dir.path(), Duration::from_secs(10));
    let t = rollcall_core::plugin::PluginFn::new(h.open("lean", None).unwrap(), "f", Value::Null)
        .unwrap();
    let v = t
        .transform(
            json!("x"),
            &json!({"displayName": "Ada", "emails": ["a@x"]}),
        )
        .unwrap();
    assert_eq!(v, json!("Ada"));
    assert_eq!(seen(dir.path()), ["displayName"]);
}

#[test]
fn protocol_versions_1_and_2_run_and_others_are_refused() {
    let caps = r#"[{"kind": "field_transform", "function": "f"}]"#;
    let echo = r#"    print(json.dumps({"type": "value", "value": req["value"]}), flush=True)"#;
    for (protocol, runs) in [(1, true), (2, true), (3, false), (0, false)] {
        let dir = tempfile::tempdir().unwrap();
        lean_script(dir.path(), protocol, caps, echo);
        let h = host(dir.path(), Duration::from_secs(10));
        match h.open("lean", None) {
            Ok(p) => {
                assert!(runs, "protocol {protocol} should be refused");
                assert_eq!(
                    p.invoke(&Request::Transform {
                        function: "f".into(),
                        value: json!(1),
                        record: None,
                        config: Value::Null
                    })
                    .unwrap(),
                    Response::Value { value: json!(1) }
                );
            }
            Err(e) => {
                assert!(!runs, "protocol {protocol} should run: {e}");
                assert!(
                    e.contains(&format!(
                        "speaks plugin protocol version {protocol}, but this rollcall speaks versions 1 to 2"
                    )),
                    "{e}"
                );
            }
        }
    }
}

/// While a subprocess field transform works (slowly, or hangs until it is stopped),
/// the runtime's only worker goes on with other tasks; the hung process is reported
/// on its record and killed, and the fetch goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_or_hung_field_transform_does_not_hold_up_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("hung-once");
    let pids = dir.path().join("pids");
    lean_script(
        dir.path(),
        2,
        r#"[{"kind": "field_transform", "function": "f"}]"#,
        &format!(
            "    open({p:?}, 'a').write(str(os.getpid()) + '\\n')\n    if not os.path.exists({m:?}):\n        open({m:?}, 'w').close(); time.sleep(60)\n    time.sleep(0.3)\n    print(json.dumps({{'type': 'value', 'value': req['value']}}), flush=True)",
            p = pids.display().to_string(),
            m = marker.display().to_string()
        ),
    );
    let h = host(dir.path(), Duration::from_millis(1500));
    let text = field_transformed(one_at_a_time(10), "$.userName", ("lean", "f"));
    assert!(text.contains("plugin: lean, function: f"));
    let c = compile(&text, &h);
    let srv = server(4).await;
    // A ticker on the same (single-worker) runtime: the longest gap between ticks.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let ticks = tokio::spawn(async move {
        let mut longest = Duration::ZERO;
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            longest = longest.max(last.elapsed());
            last = Instant::now();
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return longest;
            }
        }
    });
    let out = run_connector(c, &srv.scim_base_url()).await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let longest = ticks.await.unwrap();
    assert!(out.summary().complete);
    // The hung call is reported on its record; the others went through.
    assert_eq!(out.skipped.len(), 1, "{:?}", out.skipped);
    assert!(
        out.skipped[0]
            .reason
            .contains("did not answer within 1.5s and was stopped"),
        "{}",
        out.skipped[0].reason
    );
    assert_eq!(out.records.len(), 3);
    // Without `block_in_place` the worker would stand still for the whole hang (1.5s)
    // and each slow call (0.3s).
    assert!(
        longest < Duration::from_millis(1000),
        "the runtime stood still for {longest:?}"
    );
    // The hung process was killed (and reaped).
    let first: u32 = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{first}")).exists(),
        "the hung plugin process {first} is still there"
    );
}

/// An auth plugin handing out a fresh session key on every call (valid for no time,
/// so it is asked again before every request), next to the bearer token.
fn session_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install_script(
        dir.path(),
        "session.py",
        r#"#!/usr/bin/env python3
import json, sys
calls = 0
for line in sys.stdin:
    req = json.loads(line)
    if req["type"] == "hello":
        desc = {"name": "session", "version": "0.0.1", "capabilities": [{"kind": "auth", "function": "sign"}]}
        print(json.dumps({"type": "hello", "protocol": 2, "plugin": desc}), flush=True)
        continue
    calls += 1
    headers = {"Authorization": "Bearer " + req["secrets"]["token"],
               "X-Session": "Session sess-%d-q7ZpL2xwK9" % calls}
    print(json.dumps({"type": "headers", "headers": headers, "expires_in": 0}), flush=True)
"#,
    );
    dir
}

/// Refreshed auth headers are secrets: an API echoing them (in a body, in response
/// headers, in an error) shows `***` in the cassette, the logs and the error message.
#[test]
fn refreshed_auth_headers_never_reach_a_cassette_a_log_or_an_error() {
    let dir = session_dir();
    let rt = one_worker_runtime();
    let srv = rt.block_on(server(12));
    let manifest = dir.path().join("miro.yaml");
    std::fs::write(
        &manifest,
        auth_plugin_manifest(one_at_a_time(5), "session", ""),
    )
    .unwrap();
    let fetch = |extra: &[&str]| {
        fetch_with_plugins(dir.path(), &manifest, &srv.scim_base_url())
            .args(["--log", "debug"])
            .args(extra)
            .output()
            .unwrap()
    };
    // The second page's first answer echoes the request's headers (then it is retried).
    srv.handle().push_fault(echo_headers(503));
    let cassette = dir.path().join("miro.cassette.json");
    let out = fetch(&["--record", cassette.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 12);
    let text = std::fs::read_to_string(&cassette).unwrap();
    // The echo is there, scrubbed: in the body and in the response headers.
    assert!(text.contains("x-echo-x-session"), "{text}");
    assert!(text.contains("***"), "{text}");
    for leak in ["sess-", "q7ZpL2xwK9", TOKEN] {
        assert!(!text.contains(leak), "`{leak}` in the cassette: {text}");
        assert!(!stderr.contains(leak), "`{leak}` in the log: {stderr}");
    }
    // The server did see fresh session keys (so the redactor had to learn them).
    let seen: Vec<String> = srv
        .handle()
        .requests()
        .iter()
        .filter_map(|r| r.authorization.clone())
        .collect();
    assert!(seen.len() >= 4, "{seen:?}");

    // An echo in an error the fetch stops on: the message shows `***`.
    srv.handle().push_fault(echo_headers(400));
    let out = fetch(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("400"), "{stderr}");
    assert!(stderr.contains("***"), "{stderr}");
    for leak in ["sess-", "q7ZpL2xwK9", TOKEN] {
        assert!(!stderr.contains(leak), "`{leak}` in the error: {stderr}");
    }
}

/// An auth plugin answering a secret session key and two harmless headers, which it
/// lists in `public_headers` as `config.public` says (`config.stray`: it also lists a
/// header it does not answer).
fn versioned_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install_script(
        dir.path(),
        "versioned.py",
        r#"#!/usr/bin/env python3
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    if req["type"] == "hello":
        desc = {"name": "versioned", "version": "0.0.1", "capabilities": [{"kind": "auth", "function": "sign"}]}
        print(json.dumps({"type": "hello", "protocol": 2, "plugin": desc}), flush=True)
        continue
    config = req.get("config") or {}
    out = {"type": "headers", "headers": {
        "Authorization": "Bearer " + req["secrets"]["token"],
        "X-Session": "Session sess-7-q7ZpL2xwK9",
        "X-Api-Version": "2024-06-01",
        "X-Client": "rollcall-tests-client",
    }}
    if config.get("public"):
        out["public_headers"] = ["x-api-version", "X-Client"] + (["X-Missing"] if config.get("stray") else [])
    print(json.dumps(out), flush=True)
"#,
    );
    dir
}

/// Headers an auth plugin calls public are not scrubbed (an API echoing them shows
/// them in errors and cassettes); its other headers still are, and without
/// `public_headers` every header stays secret.
#[test]
fn auth_headers_listed_as_public_are_not_redacted_and_the_others_are() {
    let dir = versioned_dir();
    let rt = one_worker_runtime();
    let srv = rt.block_on(server(6));
    let fetch = |config: &str, extra: &[&str]| {
        let manifest = dir.path().join("miro.yaml");
        let text = auth_plugin_manifest(
            one_at_a_time(5),
            "versioned",
            &format!(", config: {config}"),
        );
        std::fs::write(&manifest, text).unwrap();
        fetch_with_plugins(dir.path(), &manifest, &srv.scim_base_url())
            .args(["--log", "debug"])
            .args(extra)
            .output()
            .unwrap()
    };
    let secrets = ["sess-", "q7ZpL2xwK9", TOKEN];

    // Public: an error echoing the request's headers shows them; the secrets are `***`.
    srv.handle().push_fault(echo_headers(400));
    let out = fetch("{ public: true }", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("x-api-version: 2024-06-01"), "{stderr}");
    assert!(
        stderr.contains("x-client: rollcall-tests-client"),
        "{stderr}"
    );
    assert!(stderr.contains("x-session: ***"), "{stderr}");
    for leak in secrets {
        assert!(!stderr.contains(leak), "`{leak}` in the error: {stderr}");
    }

    // The same in a cassette (the echo, retried, in its body and response headers).
    srv.handle().push_fault(echo_headers(503));
    let cassette = dir.path().join("miro.cassette.json");
    let out = fetch(
        "{ public: true }",
        &["--record", cassette.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(text.contains("2024-06-01"), "{text}");
    assert!(text.contains("rollcall-tests-client"), "{text}");
    for leak in secrets {
        assert!(!text.contains(leak), "`{leak}` in the cassette: {text}");
        assert!(!stderr.contains(leak), "`{leak}` in the log: {stderr}");
    }

    // Not listed: every header is a secret, as before.
    srv.handle().push_fault(echo_headers(400));
    let out = fetch("{}", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("x-api-version: ***"), "{stderr}");
    for leak in ["2024-06-01", "rollcall-tests-client"]
        .iter()
        .chain(&secrets)
    {
        assert!(!stderr.contains(leak), "`{leak}` in the error: {stderr}");
    }

    // Listing a header it did not answer is an error naming the plugin and the name.
    let before = srv.handle().request_count();
    let out = fetch("{ public: true, stray: true }", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("plugin `versioned` (")
            && stderr
                .contains("lists `X-Missing` in `public_headers`, but answered no such header"),
        "{stderr}"
    );
    assert_eq!(srv.handle().request_count(), before);
}

/// In a real sync into SQLite, records the example's `enrich` drops on purpose count
/// as skipped (not failed), with the plugin's reason in the run's error log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_a_plugin_drops_are_skipped_in_a_sync_with_the_reason_in_the_error_log() {
    let dir = python_dir();
    let h = host(dir.path(), Duration::from_secs(10));
    let c = compile(&overlay_text(10), &h);
    let srv = server(20).await;
    srv.handle().insert_user(nameless());
    let mut other = nameless();
    other["id"] = json!("nameless-2");
    srv.handle().insert_user(other);
    let i = inputs(&c, &srv.scim_base_url(), TOKEN);
    let (_store_dir, store) = temp_store().await;
    let report = rollcall_tests::sync_create_and_update(&store, c, &i)
        .await
        .unwrap_or_else(|e| panic!("the run should work: {e}"));
    let counts = &report.summary.counts;
    assert!(report.summary.complete, "{:?}", report.summary);
    assert_eq!(counts.fetched, 22, "{counts:?}");
    assert_eq!(counts.skipped, 2, "{counts:?}");
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert_eq!(counts.created, 20, "{counts:?}");
    // Stored counters are what the report says.
    let stored = store.run(report.summary.id).await.unwrap().unwrap();
    assert_eq!(stored.counts, *counts);
    let errors = store.run_errors(report.summary.id).await.unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let mut keys: Vec<&str> = errors.iter().map(|e| e.record_key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["nameless-1", "nameless-2"]);
    for e in &errors {
        assert_eq!(e.stage, rollcall_store::Stage::Plugin);
        assert!(
            e.reason.contains("dropped by plugin `seat_type` (")
                && e.reason.ends_with("function `enrich`: it has no userName"),
            "{}",
            e.reason
        );
    }
}
