//! Integration files: the shipped examples load, a corpus of broken files fails with
//! the exact diagnostics in `tests/integrations/broken/NAME.expected`, and the real
//! binary applies, lists, shows, maps and removes integrations in a temporary data
//! directory.
//!
//! `UPDATE_EXPECT=1 cargo test -p rollcall-tests --test integrations` rewrites the
//! expected files, so a change in the messages is reviewed as a diff.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use rollcall_core::Connector;
use rollcall_core::integration::{Integration, Preference, Selection, load_integration_with_names};
use rollcall_core::manifest::load_connector;
use rollcall_source::SourceFile;
use rollcall_tests::{
    assert_located, check_broken_corpus, files_with_ext, rollcall_bin, tests_dir,
};
use serde_json::Value;

fn connector_names() -> Vec<String> {
    rollcall_connectors::BUILTIN
        .iter()
        .map(|b| b.name.to_string())
        .collect()
}

fn find_builtin(name: &str) -> Option<Arc<Connector>> {
    let b = rollcall_connectors::builtin(name)?;
    let file = SourceFile::new(format!("connectors/{}", b.file), b.text);
    Some(Arc::new(
        load_connector(file, "built-in").expect("built-in connectors load"),
    ))
}

/// Loads an integration file with the built-in connectors, under a display name.
fn load(display: &str, bytes: Vec<u8>) -> Result<Integration, (String, Vec<String>)> {
    let file = match SourceFile::from_bytes(display, bytes) {
        Ok(f) => f,
        Err(d) => return Err((format!("{d}\n"), vec![d.headline()])),
    };
    load_integration_with_names(file, &find_builtin, &connector_names()).map_err(|e| {
        (
            format!("{e}\n"),
            e.diagnostics.iter().map(|d| d.headline()).collect(),
        )
    })
}

fn broken_files() -> Vec<PathBuf> {
    files_with_ext(&tests_dir().join("integrations/broken"), "yaml")
}

#[test]
fn broken_integrations_fail_with_the_expected_diagnostics() {
    check_broken_corpus(
        "integrations/broken",
        15,
        &|display, bytes| match load(display, bytes) {
            Ok(i) => Err(format!(
                "{display} loaded as `{}`, but it is broken",
                i.name
            )),
            Err(d) => Ok(d),
        },
    );
}

#[test]
fn several_problems_are_all_reported_in_file_order() {
    let path = tests_dir().join("integrations/broken/several_errors.yaml");
    let (_, headlines) = load("several_errors.yaml", std::fs::read(path).unwrap()).unwrap_err();
    assert!(headlines.len() >= 5, "{headlines:#?}");
    let pos = |h: &String| -> (u32, u32) {
        let mut it = h.split(':').skip(1).map(|n| n.parse::<u32>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    let positions: Vec<_> = headlines.iter().map(pos).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "in file order");
}

#[test]
fn the_example_files_load_cleanly() {
    let dir = tests_dir().join("integrations");
    let files = files_with_ext(&dir, "yaml");
    assert!(files.len() >= 2);
    for path in files {
        let display = path.display().to_string();
        if let Err((d, _)) = load(&display, std::fs::read(&path).unwrap()) {
            panic!("{d}");
        }
    }
}

#[test]
fn the_issue_example_resolves_as_documented() {
    let path = tests_dir().join("integrations/miro-users.yaml");
    let i = load("miro-users.yaml", std::fs::read(path).unwrap()).unwrap();
    assert_eq!(i.name, "Miro Users");
    assert_eq!(i.connector, "miro");
    assert_eq!(i.stream, "users");
    assert_eq!(i.credential.as_deref(), Some("miro-scim"));
    assert_eq!(i.inputs["base_url"], "https://miro.com/api/v1/scim");
    assert_eq!(i.selection, Selection::UserPlusSaasUser);
    assert_eq!((i.app.as_str(), i.instance.as_str()), ("Miro", "Miro EU"));
    assert_eq!(i.preference, Preference::UpdateOnly);
    assert_eq!(i.role.as_deref(), Some("Employee"));
    assert_eq!(i.sync_target(), "username");
    assert_eq!(i.schedule.to_string(), "daily at 02:00");
    let table: Vec<(&str, &str, &str, bool, bool)> = i
        .mappings()
        .iter()
        .map(|m| {
            (
                m.source.as_str(),
                m.label.as_str(),
                m.target.as_str(),
                m.custom,
                m.sync_key,
            )
        })
        .collect();
    assert_eq!(
        table,
        [
            ("username", "Username", "username", false, true),
            ("email", "Email", "email", false, false),
            ("first_name", "First name", "first_name", false, false),
            ("family_name", "Last name", "last_name", false, false),
            ("id", "Miro ID", "miro_id", true, false),
        ]
    );
    assert_eq!(Integration::from_json(&i.to_json()).unwrap(), i);
}

// ---- the real binary ----

/// The binary, run from `tests/`, with no rollcall settings inherited and its own data
/// directory.
fn rollcall(data: &Path) -> Command {
    let mut c = Command::new(rollcall_bin());
    c.current_dir(tests_dir());
    for (k, _) in std::env::vars() {
        if k.starts_with("ROLLCALL_") {
            c.env_remove(k);
        }
    }
    c.arg("--data-dir").arg(data);
    c
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(data: &Path, args: &[&str]) -> Ran {
    let out = rollcall(data).args(args).output().expect("the binary runs");
    Ran {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn ok(data: &Path, args: &[&str]) -> String {
    let r = run(data, args);
    assert_eq!(
        r.code, 0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r.stdout
}

/// The stdout of a command that must succeed, as JSON.
fn ok_json(data: &Path, args: &[&str]) -> Value {
    let out = ok(data, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

/// Runs a command that must exit with 1 and say `want` on stderr.
fn assert_fails_saying(data: &Path, args: &[&str], want: &str) {
    let r = run(data, args);
    assert_eq!(r.code, 1, "{args:?}");
    assert!(r.stderr.contains(want), "{}", r.stderr);
}

/// The target fields of the mappings (JSON `integrations mappings`) that `keep` keeps.
fn mapping_targets(mappings: &Value, keep: impl Fn(&Value) -> bool) -> Vec<&str> {
    mappings
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| keep(m))
        .map(|m| m["target"].as_str().unwrap())
        .collect()
}

/// Asserts that `integrations list` says there are none.
fn assert_no_integrations(data: &Path) {
    let out = ok(data, &["integrations", "list"]);
    assert!(out.contains("no integrations yet"), "{out}");
}

#[test]
fn apply_list_show_mappings_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();

    assert_no_integrations(data);

    let r = run(
        data,
        &["integrations", "apply", "integrations/miro-users.yaml"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("created integration `Miro Users`"),
        "{}",
        r.stdout
    );
    // No credential stored yet: a warning, not an error.
    assert!(
        r.stderr.contains("no credential `miro-scim` yet"),
        "{}",
        r.stderr
    );

    let r = run(
        data,
        &["integrations", "apply", "integrations/miro-users.yaml"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("updated integration `Miro Users`"),
        "{}",
        r.stdout
    );

    let out = ok(data, &["integrations", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for col in [
        "NAME",
        "CONNECTOR",
        "APP / INSTANCE",
        "PREFERENCE",
        "USERS",
        "SCHEDULE",
    ] {
        assert!(lines[0].contains(col), "{out}");
    }
    for cell in [
        "Miro Users",
        "miro",
        "Miro / Miro EU",
        "update-only",
        "user-plus-saas-user",
        "daily at 02:00",
    ] {
        assert!(lines[1].contains(cell), "{cell} in {out}");
    }

    let v = ok_json(data, &["integrations", "list", "--format", "json"]);
    assert_eq!(v[0]["name"], "Miro Users");
    assert_eq!(v[0]["instance"], "Miro EU");
    assert_eq!(v[0]["users"], "user-plus-saas-user");

    let out = ok(data, &["integrations", "show", "Miro Users"]);
    let file = std::fs::read_to_string(tests_dir().join("integrations/miro-users.yaml")).unwrap();
    assert!(
        out.starts_with("# integration `Miro Users`, applied from integrations/miro-users.yaml\n"),
        "{out}"
    );
    assert!(out.ends_with(&file), "{out}");

    let v = ok_json(
        data,
        &["integrations", "show", "Miro Users", "--format", "json"],
    );
    let i = Integration::from_json(&v).unwrap();
    assert_eq!(i.instance, "Miro EU");
    assert_eq!(i.sync_target(), "username");
    assert_eq!(v["source"]["text"], file.as_str());

    let out = ok(data, &["integrations", "mappings", "Miro Users"]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "SOURCE FIELD",
                "LABEL",
                "TARGET FIELD",
                "CUSTOM",
                "SYNC KEY"
            ],
            vec!["username", "Username", "username", "yes"],
            vec!["email", "Email", "email"],
            vec!["first_name", "First name", "first_name"],
            vec!["family_name", "Last name", "last_name"],
            vec!["id", "Miro ID", "miro_id", "yes"],
        ],
        "{out}"
    );
    // The sync key column of the first row, the custom column of the last.
    let header = out.lines().next().unwrap();
    let key_col = header.find("SYNC KEY").unwrap();
    let custom_col = header.find("CUSTOM").unwrap();
    assert_eq!(&out.lines().nth(1).unwrap()[key_col..], "yes");
    assert_eq!(&out.lines().nth(5).unwrap()[custom_col..], "yes");

    let v = ok_json(
        data,
        &["integrations", "mappings", "Miro Users", "--format", "json"],
    );
    assert_eq!(v[4]["source"], "id");
    assert_eq!(v[4]["source_label"], "Id");
    assert_eq!(v[4]["target"], "miro_id");
    assert_eq!(v[4]["custom"], true);

    assert_fails_saying(
        data,
        &["integrations", "show", "Miro User"],
        "there is no integration named `Miro User`. Did you mean `Miro Users`?",
    );

    let out = ok(data, &["integrations", "remove", "Miro Users"]);
    assert_eq!(out, "removed integration `Miro Users`\n");
    assert_fails_saying(
        data,
        &["integrations", "remove", "Miro Users"],
        "there is no integration named `Miro Users`",
    );
    let r = run(data, &["integrations", "mappings", "Miro Users"]);
    assert_eq!(r.code, 1);
    assert_no_integrations(data);
}

#[test]
fn two_instances_of_one_app_live_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let out = ok(
        data,
        &["integrations", "apply", "integrations/miro-users.yaml"],
    );
    assert!(out.starts_with("created"), "{out}");
    let out = ok(
        data,
        &["integrations", "apply", "integrations/miro-us.yaml"],
    );
    assert!(
        out.starts_with("created integration `Miro US Users`"),
        "{out}"
    );

    let out = ok(data, &["integrations", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // Sorted by name: "Miro US Users" before "Miro Users".
    assert!(lines[1].starts_with("Miro US Users  "), "{out}");
    assert!(lines[2].starts_with("Miro Users  "), "{out}");
    assert!(lines[2].contains("Miro / Miro EU"), "{out}");
    for cell in [
        "Miro / Miro US",
        "create-and-update",
        "user-only",
        "every 6h",
    ] {
        assert!(lines[1].contains(cell), "{cell} in {out}");
    }

    let v = ok_json(
        data,
        &[
            "integrations",
            "mappings",
            "Miro US Users",
            "--format",
            "json",
        ],
    );
    let targets = mapping_targets(&v, |_| true);
    assert_eq!(
        targets,
        [
            "username",
            "email",
            "first_name",
            "last_name",
            "miro_us_id",
            "department"
        ]
    );
    let key = mapping_targets(&v, |m| m["sync_key"] == true);
    assert_eq!(key, ["email"]);
}

#[test]
fn every_broken_file_is_refused_by_apply_with_its_locations() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    for path in broken_files() {
        let file_name = path.file_name().unwrap().to_str().unwrap();
        let display = format!("integrations/broken/{file_name}");
        let r = run(data, &["integrations", "apply", &display]);
        assert_eq!(r.code, 1, "{display}\n{}{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "{display}: {}", r.stdout);
        let expected = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|_| panic!("no expected file for {display}"));
        for headline in expected.lines().filter(|l| l.starts_with(&display)) {
            assert_located(&display, headline);
            assert!(
                r.stderr.lines().any(|l| l == headline),
                "{display}: `{headline}` not in\n{}",
                r.stderr
            );
        }
    }
    // Nothing was stored.
    assert_no_integrations(data);
}

#[test]
fn apply_prints_snippets_and_a_count_like_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(
        tmp.path(),
        &[
            "integrations",
            "apply",
            "integrations/broken/secret_input.yaml",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("7 |   token: tok-123\n  |          ^\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "secrets go in the vault: rollcall credentials add miro-scim --connector miro"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.trim_end().ends_with("1 problem found"),
        "{}",
        r.stderr
    );

    let r = run(
        tmp.path(),
        &["integrations", "apply", "integrations/no-such-file.yaml"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("integrations/no-such-file.yaml:1:1: error: cannot read the file"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_connector_from_the_connectors_directory_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let conns = tmp.path().join("connectors");
    std::fs::create_dir(&conns).unwrap();
    // A copy of Miro under another name, without the `email` field.
    let text = rollcall_tests::miro_text()
        .replacen("name: miro\n", "name: miro-lite\n", 1)
        .replacen(
            "      email:\n        label: Email\n        path: $.emails[?@.primary == true].value\n        transforms: [trim, lowercase]\n",
            "",
            1,
        );
    assert!(!text.contains("label: Email\n"));
    std::fs::write(conns.join("miro-lite.yaml"), text).unwrap();
    let file = tmp.path().join("lite.yaml");
    std::fs::write(
        &file,
        "name: Lite\nconnector: miro-lite\ncredential: c\nsync_key: email\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    // `integrations apply lite.yaml` with the connectors directory.
    let apply_with_conns = || {
        let conns = conns.to_str().unwrap();
        let file = file.to_str().unwrap();
        run(
            &data,
            &["--connectors-dir", conns, "integrations", "apply", file],
        )
    };
    let r = apply_with_conns();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            ":4:11: error: the stream `users` has no field `email` to use as the sync key"
        ),
        "{}",
        r.stderr
    );
    std::fs::write(
        &file,
        "name: Lite\nconnector: miro-lite\ncredential: c\nsync_key: username\n",
    )
    .unwrap();
    let r = apply_with_conns();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = ok_json(
        &data,
        &["integrations", "mappings", "Lite", "--format", "json"],
    );
    assert_eq!(
        v.as_array().unwrap().len(),
        3,
        "username, first_name, last_name: {v}"
    );
}
