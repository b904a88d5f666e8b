//! The real `rollcall` binary: validate, schema, connectors, fetch in every format
//! against a test server running in this process, secrets, `--explain`, exit codes
//! and the demo.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use assert_cmd::Command;
use rollcall_tests::{TOKEN, miro_text, rollcall_bin, tests_dir, workspace_root};
use rollcall_testserver::{Fault, Match, ScimServer, ServerConfig};
use serde_json::Value;

const FIELD_ORDER: &str = "id,username,email,first_name,family_name,display_name,active,user_type,role,admin_roles,resource_type,department,cost_center,employee_number,manager_id,connector_sync_time";

/// The binary, run from the workspace root, with no rollcall settings inherited.
pub(crate) fn rollcall() -> Command {
    let mut c = Command::new(rollcall_bin());
    c.current_dir(workspace_root());
    for (k, _) in std::env::vars() {
        if k.starts_with("ROLLCALL_") {
            c.env_remove(k);
        }
    }
    c
}

pub(crate) struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub(crate) fn ran(cmd: &mut Command) -> Ran {
    let out = cmd.output().expect("the binary runs");
    Ran {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A test server on its own runtime, serving while the binary runs.
pub(crate) struct Live {
    pub(crate) server: ScimServer,
    _rt: tokio::runtime::Runtime,
}

impl Live {
    pub(crate) fn new(users: usize) -> Live {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(rollcall_tests::server_with(ServerConfig {
            users,
            ..ServerConfig::default()
        }));
        Live { server, _rt: rt }
    }

    pub(crate) fn base(&self) -> String {
        self.server.scim_base_url()
    }

    /// `rollcall fetch miro` against this server with the token from the environment.
    pub(crate) fn fetch(&self, extra: &[&str]) -> Command {
        let mut c = rollcall();
        c.env("RC_TEST_SCIM_TOKEN", TOKEN)
            .args(["fetch", "miro", "--set"])
            .arg(format!("base_url={}", self.base()))
            .args(["--secret-env", "token=RC_TEST_SCIM_TOKEN"])
            .args(extra);
        c
    }
}

#[test]
fn validate_accepts_the_shipped_manifest() {
    let r = ran(rollcall().args(["validate", "connectors/miro.yaml"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "ok: connectors/miro.yaml — connector `miro` 1.0.0, streams: users (16 fields)"
        ),
        "{}",
        r.stdout
    );
    let r = ran(rollcall().args(["validate", "miro"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("built-in"), "{}", r.stdout);
}

#[test]
fn validate_reports_every_problem_of_every_broken_manifest() {
    let dir = tests_dir().join("manifests/broken");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    for name in names {
        let rel = format!("manifests/broken/{name}");
        let r = ran(rollcall().current_dir(tests_dir()).args(["validate", &rel]));
        assert_eq!(r.code, 1, "{rel}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{rel}: {}", r.stdout);
        let Ok(expected) = std::fs::read_to_string(dir.join(name.replace(".yaml", ".expected")))
        else {
            panic!("{rel} has no .expected file");
        };
        let headlines: Vec<&str> = expected
            .lines()
            .filter(|l| l.starts_with("manifests/broken/"))
            .collect();
        assert!(!headlines.is_empty(), "{rel}");
        for h in &headlines {
            assert!(
                h.starts_with(&format!("{rel}:")) && h.contains(": error: "),
                "{h}"
            );
            assert!(
                r.stderr.contains(h),
                "{rel}: `{h}` missing from\n{}",
                r.stderr
            );
        }
        let n = headlines.len();
        let found = format!("{n} problem{} found", if n == 1 { "" } else { "s" });
        assert!(r.stderr.trim_end().ends_with(&found), "{rel}: {}", r.stderr);
    }
}

#[test]
fn validate_goes_on_after_a_broken_file() {
    let miro = workspace_root().join("connectors/miro.yaml");
    let r = ran(rollcall()
        .current_dir(tests_dir())
        .arg("validate")
        .arg("manifests/broken/duplicate_key.yaml")
        .arg(&miro));
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("connector `miro`"), "{}", r.stdout);
    assert!(
        r.stderr.contains("manifests/broken/duplicate_key.yaml:"),
        "{}",
        r.stderr
    );
    let r = ran(rollcall().args(["validate", "no-such-connector"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no connector named `no-such-connector`"),
        "{}",
        r.stderr
    );
}

/// `rollcall schema KIND` prints `schemas/KIND.schema.json` byte for byte, for every file
/// format (the connector manifest is the default kind).
#[test]
fn schema_prints_the_committed_schemas_byte_for_byte() {
    for (kind, title) in [
        ("connector", "rollcall connector manifest"),
        ("workflow", "rollcall workflow"),
        ("integration", "rollcall integration"),
        ("report", "rollcall report"),
    ] {
        let path = workspace_root().join(format!("schemas/{kind}.schema.json"));
        let committed =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{} is missing ({e})", path.display()));
        let out = rollcall().args(["schema", kind]).output().unwrap();
        assert!(out.status.success());
        assert!(
            out.stdout == committed,
            "`rollcall schema {kind}` differs from {}; regenerate it with `rollcall schema {kind} > schemas/{kind}.schema.json`",
            path.display()
        );
        let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(schema["title"], title);
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    }
    let default = rollcall().arg("schema").output().unwrap();
    let connector = rollcall().args(["schema", "connector"]).output().unwrap();
    assert_eq!(default.stdout, connector.stdout);
}

#[test]
fn connectors_lists_the_built_in_miro() {
    let r = ran(rollcall().arg("connectors"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("miro "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        row.contains("1.0.0") && row.contains("users") && row.contains("built-in (miro.yaml)"),
        "{row}"
    );
}

#[test]
fn a_connectors_dir_manifest_overrides_the_built_in() {
    let live = Live::new(12);
    let dir = tempfile::tempdir().unwrap();
    let text = miro_text().replacen("version: 1.0.0", "version: 9.9.9", 1);
    assert_ne!(text, miro_text());
    // The file name does not matter: the `name:` inside does.
    let file = dir.path().join("my-miro.yaml");
    std::fs::write(&file, text).unwrap();

    let r = ran(rollcall()
        .arg("--connectors-dir")
        .arg(dir.path())
        .arg("connectors"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("miro "))
        .collect();
    assert_eq!(rows.len(), 1, "{}", r.stdout);
    assert!(
        rows[0].contains("9.9.9") && rows[0].contains(&file.display().to_string()),
        "{}",
        rows[0]
    );

    // Through the environment variable too, and used by fetch.
    let r = ran(live
        .fetch(&["--explain"])
        .env("ROLLCALL_CONNECTORS_DIR", dir.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("connector miro 9.9.9 ({})", file.display())),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 12);
}

#[test]
fn fetch_jsonl() {
    let live = Live::new(60);
    let r = ran(&mut live.fetch(&["--format", "jsonl"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut ids = Vec::new();
    for line in r.stdout.lines() {
        let v: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(v.keys().cloned().collect::<Vec<_>>().join(","), FIELD_ORDER);
        assert!(v["active"].is_boolean() && v["admin_roles"].is_array());
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    rollcall_tests::assert_same_users(&ids, &live.server.handle().user_ids());
    assert!(r.stderr.contains("60 records in"), "{}", r.stderr);
    assert!(!r.stderr.contains("not read to the end"), "{}", r.stderr);
}

#[test]
fn fetch_csv() {
    let live = Live::new(60);
    let r = ran(&mut live.fetch(&["--format", "csv"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], FIELD_ORDER);
    assert_eq!(lines.len(), 61);
    let ids = live.server.handle().user_ids();
    for line in &lines[1..] {
        let id = line.split(',').next().unwrap();
        assert!(ids.iter().any(|i| i == id), "{line}");
    }
}

#[test]
fn fetch_json() {
    let live = Live::new(60);
    let r = ran(&mut live.fetch(&["--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v.len(), 60);
    let ids: Vec<String> = v
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    rollcall_tests::assert_same_users(&ids, &live.server.handle().user_ids());
    // No users: still a JSON array.
    let empty = Live::new(0);
    let r = ran(&mut empty.fetch(&["--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&r.stdout).unwrap().len(),
        0
    );
}

#[test]
fn fetch_table() {
    let live = Live::new(60);
    let r = ran(&mut live.fetch(&["--format", "table"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 61);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(&header[..3], ["ID", "USERNAME", "EMAIL"]);
    let first_id = live.server.handle().user_ids()[0].clone();
    assert!(lines[1].starts_with(&first_id), "{}", lines[1]);
}

#[test]
fn fetch_with_a_limit() {
    let live = Live::new(60);
    let r = ran(&mut live.fetch(&["--limit", "5"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 5);
    assert!(r.stderr.contains("5 records in"), "{}", r.stderr);
    assert!(
        r.stderr.contains("the list was not read to the end"),
        "{}",
        r.stderr
    );
}

#[test]
fn fetch_takes_the_token_from_the_conventional_variable() {
    let live = Live::new(7);
    let r = ran(rollcall()
        .env("ROLLCALL_MIRO_TOKEN", TOKEN)
        .args(["fetch", "miro", "--set"])
        .arg(format!("base_url={}", live.base())));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 7);
}

#[test]
fn a_secret_on_the_command_line_is_refused_without_echoing_it() {
    let live = Live::new(3);
    let r = ran(rollcall()
        .args(["fetch", "miro", "--set"])
        .arg(format!("base_url={}", live.base()))
        .arg("--set")
        .arg(format!("token={TOKEN}")));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`token` is a secret input"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--secret-env token=VAR"), "{}", r.stderr);
    assert!(
        !r.stderr.contains(TOKEN) && !r.stdout.contains(TOKEN),
        "{}",
        r.stderr
    );
    assert_eq!(live.server.handle().request_count(), 0, "nothing was sent");
    // A misspelt secret input is not echoed either.
    let r = ran(rollcall()
        .args(["fetch", "miro", "--set"])
        .arg(format!("tokn={TOKEN}")));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no input `tokn`"), "{}", r.stderr);
    assert!(!r.stderr.contains(TOKEN), "{}", r.stderr);
}

#[test]
fn explain_prints_requests_with_the_token_redacted() {
    let live = Live::new(30);
    live.server
        .handle()
        .push_fault(Fault::too_many_requests(Match::ListUsers, 1, Some("0")));
    let r = ran(&mut live.fetch(&["--explain"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let base = live.base();
    assert!(
        r.stderr.contains(&format!("input base_url = {base}")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("input token = ***"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "GET {base}/Users?startIndex=1&count=200 → HTTP 429"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("retrying"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("GET {base}/Users?startIndex=1&count=200 → 200")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("30 records"), "{}", r.stderr);
    assert!(!r.stderr.contains(TOKEN) && !r.stdout.contains(TOKEN));
}

#[test]
fn exit_codes() {
    let live = Live::new(3);
    // Rejected credentials: 1, and the (wrong) token is not printed.
    let wrong = "wrong-Fq2Lr8Wx5Zc1Nb7M";
    let r = ran(rollcall()
        .env("RC_WRONG", wrong)
        .args(["fetch", "miro", "--set"])
        .arg(format!("base_url={}", live.base()))
        .args(["--secret-env", "token=RC_WRONG", "--explain"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("error: the API rejected the credentials"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(wrong), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // Missing secret: 1, with how to give it.
    let r = ran(rollcall()
        .args(["fetch", "miro", "--set"])
        .arg(format!("base_url={}", live.base())));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("ROLLCALL_MIRO_TOKEN"), "{}", r.stderr);
    // An unset variable named by --secret-env: 1.
    let r = ran(rollcall().args([
        "fetch",
        "miro",
        "--secret-env",
        "token=RC_SURELY_UNSET_VARIABLE",
    ]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`RC_SURELY_UNSET_VARIABLE`"),
        "{}",
        r.stderr
    );
    // Unknown connector: 1, with the list.
    let r = ran(rollcall().args(["fetch", "mirro"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("no connector named `mirro`. Did you mean `miro`?"),
        "{}",
        r.stderr
    );
    // Plain http to a remote host: 1, before any request.
    let r = ran(rollcall().env("RC_T", TOKEN).args([
        "fetch",
        "miro",
        "--set",
        "base_url=http://example.com/scim",
        "--secret-env",
        "token=RC_T",
    ]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("plain http"), "{}", r.stderr);
    // Usage errors: 2.
    assert_eq!(
        ran(rollcall().args(["fetch", "miro", "--format", "xml"])).code,
        2
    );
    assert_eq!(ran(rollcall().arg("no-such-command")).code, 2);
    assert_eq!(ran(&mut rollcall()).code, 2);
    assert_eq!(
        live.server.handle().request_count(),
        1,
        "only the rejected request reached the server"
    );
}

#[test]
fn a_closed_stdout_ends_the_fetch_quietly() {
    let live = Live::new(600);
    let mut child = std::process::Command::new(rollcall_bin())
        .current_dir(workspace_root())
        .env("RC_TEST_SCIM_TOKEN", TOKEN)
        .env_remove("ROLLCALL_CONNECTORS_DIR")
        .args(["fetch", "miro", "--set"])
        .arg(format!("base_url={}", live.base()))
        .args(["--secret-env", "token=RC_TEST_SCIM_TOKEN"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success(),
        "like `rollcall fetch ... | head -1`: {stderr}"
    );
}

#[test]
fn fetch_by_manifest_path() {
    let live = Live::new(9);
    let r = ran(rollcall()
        .env("RC_T", TOKEN)
        .arg("fetch")
        .arg(Path::new("connectors").join("miro.yaml"))
        .arg("--set")
        .arg(format!("base_url={}", live.base()))
        .args(["--secret-env", "token=RC_T", "--format", "csv"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 10);
}

#[test]
fn demo_runs_and_summarises() {
    let r = ran(rollcall().args(["demo", "--users", "40", "--rows", "5"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("rollcall demo: a Miro-like SCIM server with 40 users"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Summary"), "{}", r.stdout);
    assert!(r.stdout.contains("users read      40 in"), "{}", r.stdout);
    assert!(r.stdout.contains("… and 35 more"), "{}", r.stdout);
    // The source-of-truth part: 36 of 40 people in the "HR export", update-only.
    for line in [
        "1. imported 36 people from the HR export",
        "3. run 1: fetched 40, created 36, updated 0, unchanged 0, skipped 4, failed 0",
        "preference is update-only",
        "4. run 2 again with unchanged data: 36 unchanged, 0 updated, 0 created",
        "5. a list view: deactivated Miro accounts",
    ] {
        assert!(
            r.stdout.contains(line),
            "`{line}` missing from:\n{}",
            r.stdout
        );
    }
}
