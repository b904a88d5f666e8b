//! The connector test kit: every shipped connector replays its cassette
//! (`connectors/tests/NAME.cassette.json`, made from the vendor's documented response
//! shapes) to exactly its expected records; recording redacts the token; a request the
//! cassette lacks and a changed record are explained.

use std::path::Path;

use rollcall_tests::{TOKEN, files_with_ext, workspace_root};

use crate::cli::{Live, ran, rollcall};

fn test_cmd(connector: &str, cassette: &Path, extra: &[&str]) -> crate::cli::Ran {
    ran(rollcall()
        .args(["test", connector, "--cassette"])
        .arg(cassette)
        .args(extra))
}

#[test]
fn every_shipped_connector_replays_its_cassette_to_the_expected_records() {
    let dir = workspace_root().join("connectors");
    let manifests = files_with_ext(&dir, "yaml");
    assert!(manifests.len() >= 9, "{manifests:?}");
    for m in manifests {
        let name = m.file_stem().unwrap().to_str().unwrap();
        let cassette = dir.join("tests").join(format!("{name}.cassette.json"));
        let expected = dir.join("tests").join(format!("{name}.expected.jsonl"));
        assert!(
            cassette.is_file(),
            "{name} has no cassette at {}",
            cassette.display()
        );
        assert!(expected.is_file(), "{name} has no expected records");
        let text = std::fs::read_to_string(&cassette).unwrap();
        let c: serde_json::Value = serde_json::from_str(&text).unwrap();
        let n = c["interactions"].as_array().unwrap().len();
        assert!(
            n >= 2,
            "{name}: the cassette should page (it has {n} requests)"
        );
        assert!(!text.contains("tok-REC"), "{name}: a token in the cassette");
        let r = test_cmd(name, &cassette, &[]);
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        let records = std::fs::read_to_string(&expected).unwrap().lines().count();
        assert!(records >= 3, "{name}: {records} expected records");
        assert!(
            r.stdout
                .starts_with(&format!("ok: {records} records from ")),
            "{name}: {}",
            r.stdout
        );
    }
}

#[test]
fn record_then_replay_round_trips_without_the_token() {
    let live = Live::new(7);
    let tmp = tempfile::tempdir().unwrap();
    let cassette = tmp.path().join("miro.cassette.json");
    let r = ran(live.fetch(&["--record"]).arg(&cassette));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("(secrets redacted)"), "{}", r.stderr);
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(!text.contains(TOKEN));
    let c: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(c["connector"], "miro");
    assert_eq!(c["inputs"]["base_url"], live.base());
    assert!(
        c["inputs"].get("token").is_none(),
        "secret inputs are not written"
    );
    // The live server can go; the replay needs nothing but the file.
    drop(live);
    let r = test_cmd("miro", &cassette, &["--update"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected = tmp.path().join("miro.expected.jsonl");
    assert_eq!(
        std::fs::read_to_string(&expected).unwrap().lines().count(),
        7
    );
    let r = test_cmd("miro", &cassette, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn a_changed_record_and_a_request_the_cassette_lacks_are_explained() {
    let dir = workspace_root().join("connectors/tests");
    let tmp = tempfile::tempdir().unwrap();
    let cassette = tmp.path().join("slack-web.cassette.json");
    std::fs::copy(dir.join("slack-web.cassette.json"), &cassette).unwrap();
    let expected = std::fs::read_to_string(dir.join("slack-web.expected.jsonl")).unwrap();
    let changed = expected.replacen("\"ada@example.com\"", "\"ada@old.example.com\"", 1);
    assert_ne!(changed, expected);
    std::fs::write(tmp.path().join("slack-web.expected.jsonl"), changed).unwrap();
    let r = test_cmd("slack-web", &cassette, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "record 1, field `email`: expected \"ada@old.example.com\", got \"ada@example.com\""
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("rerun with `--update`"), "{}", r.stderr);

    // The manifest now asks for 100 a page: the recorded `limit=200` no longer matches.
    let manifest = std::fs::read_to_string(workspace_root().join("connectors/slack-web.yaml"))
        .unwrap()
        .replace("page_size: 200", "page_size: 100");
    let path = tmp.path().join("slack-web.yaml");
    std::fs::write(&path, manifest).unwrap();
    let r = ran(rollcall()
        .args(["test"])
        .arg(&path)
        .arg("--cassette")
        .arg(&cassette));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("request 1 of the replay, GET https://slack.com/api/users.list?limit=100, is not in the cassette; the next unplayed request there is GET https://slack.com/api/users.list?limit=200"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_error_in_a_200_body_fails_the_read_with_the_apis_words() {
    // Slack answers a bad token with HTTP 200 and {"ok": false, "error": "invalid_auth"};
    // `http.body_errors` makes that an error instead of an empty list.
    let dir = workspace_root().join("connectors/tests");
    let tmp = tempfile::tempdir().unwrap();
    let mut c: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("slack-web.cassette.json")).unwrap(),
    )
    .unwrap();
    c["interactions"][0]["response"]["body"] =
        serde_json::json!({"ok": false, "error": "invalid_auth"});
    let cassette = tmp.path().join("slack-web.cassette.json");
    std::fs::write(&cassette, c.to_string()).unwrap();
    std::fs::copy(
        dir.join("slack-web.expected.jsonl"),
        tmp.path().join("slack-web.expected.jsonl"),
    )
    .unwrap();
    let r = test_cmd("slack-web", &cassette, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("GET https://slack.com/api/users.list?limit=200 answered with an error in its body ($.ok is not true): invalid_auth"),
        "{}",
        r.stderr
    );
}

/// Action cassettes (`NAME.ACTION.cassette.json`) of the shipped connectors.
fn action_cassettes() -> Vec<(String, std::path::PathBuf)> {
    let dir = workspace_root().join("connectors/tests");
    files_with_ext(&dir, "json")
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.strip_suffix(".cassette.json")?;
            let (connector, _action) = name.split_once('.')?;
            Some((connector.to_string(), p.clone()))
        })
        .collect()
}

#[test]
fn every_shipped_action_cassette_replays_to_its_expected_outcome() {
    let cassettes = action_cassettes();
    let names: Vec<String> = cassettes
        .iter()
        .map(|(_, p)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "miro.deactivate_user.cassette.json",
        "zoom.deactivate_user.cassette.json",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for (connector, cassette) in cassettes {
        let text = std::fs::read_to_string(&cassette).unwrap();
        let c: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(c["action"]["name"].is_string(), "{}", cassette.display());
        let r = test_cmd(&connector, &cassette, &[]);
        assert_eq!(
            r.code,
            0,
            "{}: {}{}",
            cassette.display(),
            r.stdout,
            r.stderr
        );
        assert!(r.stdout.starts_with("ok: 1 record from "), "{}", r.stdout);
    }
}

#[test]
fn an_action_that_sends_another_body_fails_the_replay_with_both_bodies() {
    // Miro's documented PATCH is `"op": "Replace"` with `"value": "False"`; a manifest
    // switched to the RFC 7644 spelling sends another body than the cassette holds.
    let manifest = std::fs::read_to_string(workspace_root().join("connectors/miro.yaml"))
        .unwrap()
        .replacen(
            "      op: Replace\n      active: \"False\"",
            "      op: replace\n      active: false",
            1,
        );
    assert!(manifest.contains("op: replace\n      active: false"));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("miro.yaml");
    std::fs::write(&path, manifest).unwrap();
    let cassette = workspace_root().join("connectors/tests/miro.deactivate_user.cassette.json");
    let r = ran(rollcall()
        .arg("test")
        .arg(&path)
        .arg("--cassette")
        .arg(&cassette));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "request 1 of the replay, PATCH https://miro.com/api/v1/scim/Users/3074457365265951581, sends {\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"replace\",\"path\":\"active\",\"value\":false}]}, but the cassette has {\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}]}"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.matches("request 1 of the replay").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn an_action_call_records_then_replays_without_the_token() {
    let live = Live::new(3);
    let id = live.server.handle().user_ids()[1].clone();
    let tmp = tempfile::tempdir().unwrap();
    let cassette = tmp.path().join("miro.deactivate_user.cassette.json");
    let r = ran(rollcall()
        .env("RC_T", TOKEN)
        .args(["action", "miro", "deactivate_user", "--set"])
        .arg(format!("id={id}"))
        .arg("--set")
        .arg(format!("base_url={}", live.base()))
        .args(["--secret-env", "token=RC_T", "--record"])
        .arg(&cassette));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("recorded 1 request to"), "{}", r.stderr);
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(!text.contains(TOKEN));
    let c: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(c["action"]["name"], "deactivate_user");
    assert_eq!(c["action"]["params"]["id"], id.as_str());
    assert_eq!(c["interactions"][0]["request"]["method"], "PATCH");
    assert_eq!(
        c["interactions"][0]["request"]["body"]["Operations"][0]["op"],
        "Replace"
    );
    drop(live);
    let r = test_cmd("miro", &cassette, &["--update"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected =
        std::fs::read_to_string(tmp.path().join("miro.deactivate_user.expected.jsonl")).unwrap();
    assert!(expected.contains("\"active\":false"), "{expected}");
    assert!(expected.contains(&format!("\"id\":\"{id}\"")), "{expected}");
    let r = test_cmd("miro", &cassette, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}
