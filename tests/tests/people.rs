//! The people side of the CLI on the real binary with a real data directory: CSV
//! import with bad rows, list views with filters and sorting, saved views, `rollcall
//! run` with its summary, `runs` and `errors`.

use std::path::Path;
use std::process::{Command, Stdio};

use rollcall_tests::cli::CliEnv;
use rollcall_tests::{TOKEN, rollcall_bin};
use serde_json::Value;

const HR: &str = "username,email,First Name,Last Name,Department,start_date\n\
ada@example.com,ada@example.com,Ada,Lovelace,R&D,2021-03-01\n\
\"bob@example.com\",bob@example.com,Bob,\"Brown, Jr\",Sales,2023-07-15\n\
carl@example.com,carl@example.com,Carl\n\
,,No,Name,Ops,2020-01-01\n\
dana@example.com,ada@example.com,Dana,Dup,Ops,2022-01-01\n";

#[test]
fn csv_import_reports_bad_rows_and_keeps_the_good_ones() {
    let env = CliEnv::new();
    let f = env.write("hr.csv", HR);
    let o = env.cmd(&["users", "import", &f, "--role", "Employee"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("2 created"), "{out}");
    assert!(
        err.contains("line 4: 3 fields where the header has 6"),
        "{err}"
    );
    assert!(err.contains("line 5: no username"), "{err}");
    assert!(
        err.contains("line 6:") && err.contains("ada@example.com"),
        "a duplicate email is a skip: {err}"
    );
    let users = env.json(&[
        "users",
        "list",
        "--columns",
        "username,last_name,role,department,start_date",
    ]);
    assert_eq!(users.len(), 2);
    let bob = users
        .iter()
        .find(|u| u["username"] == "bob@example.com")
        .unwrap();
    assert_eq!(bob["last_name"], "Brown, Jr");
    assert_eq!(bob["role"], "Employee");
    assert_eq!(
        bob["department"], "Sales",
        "unknown columns become custom fields"
    );
    // Importing again changes nothing.
    let again = env.ok(&["users", "import", &f, "--role", "Employee"]);
    assert!(
        again.contains("0 created, 0 updated, 2 unchanged"),
        "{again}"
    );
}

#[test]
fn a_missing_sync_key_column_is_refused() {
    let env = CliEnv::new();
    let f = env.write("hr.csv", "name,mail\nx,y\n");
    let o = env.cmd(&["users", "import", &f, "--sync-key", "username"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no `username` column"));
}

#[test]
fn list_filters_sort_paging_and_saved_views() {
    let env = CliEnv::new();
    let f = env.write("hr.csv", HR);
    env.ok(&["users", "import", &f]);
    let sorted = env.json(&["users", "list", "--sort", "-username"]);
    let names: Vec<&str> = sorted
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob@example.com", "ada@example.com"]);
    let after = env.json(&["users", "list", "--filter", "start_date>2022-01-01"]);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["username"], "bob@example.com");
    let contains = env.json(&["users", "list", "--filter", "last_name~lovel"]);
    assert_eq!(contains.len(), 1);
    let page = env.json(&[
        "users", "list", "--sort", "username", "--limit", "1", "--offset", "1",
    ]);
    assert_eq!(page[0]["username"], "bob@example.com");
    let bad = env.cmd(&["users", "list", "--filter", "nosuchfield=1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nosuchfield"));
    let csv = env.ok(&[
        "users",
        "list",
        "--format",
        "csv",
        "--columns",
        "username,last_name",
        "--sort",
        "username",
    ]);
    assert_eq!(
        csv,
        "username,last_name\nada@example.com,Lovelace\nbob@example.com,\"Brown, Jr\"\n"
    );

    env.ok(&[
        "views",
        "save",
        "sales",
        "--target",
        "users",
        "--filter",
        "department=Sales",
        "--columns",
        "username,department",
    ]);
    let view = env.ok(&["views", "show", "sales", "--format", "jsonl"]);
    assert_eq!(
        view.trim(),
        r#"{"username":"bob@example.com","department":"Sales"}"#
    );
    assert!(env.ok(&["views", "list"]).contains("sales"));
    let refused = env.cmd(&[
        "views",
        "save",
        "typo",
        "--target",
        "users",
        "--filter",
        "departmnt=Sales",
    ]);
    assert!(
        !refused.status.success(),
        "a view with an unknown field is refused when saved"
    );
    env.ok(&["views", "remove", "sales"]);
    assert!(!env.cmd(&["views", "show", "sales"]).status.success());
}

fn integration_file(env: &CliEnv, base_url: &str, preference: &str) -> String {
    env.write(
        "miro.yaml",
        &format!(
            "name: Miro Users\nconnector: miro\ninputs: {{ base_url: \"{base_url}\" }}\nusers: user-plus-saas-user\nsaas: {{ app: Miro, instance: Miro EU }}\npreference: {preference}\nrole: Employee\nsync_key: username\nmappings:\n  smart: true\n  fields:\n    - {{ from: id, to: miro_id, label: \"Miro ID\", create: true }}\n"
        ),
    )
}

fn users_csv(env: &CliEnv, server_users: &[Value], every: usize) -> String {
    let mut text = String::from("username,email\n");
    for (i, u) in server_users.iter().enumerate() {
        if i % every == 0 {
            let n = u["userName"].as_str().unwrap();
            text.push_str(&format!("{n},{n}\n"));
        }
    }
    env.write("people.csv", &text)
}

#[test]
fn run_prints_a_summary_and_runs_and_errors_tell_the_story() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(rollcall_tests::server(20));
    let env = CliEnv::new();
    let people = users_csv(&env, &server.handle().users(), 2);
    env.ok(&["users", "import", &people]);
    let f = integration_file(&env, &server.scim_base_url(), "update-only");
    env.ok(&["integrations", "apply", &f]);

    let dry = env.ok(&["run", "Miro Users", "--dry-run"]);
    assert!(
        dry.contains("dry run") && dry.contains("nothing was changed"),
        "{dry}"
    );
    assert!(
        env.json(&["saas-users", "list"]).is_empty(),
        "a dry run writes nothing"
    );

    let out = env.ok(&["run", "Miro Users"]);
    for line in [
        "fetched    20",
        "created    10",
        "skipped    10",
        "failed     0",
    ] {
        assert!(out.contains(line), "`{line}` missing from:\n{out}");
    }
    assert!(out.contains("rollcall errors 2"), "{out}");
    let accounts = env.json(&["saas-users", "list", "--app", "miro"]);
    assert_eq!(accounts.len(), 10);
    let miro_ids = env.json(&["users", "list", "--columns", "username,miro_id"]);
    assert!(
        miro_ids.iter().all(|u| u["miro_id"].is_string()),
        "{miro_ids:?}"
    );

    let again = env.ok(&["run", "Miro Users"]);
    assert!(again.contains("unchanged  10"), "{again}");

    let runs = env.json(&["runs", "--integration", "Miro Users"]);
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["status"] == "completed"), "{runs:?}");
    let errors = env.json(&["errors", "2"]);
    assert_eq!(errors.len(), 10);
    assert!(
        errors[0]["reason"]
            .as_str()
            .unwrap()
            .contains("preference is update-only")
    );
    let csv = env.ok(&["errors", "2", "--format", "csv"]);
    assert!(csv.starts_with("run,record,stage,reason\n"), "{csv}");
    assert!(!env.cmd(&["errors", "99"]).status.success());
    drop(server);
}

#[test]
fn a_failing_run_exits_non_zero_and_is_recorded_as_failed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(rollcall_tests::server(5));
    let env = CliEnv::new();
    let f = integration_file(&env, &server.scim_base_url(), "create-and-update");
    env.ok(&["integrations", "apply", &f]);
    // A 401 is not retried: the run fails at once.
    server
        .handle()
        .push_fault(rollcall_testserver::Fault::scim_error(
            rollcall_testserver::Match::ListUsers,
            1,
            401,
            None,
            "Authentication failed",
        ));
    let o = env.cmd(&["run", "Miro Users"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("did not complete") && err.contains("changed nothing"),
        "{err}"
    );
    assert!(
        err.contains("rejected the credentials") && !err.contains(TOKEN),
        "{err}"
    );
    let runs = env.json(&["runs"]);
    assert_eq!(runs[0]["status"], "failed");
    assert!(
        runs[0]["message"].as_str().unwrap().contains("401"),
        "{runs:?}"
    );
    assert!(env.json(&["saas-users", "list"]).is_empty());
}

#[test]
fn the_data_directory_comes_from_rollcall_home() {
    let env = CliEnv::new();
    let home = env.path().join("home");
    let f = env.write("hr.csv", HR);
    let o = Command::new(rollcall_bin())
        .args(["users", "import", &f])
        .env("ROLLCALL_HOME", &home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(Path::new(&home).join("rollcall.db").is_file());
}
