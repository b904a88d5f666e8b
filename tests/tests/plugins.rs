//! Plugins: dynamic libraries and subprocesses built from this workspace, loaded
//! through the real host; every failure the plugin issue lists (library missing, ABI
//! mismatch, missing symbol, panic, invalid JSON, a subprocess that exits, hangs or
//! writes garbage, a sha256 mismatch), and fetches and CLI runs that use them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::FetchOptions;
use rollcall_core::manifest::load_connector_with_plugins;
use rollcall_core::plugin::{Plugin, PluginHost, RecordOutcome, Request, Response};
use rollcall_plugins::{Host, HostOptions};
use rollcall_source::SourceFile;
use rollcall_tests::plugins::{install, install_script, library, library_file, python_example};
use rollcall_tests::{TOKEN, inputs, rollcall_bin, server, workspace_root};
use serde_json::{Value, json};

fn host(dir: &Path, timeout: Duration) -> Host {
    Host::new(HostOptions {
        dirs: vec![dir.to_path_buf()],
        timeout,
    })
}

/// A plugin directory with the Rust example as `libseat_type.so`.
fn dylib_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install(
        dir.path(),
        &library("seat_type"),
        &library_file("seat_type"),
    );
    dir
}

/// A plugin directory with the Python example as `seat_type.py`.
fn python_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &python_example(), "seat_type.py");
    dir
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
                RecordOutcome::Keep(
                    json!({"userName": "a@x", "userType": "Free Restricted", "displayName": "A", "seatType": "restricted", "fullName": "A"})
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
    let dir = tempfile::tempdir().unwrap();
    let file = install(
        dir.path(),
        &library("wrong_abi"),
        &library_file("wrong_abi"),
    );
    let e = open_err(&host(dir.path(), Duration::from_secs(1)), "wrong_abi");
    assert!(e.contains("plugin ABI version 9999"), "{e}");
    assert!(e.contains("speaks version 1"), "{e}");
    assert!(e.contains(&file.display().to_string()), "{e}");
}

#[test]
fn a_missing_symbol_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = install(
        dir.path(),
        &library("no_invoke"),
        &library_file("no_invoke"),
    );
    let e = open_err(&host(dir.path(), Duration::from_secs(1)), "no_invoke");
    assert!(
        e.contains("does not export `rollcall_plugin_invoke`"),
        "{e}"
    );
    assert!(e.contains(&file.display().to_string()), "{e}");
}

#[test]
fn a_panic_inside_a_library_is_an_error_and_the_host_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = install(dir.path(), &library("faulty"), &library_file("faulty"));
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

#[test]
fn invalid_json_from_a_library_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = install(dir.path(), &library("bad_json"), &library_file("bad_json"));
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
