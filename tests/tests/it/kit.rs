//! The connector author's commands on the real binary: `check` (plain diagnoses),
//! `explain`, `init connector` (files that validate) and `action` (by hand, dry run,
//! not found).

use rollcall_tests::TOKEN;
use rollcall_testserver::{Fault, Match};
use serde_json::Value;

use crate::cli::{Live, ran, rollcall};

/// `rollcall ARGS` with the test token and `base_url=BASE`.
fn with_token(args: &[&str], base: &str) -> crate::cli::Ran {
    ran(rollcall()
        .env("RC_T", TOKEN)
        .args(args)
        .args(["--secret-env", "token=RC_T", "--set"])
        .arg(format!("base_url={base}")))
}

#[test]
fn check_says_ok_or_plainly_what_is_wrong() {
    let live = Live::new(5);
    let r = with_token(&["check", "miro"], &live.base());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("ok: `miro` reads `users`"),
        "{}",
        r.stdout
    );

    // The smallest request: one page of one record.
    let sent = live.server.handle().requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].query_param("count").as_deref(), Some("1"));
    assert_eq!(sent[0].query_param("startIndex").as_deref(), Some("1"));

    let r = ran(rollcall()
        .env("RC_T", "not-the-token")
        .args(["check", "miro", "--secret-env", "token=RC_T", "--set"])
        .arg(format!("base_url={}", live.base())));
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("bad token: "), "{}", r.stdout);
    assert!(!r.stdout.contains("not-the-token"));

    let r = with_token(&["check", "miro"], &format!("{}/nope", live.base()));
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("wrong base URL: "), "{}", r.stdout);

    live.server.handle().push_fault(Fault::scim_error(
        Match::ListUsers,
        1,
        403,
        None,
        "SCIM is not enabled",
    ));
    let r = with_token(&["check", "miro"], &live.base());
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("is SCIM provisioning enabled"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("SCIM is not enabled"), "{}", r.stdout);
}

#[test]
fn check_stops_at_a_first_record_that_does_not_fit_the_manifest() {
    let live = Live::new(50);
    let h = live.server.handle();
    let first = h.user_ids()[0].clone();
    // No `id`: the manifest's required primary key is missing.
    assert!(h.replace_user(
        &first,
        serde_json::json!({"userName": "no-id@example.com", "active": true})
    ));
    let r = with_token(&["check", "miro"], &live.base());
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .starts_with("the credentials work, but the first record does not fit the manifest: "),
        "{}",
        r.stdout
    );
    // One page of one record, not a walk through the list looking for a good one.
    let sent = h.requests();
    assert!(sent.len() <= 2, "{} requests", sent.len());
    assert!(
        sent.iter()
            .all(|r| r.query_param("count").as_deref() == Some("1")),
        "{sent:?}"
    );
}

#[test]
fn explain_shows_inputs_requests_paging_fields_and_actions() {
    let r = ran(rollcall().args(["explain", "miro"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for want in [
        "Inputs:",
        "token          The SCIM token",
        "GET /Users?startIndex=N&count=200",
        "SCIM: startIndex from 1",
        "email                string    $.emails[?@.primary == true].value",
        "connector_sync_time  datetime  computed sync_time",
        "deactivate_user: PATCH /Users/{{urlencode id}}",
        "setting op = \"Replace\"",
        "success [200, 204]; not found [404]; 100 requests per 30s",
    ] {
        assert!(
            r.stdout.contains(want),
            "missing `{want}` in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn init_writes_commented_manifests_that_validate() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, scim) in [("acme", true), ("acme-rest", false)] {
        let mut cmd = rollcall();
        cmd.args(["init", "connector", name, "--dir"])
            .arg(tmp.path());
        if scim {
            cmd.arg("--scim");
        }
        let r = ran(&mut cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let path = tmp.path().join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# yaml-language-server: $schema=connector.schema.json\n"));
        assert!(text.contains(&format!("name: {name}\n")));
        let r = ran(rollcall().arg("validate").arg(&path));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
    let schema = std::fs::read_to_string(tmp.path().join("connector.schema.json")).unwrap();
    assert_eq!(schema, ran(rollcall().arg("schema")).stdout);
    let r = ran(rollcall()
        .args(["init", "connector", "acme", "--dir"])
        .arg(tmp.path()));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("exists already; pass --force"),
        "{}",
        r.stderr
    );
    let r = ran(rollcall().args(["init", "connector", "Acme"]));
    assert!(
        r.stderr.contains("may only use lowercase letters"),
        "{}",
        r.stderr
    );
}

#[test]
fn action_runs_by_hand_with_dry_run_and_not_found() {
    let live = Live::new(5);
    let h = live.server.handle();
    let id = h.user_ids()[0].clone();
    let set_id = format!("id={id}");

    let r = with_token(
        &[
            "action",
            "miro",
            "deactivate_user",
            "--dry-run",
            "--set",
            &set_id,
        ],
        &live.base(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with(&format!("PATCH {}/Users/{id}\n", live.base())),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("authorization: ***"), "{}", r.stdout);
    assert!(r.stdout.contains("\"op\": \"Replace\""), "{}", r.stdout);
    assert!(!r.stdout.contains(TOKEN));
    assert_eq!(h.request_count(), 0, "a dry run sends nothing");

    let r = with_token(
        &[
            "action",
            "miro",
            "deactivate_user",
            "--set",
            &set_id,
            "--set",
            "active=false",
            "--set",
            "op=replace",
        ],
        &live.base(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rec: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(rec["id"], Value::String(id.clone()));
    assert_eq!(rec["active"], Value::Bool(false));
    assert!(
        r.stderr.contains("deactivate_user: done (HTTP 200)"),
        "{}",
        r.stderr
    );
    let body: Value = serde_json::from_str(&h.requests().last().unwrap().body).unwrap();
    assert_eq!(body["Operations"][0]["value"], Value::Bool(false));
    assert_eq!(body["Operations"][0]["op"], "replace");

    let r = with_token(
        &["action", "miro", "get_user", "--set", "id=nobody"],
        &live.base(),
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("get_user: not found (HTTP 404"),
        "{}",
        r.stderr
    );

    let r = ran(rollcall().args(["action", "miro"]));
    assert!(
        r.stdout
            .contains("deactivate_user      PATCH   --set id=..."),
        "{}",
        r.stdout
    );
}

/// A failing action prints its cause once: the error's sentence already carries the
/// server's answer, so the CLI does not repeat it as a cause.
#[test]
fn a_failing_action_says_why_once() {
    let live = Live::new(3);
    let h = live.server.handle();
    let set_id = format!("id={}", h.user_ids()[0]);
    let detail = "User deactivation is locked by an org policy";
    h.push_fault(Fault::scim_error(
        Match::PatchUser,
        1,
        409,
        Some("mutability"),
        detail,
    ));
    let r = with_token(
        &["action", "miro", "deactivate_user", "--set", &set_id],
        &live.base(),
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .starts_with("error: the action `deactivate_user` failed: HTTP 409 from PATCH "),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches(detail).count(), 1, "{}", r.stderr);
    assert_eq!(r.stderr.matches("HTTP 409").count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains(TOKEN));
}
