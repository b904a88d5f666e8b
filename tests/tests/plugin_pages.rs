//! Plugin paginators: a stream whose pages a plugin chooses, through the real plugin
//! host (the Rust example as a dynamic library, the Python example and test scripts
//! as subprocesses), against the in-process SCIM server; and every way it can go
//! wrong (a loop, another host, an error, garbage, a hang, a wrong manifest).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rollcall_core::Connector;
use rollcall_core::manifest::{LoadError, load_connector_with_plugins};
use rollcall_plugins::Host;
use rollcall_source::SourceFile;
use rollcall_tests::cli::{CliEnv, Running};
use rollcall_tests::plugins::{
    fetch_with_plugins, host, install, install_script, library, library_dir, library_file,
    list_plugins, python_pager_example,
};
use rollcall_tests::{
    TOKEN, TestManifest, inputs, one_worker_runtime, rollcall_bin, run_connector, server,
    temp_store,
};
use serde_json::{Value, json};

/// The Miro test manifest with its users stream paged by `plugin`'s `function`, 10
/// records a page (the stream's own `count` parameter).
fn manifest(plugin: &str, function: &str, config: &str) -> String {
    let text = TestManifest::default()
        .text()
        .replace(
            "\nstreams:\n",
            &format!("\nplugins:\n  {plugin}: {{}}\nstreams:\n"),
        )
        .replace(
            "      path: /Users\n",
            "      path: /Users\n      query: { count: \"10\" }\n",
        )
        .replace(
            "scim: { page_size: 200, concurrency: 4, max_passes: 3 }",
            &format!("plugin: {{ plugin: {plugin}, function: {function}, config: {config} }}"),
        );
    assert!(
        text.contains("paginator:\n") && text.contains(&format!("function: {function}")),
        "{text}"
    );
    text
}

fn load_with(text: &str, host: &Host) -> Result<Connector, LoadError> {
    load_connector_with_plugins(SourceFile::new("paged.yaml", text), "test", host)
}

fn compile(text: &str, host: &Host) -> Arc<Connector> {
    Arc::new(load_with(text, host).unwrap_or_else(|e| panic!("{}", e.render())))
}

/// The `startIndex` of every list request the server saw, in order.
fn start_indexes(srv: &rollcall_testserver::ScimServer) -> Vec<Option<String>> {
    srv.handle()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/Users"))
        .map(|r| {
            assert_eq!(r.query_param("count").as_deref(), Some("10"), "{r:?}");
            r.query_param("startIndex")
        })
        .collect()
}

/// A plugin directory with the Rust example as `libpager.so`.
fn dylib_dir() -> tempfile::TempDir {
    library_dir("pager").0
}

/// A plugin directory with the Python example as `pager.py`.
fn python_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &python_pager_example(), "pager.py");
    dir
}

async fn fetch_every_page(dir: &Path) {
    let h = host(dir, Duration::from_secs(10));
    let c = compile(&manifest("pager", "scim_pages", "{}"), &h);
    let srv = server(25).await;
    let out = run_connector(c, &srv.scim_base_url()).await;
    let summary = out.summary();
    assert!(summary.complete, "{summary:?}");
    assert_eq!(summary.pages, 3);
    assert_eq!(out.records.len(), 25);
    let mut keys: Vec<String> = out.records.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    let mut ids = srv.handle().user_ids();
    ids.sort();
    assert_eq!(keys, ids);
    assert_eq!(
        start_indexes(&srv),
        [None, Some("11".into()), Some("21".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_paginator_reads_every_page() {
    let dir = dylib_dir();
    fetch_every_page(dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_paginator_reads_every_page() {
    let dir = python_dir();
    fetch_every_page(dir.path()).await;
}

/// A sync into a real SQLite store, paged by the Python example, completes with every
/// account; the same sync with a paginator that fails is recorded as a failed run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_paged_by_a_plugin_completes_and_a_failing_paginator_fails_the_run() {
    let dir = python_dir();
    script(dir.path());
    let h = host(dir.path(), Duration::from_secs(10));
    let srv = server(25).await;
    let (_store_dir, store) = temp_store().await;
    let sync = |c: Arc<Connector>| {
        let store = &store;
        let i = inputs(&c, &srv.scim_base_url(), TOKEN);
        async move { rollcall_tests::sync_create_and_update(store, c, &i).await }
    };
    let report = sync(compile(&manifest("pager", "scim_pages", "{}"), &h))
        .await
        .unwrap_or_else(|e| panic!("the run should work: {e}"));
    assert!(report.summary.complete, "{:?}", report.summary);
    assert_eq!(report.summary.counts.fetched, 25);
    assert_eq!(report.summary.counts.created, 25);

    let text = manifest("pager", "scim_pages", "{}").replace(
        "plugins:\n  pager: {}\n",
        "plugins:\n  pager: {}\n  odd: {}\n",
    );
    let text = text.replace(
        "plugin: { plugin: pager, function: scim_pages, config: {} }",
        "plugin: { plugin: odd, function: next, config: { mode: error } }",
    );
    let e = match sync(compile(&text, &h)).await {
        Ok(r) => panic!("a failing paginator must fail the run: {:?}", r.summary),
        Err(e) => e,
    };
    let run = e.run_id().expect("the run was started");
    let message = e.to_string();
    assert!(message.contains("plugin `odd` ("), "{message}");
    assert!(
        message.contains("function `next` failed: no idea what comes next"),
        "{message}"
    );
    let stored = store.run(run).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        rollcall_store::RunStatus::Failed,
        "{stored:?}"
    );
    assert!(!stored.complete);
    assert!(
        stored
            .message
            .as_deref()
            .is_some_and(|m| m.contains("function `next` failed")),
        "{stored:?}"
    );
}

/// A subprocess paginator `odd` whose answers `config.mode` chooses; it writes every
/// request it gets to `paginate.log` (one JSON line each).
fn script(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("paginate.log");
    install_script(
        dir,
        "odd.py",
        &format!(
            r#"#!/usr/bin/env python3
import json, sys, time
for line in sys.stdin:
    req = json.loads(line)
    if req["type"] == "hello":
        desc = {{"name": "odd", "version": "0.0.1", "capabilities": [
            {{"kind": "paginator", "function": "next", "needs": ["startIndex", "itemsPerPage"]}},
            {{"kind": "field_transform", "function": "f"}}]}}
        print(json.dumps({{"type": "hello", "protocol": 2, "plugin": desc}}), flush=True)
        continue
    if req["type"] == "goodbye":
        break
    with open({log:?}, "a") as f:
        f.write(json.dumps(req) + "\n")
    mode = req.get("config", {{}}).get("mode")
    following = req["body"].get("startIndex", 1) + req["count"]
    if mode == "two_pages":
        out = {{"type": "end"}} if req["page"] == 2 else {{"type": "next", "params": {{"startIndex": following}}}}
    elif mode == "relative_url":
        out = {{"type": "end"}} if req["count"] == 0 else {{"type": "next", "url": "?count=10&startIndex=%d" % following}}
    elif mode == "stuck":
        out = {{"type": "next", "params": {{"startIndex": 1}}}}
    elif mode == "elsewhere":
        out = {{"type": "next", "url": "https://elsewhere.example/Users?startIndex=%d" % following}}
    elif mode == "error":
        out = {{"type": "error", "message": "no idea what comes next"}}
    elif mode == "garbage":
        print("next page? who knows", flush=True)
        continue
    elif mode == "wrong_type":
        out = {{"type": "value", "value": following}}
    elif mode == "empty_next":
        out = {{"type": "next"}}
    elif mode == "both":
        out = {{"type": "next", "url": "?startIndex=%d" % following, "params": {{"startIndex": following}}}}
    elif mode == "no_count":
        out = {{"type": "end"}} if req["page"] == 2 else {{"type": "next", "params": {{"startIndex": following, "count": None}}}}
    elif mode == "list_param":
        out = {{"type": "next", "params": {{"startIndex": [following]}}}}
    elif mode == "hang":
        time.sleep(60)
        continue
    print(json.dumps(out), flush=True)
"#,
            log = log.display().to_string()
        ),
    )
}

fn logged(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("paginate.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Fetches 25 users with `odd` in `mode`: the outcome, the server, the plugin's log.
async fn fetch_odd(
    mode: &str,
    timeout: Duration,
) -> (
    rollcall_tests::Outcome,
    rollcall_testserver::ScimServer,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path());
    let h = host(dir.path(), timeout);
    let c = compile(&manifest("odd", "next", &format!("{{ mode: {mode} }}")), &h);
    let srv = server(25).await;
    let out = run_connector(c, &srv.scim_base_url()).await;
    (out, srv, dir)
}

fn failure(out: &rollcall_tests::Outcome) -> String {
    match &out.result {
        Ok(s) => panic!("the fetch should fail: {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// The plugin ends the list when it says so, and gets what it needs of each page and
/// nothing secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_ends_the_list_and_gets_the_response_without_secrets() {
    let (out, srv, dir) = fetch_odd("two_pages", Duration::from_secs(10)).await;
    let summary = out.summary();
    assert!(
        summary.complete,
        "the plugin said it was the end: {summary:?}"
    );
    assert_eq!(summary.pages, 2);
    assert_eq!(out.records.len(), 20);
    assert_eq!(start_indexes(&srv), [None, Some("11".into())]);
    let sent = logged(dir.path());
    assert_eq!(sent.len(), 2);
    for (n, req) in sent.iter().enumerate() {
        assert_eq!(req["type"], "paginate");
        assert_eq!(req["function"], "next");
        assert_eq!(req["page"], json!(n + 1));
        assert_eq!(req["status"], 200);
        assert_eq!(req["count"], 10);
        assert_eq!(req["config"], json!({"mode": "two_pages"}));
        // Only the body attributes it declared: not the page's records.
        assert_eq!(
            req["body"],
            json!({"startIndex": 1 + 10 * n, "itemsPerPage": 10})
        );
        let url = req["url"].as_str().unwrap();
        assert!(
            url.starts_with(&srv.scim_base_url()) && url.contains("count=10"),
            "{url}"
        );
        let headers = req["headers"].as_object().unwrap();
        assert!(
            headers["content-type"]
                .as_str()
                .is_some_and(|v| v.contains("json")),
            "{headers:?}"
        );
        assert!(!headers.contains_key("authorization"), "{headers:?}");
        let text = req.to_string();
        assert!(
            !text.contains(TOKEN),
            "the token reached the plugin: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_url_relative_to_the_page_is_followed() {
    let (out, srv, _dir) = fetch_odd("relative_url", Duration::from_secs(10)).await;
    let summary = out.summary();
    assert!(summary.complete, "{summary:?}");
    assert_eq!(out.records.len(), 25);
    assert_eq!(
        start_indexes(&srv),
        [
            None,
            Some("11".into()),
            Some("21".into()),
            Some("26".into())
        ]
    );
}

/// A null parameter leaves the stream's own parameter of that name out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_parameter_leaves_the_streams_own_out() {
    let (out, srv, _dir) = fetch_odd("no_count", Duration::from_secs(10)).await;
    assert!(out.summary().complete);
    assert_eq!(out.records.len(), 25);
    let queries: Vec<Option<String>> = srv
        .handle()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/Users"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        queries,
        [Some("count=10".into()), Some("startIndex=11".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_request_already_made_stops_the_stream_instead_of_looping() {
    let (out, srv, _dir) = fetch_odd("stuck", Duration::from_secs(10)).await;
    let e = failure(&out);
    assert!(e.contains("plugin `odd` ("), "{e}");
    assert!(e.contains("function `next` answered"), "{e}");
    assert!(
        e.contains("startIndex=1") && e.contains("but it was already requested"),
        "{e}"
    );
    assert!(e.contains("instead of looping forever"), "{e}");
    // The stream's URL, then startIndex=1 once; its repeat was never sent.
    assert_eq!(start_indexes(&srv), [None, Some("1".into())]);
    assert_eq!(out.records.len(), 10);
}

/// A plugin that still has a next page at the stream's `max_pages` fails the stream
/// (a list read in part must not pass for the whole one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_still_paging_at_max_pages_fails_the_stream() {
    let dir = dylib_dir();
    let h = host(dir.path(), Duration::from_secs(10));
    let text = manifest("pager", "scim_pages", "{}").replace(
        "function: scim_pages, config: {} }\n",
        "function: scim_pages, config: {} }\n    max_pages: 2\n",
    );
    assert!(text.contains("max_pages: 2"), "{text}");
    let c = compile(&text, &h);
    let srv = server(25).await;
    let out = run_connector(c, &srv.scim_base_url()).await;
    let e = failure(&out);
    assert!(
        e.starts_with("plugin `pager` (")
            && e.contains("function `scim_pages` still had a next page after 2 pages")
            && e.contains("`max_pages`"),
        "{e}"
    );
    assert_eq!(start_indexes(&srv), [None, Some("11".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_url_on_another_host_is_refused() {
    let (out, srv, _dir) = fetch_odd("elsewhere", Duration::from_secs(10)).await;
    let e = failure(&out);
    assert!(e.contains("plugin `odd` ("), "{e}");
    assert!(
        e.contains("https://elsewhere.example/Users?startIndex=11"),
        "{e}"
    );
    assert!(
        e.contains("on another host than the connector's base URL"),
        "{e}"
    );
    assert!(e.contains(&srv.origin()), "{e}");
    assert_eq!(start_indexes(&srv), [None]);
}

/// Every way a paginator call can fail stops the stream with a sentence naming the
/// plugin, its file and the function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_garbled_paginator_fails_the_stream_naming_the_plugin() {
    for (mode, want) in [
        ("error", "function `next` failed: no idea what comes next"),
        ("garbage", "wrote something that is not a rollcall message"),
        (
            "wrong_type",
            "function `next` answered a `value` message where `next` or `end` was expected",
        ),
        (
            "empty_next",
            "function `next` answered `next` without a `url` or `params`",
        ),
        (
            "both",
            "function `next` answered `next` with both `url` and `params`",
        ),
        (
            "list_param",
            "function `next` answered the parameter `startIndex` as a list",
        ),
        ("hang", "did not answer within 1.0s and was stopped"),
    ] {
        let (out, srv, dir) = fetch_odd(mode, Duration::from_secs(1)).await;
        let e = failure(&out);
        assert!(e.contains(want), "{mode}: {e}");
        assert!(
            e.contains("the stream's paginator could not say what follows page 1"),
            "{mode}: {e}"
        );
        assert!(e.contains("plugin `odd` ("), "{mode}: {e}");
        assert!(e.contains("function `next`"), "{mode}: {e}");
        assert!(
            e.contains(&dir.path().join("odd.py").display().to_string()),
            "{mode}: {e}"
        );
        assert!(e.contains("the stream stops there"), "{mode}: {e}");
        assert_eq!(start_indexes(&srv), [None], "{mode}");
        assert_eq!(out.records.len(), 10, "{mode}");
    }
}

/// A library paginator that panics fails the stream; rollcall goes on running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_library_paginator_fails_the_stream() {
    let (dir, file) = library_dir("faulty");
    let h = host(dir.path(), Duration::from_secs(5));
    let c = compile(&manifest("faulty", "panic_pages", "{}"), &h);
    let srv = server(25).await;
    let out = run_connector(c, &srv.scim_base_url()).await;
    let e = failure(&out);
    assert!(
        e.contains("the stream's paginator could not say what follows page 1"),
        "{e}"
    );
    assert!(e.contains("function `panic_pages` failed"), "{e}");
    assert!(
        e.contains("panicked: the faulty paginator panics after page 1"),
        "{e}"
    );
    assert!(e.contains(&file.display().to_string()), "{e}");
    assert_eq!(out.records.len(), 10);
    assert_eq!(start_indexes(&srv), [None]);
}

/// A library paginator that never returns fails the stream at the timeout, naming the
/// plugin, its file and the function; the next fetch with the same (now stuck) plugin
/// fails at once with the stuck message instead of waiting out the timeout again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_library_paginator_fails_the_stream_then_the_stuck_plugin_fails_at_once() {
    let (dir, file) = library_dir("faulty");
    let h = host(dir.path(), Duration::from_millis(500));
    let c = compile(&manifest("faulty", "hang_pages", "{}"), &h);
    let srv = server(25).await;
    let base_url = srv.scim_base_url();
    let fetch =
        || tokio::time::timeout(Duration::from_secs(60), run_connector(c.clone(), &base_url));
    let out = fetch().await.expect("the fetch ends");
    let e = failure(&out);
    assert!(
        e.contains("the stream's paginator could not say what follows page 1"),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "the plugin `faulty` ({}), function `hang_pages`, did not return within 0.5s",
            file.display()
        )),
        "{e}"
    );
    assert!(e.contains("raise --plugin-timeout"), "{e}");
    assert_eq!(out.records.len(), 10);
    let out = fetch().await.expect("the second fetch ends");
    let e = failure(&out);
    assert!(
        e.contains("is not called: its function `hang_pages` did not return within 0.5s and is still running"),
        "{e}"
    );
    assert_eq!(start_indexes(&srv), [None, None]);
}

/// A CLI environment with the faulty library in its plugin directory, after one
/// successful run of the Miro integration (plain test manifest) against `base_url`.
fn after_one_run_with_faulty(base_url: &str) -> CliEnv {
    let mut env = CliEnv::new();
    let plugins = env.data_dir().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    install(&plugins, &library("faulty"), &library_file("faulty"));
    env.connector("miro", &TestManifest::default().text());
    env.integration("Miro Users", "Miro EU", base_url, "");
    env.ok(&["run", "Miro Users"]);
    env
}

/// Runs `cmd` with its output captured; its status, stdout and stderr within a minute.
fn finish_within_a_minute(
    mut cmd: std::process::Command,
) -> (std::process::ExitStatus, String, String) {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    Running(child).finish(Duration::from_secs(60))
}

/// `rollcall run` (the real binary) with a library paginator that hangs: the run fails
/// after `--plugin-timeout`, the process exits although the call is still running on
/// its thread, nothing is changed in the store, and the run is recorded as failed.
#[test]
fn rollcall_run_with_a_hanging_library_paginator_fails_and_changes_nothing() {
    let rt = one_worker_runtime();
    let srv = rt.block_on(server(25));
    let mut env = after_one_run_with_faulty(&srv.scim_base_url());
    let before = env.json(&["saas-users", "list"]);
    assert_eq!(before.len(), 25);
    // The next run would deactivate accounts, but its paginator hangs after page 1.
    let h = srv.handle();
    let turned_off: Vec<String> = h
        .users()
        .iter()
        .take(5)
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    for id in &turned_off {
        assert!(h.set_active(id, false));
    }
    env.connector("miro", &manifest("faulty", "hang_pages", "{}"));
    let run = env.command(&["--plugin-timeout", "1s", "run", "Miro Users"]);
    let (status, stdout, stderr) = finish_within_a_minute(run);
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("function `hang_pages`, did not return within 1.0s"),
        "{stderr}"
    );
    assert_eq!(
        env.json(&["saas-users", "list"]),
        before,
        "the failed run changed nothing"
    );
    let runs = env.runs();
    assert_eq!(runs[0]["status"], "failed", "{runs:#?}");
    assert!(
        runs[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("function `hang_pages`, did not return within 1.0s")),
        "{runs:#?}"
    );
}

/// A library that hangs while it loads (here its `describe`) does not hang rollcall:
/// the command fails after `--plugin-timeout`, saying which plugin and what to do, and
/// the store is as it was.
#[test]
fn a_library_that_hangs_while_loading_fails_the_command_after_the_timeout() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = rt.block_on(server(5));
    let mut env = after_one_run_with_faulty(&srv.scim_base_url());
    let file = library_file("faulty");
    env.connector("miro", &manifest("faulty", "hang_pages", "{}"));
    let mut run = env.command(&["--plugin-timeout", "1s", "run", "Miro Users"]);
    run.env("ROLLCALL_FAULTY_HANG_ON_LOAD", "1");
    let (status, stdout, stderr) = finish_within_a_minute(run);
    assert_ne!(status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the plugin `faulty` (")
            && stderr.contains(&format!("{file}) did not finish loading within 1.0s"))
            && stderr.contains("raise --plugin-timeout"),
        "{stderr}"
    );
    let runs = env.runs();
    assert_eq!(runs.len(), 1, "no run was started: {runs:#?}");
    assert_eq!(env.json(&["saas-users", "list"]).len(), 5);
}

#[test]
fn manifest_mistakes_about_a_plugin_paginator_are_located() {
    let dir = dylib_dir();
    let h = host(dir.path(), Duration::from_secs(5));
    for (text, want, hint) in [
        (
            manifest("pager", "scim_page", "{}"),
            "the plugin `pager` (",
            "did you mean `scim_pages`?",
        ),
        (
            manifest("pager", "scim_pages", "{}")
                .replace("plugin: { plugin: pager,", "plugin: { plugin: pagr,"),
            "the plugin `pagr` is not declared under `plugins:`",
            "did you mean `pager`?",
        ),
    ] {
        let e = load_with(&text, &h).unwrap_err();
        assert_eq!(e.diagnostics.len(), 1, "{}", e.render());
        let d = e.diagnostics[0].to_string();
        assert!(d.contains(want), "{d}");
        assert!(e.render().contains(hint), "{}", e.render());
        rollcall_tests::assert_located("paged.yaml", &d);
        // The line is the paginator's.
        let line: usize = d.split(':').nth(1).unwrap().parse().unwrap();
        assert!(
            text.lines().nth(line - 1).unwrap().contains("plugin: {"),
            "{d}"
        );
    }

    // A function of another kind.
    let dir = tempfile::tempdir().unwrap();
    script(dir.path());
    let h = host(dir.path(), Duration::from_secs(5));
    let e = load_with(&manifest("odd", "f", "{}"), &h).unwrap_err();
    let all = e.to_string();
    assert!(
        all.contains("`f` of plugin `odd` is a field transform, not a paginator"),
        "{all}"
    );
    rollcall_tests::assert_located("paged.yaml", &e.diagnostics[0].to_string());
}

/// The real binary: `plugins list` shows the paginator, `fetch` pages with it.
#[test]
fn the_cli_lists_and_uses_a_plugin_paginator() {
    let dir = python_dir();
    let stdout = list_plugins(dir.path());
    assert!(stdout.contains("  paginator `scim_pages`"), "{stdout}");

    let rt = one_worker_runtime();
    let srv = rt.block_on(server(23));
    let file = dir.path().join("paged.yaml");
    std::fs::write(&file, manifest("pager", "scim_pages", "{}")).unwrap();
    let out = fetch_with_plugins(dir.path(), &file, &srv.scim_base_url())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 23);
    let explained = std::process::Command::new(rollcall_bin())
        .arg("explain")
        .arg(&file)
        .env("ROLLCALL_PLUGINS_DIR", dir.path())
        .env("ROLLCALL_HOME", dir.path().join("home"))
        .output()
        .unwrap();
    let text = String::from_utf8(explained.stdout).unwrap();
    assert!(explained.status.success(), "{text}");
    assert!(
        text.contains("asks plugin `pager` (")
            && text.contains("function `scim_pages` for the next request after each page"),
        "{text}"
    );
    assert_eq!(
        start_indexes(&srv),
        [None, Some("11".into()), Some("21".into())]
    );
}
