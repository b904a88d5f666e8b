//! `rollcall daemon` and `rollcall schedule` on the real binary, a real data directory
//! and the in-process SCIM server: a never-run job runs at start and is recorded, a job
//! that is not due is left alone, two daemons never run one job at once, and SIGTERM
//! during a sync stops cleanly with the run rolled back.

use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveTime, Utc};
use rollcall_tests::cli::{CliEnv, Running, wait_for};
use rollcall_testserver::{Fault, Match, ScimServer};
use serde_json::Value;

/// Stores an integration of the Miro connector with a schedule.
fn scheduled(env: &CliEnv, name: &str, instance: &str, base_url: &str, schedule: &str) {
    env.integration(name, instance, base_url, &format!("schedule: {schedule}\n"));
}

/// The job `name` as `rollcall schedule` lists it.
fn job_of(env: &CliEnv, name: &str) -> Value {
    env.json(&["schedule"])
        .into_iter()
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("no job `{name}` in `rollcall schedule`"))
}

fn time(v: &Value) -> DateTime<Utc> {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The first 02:00 UTC after `t`.
fn next_two_oclock(t: DateTime<Utc>) -> DateTime<Utc> {
    let two = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
    let today = t.date_naive().and_time(two).and_utc();
    if today > t {
        today
    } else {
        today + Days::days(1)
    }
}

#[test]
fn a_never_run_job_runs_at_start_and_a_job_that_is_not_due_does_not() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(rollcall_tests::server(25));
    let env = CliEnv::new();
    let base = server.scim_base_url();
    scheduled(&env, "Miro Users", "Miro EU", &base, "daily at 02:00");
    scheduled(&env, "Miro Manual", "Miro US", &base, "every 6h");
    // Run by hand just now: not due for six hours.
    env.ok(&["run", "Miro Manual"]);

    let before = job_of(&env, "Miro Users");
    assert_eq!(before["last_status"], Value::Null);
    assert_eq!(before["due"], true, "never ran: due now");
    assert_eq!(before["zone"], "UTC");
    assert_eq!(before["mode"], "sync");
    let manual = job_of(&env, "Miro Manual");
    assert_eq!(manual["due"], false);
    assert_eq!(manual["last_status"], "completed");
    assert_eq!(manual["zone"], Value::Null, "intervals have no zone");
    assert_eq!(
        time(&manual["next_run"]),
        time(&manual["last_started_at"]) + Days::hours(6)
    );

    let out = env.ok(&["daemon", "--once"]);
    assert!(out.contains("1 run(s): 1 completed, 0 failed"), "{out}");
    let runs = env.runs();
    let users: Vec<&Value> = runs
        .iter()
        .filter(|r| r["integration"] == "Miro Users")
        .collect();
    assert_eq!(users.len(), 1, "{runs:#?}");
    assert_eq!(users[0]["status"], "completed");
    assert_eq!(users[0]["created"], 25);
    assert_eq!(
        runs.iter()
            .filter(|r| r["integration"] == "Miro Manual")
            .count(),
        1,
        "the job that was not due did not run"
    );

    let job = job_of(&env, "Miro Users");
    assert_eq!(job["last_status"], "completed");
    assert_eq!(job["due"], false);
    assert_eq!(job["running"], false);
    assert!(
        job["last_message"]
            .as_str()
            .is_some_and(|m| m.contains("fetched 25, created 25")),
        "{job}"
    );
    let started = time(&job["last_started_at"]);
    assert_eq!(time(&job["next_run"]), next_two_oclock(started));

    // Nothing is due now: a second pass runs nothing.
    let out = env.ok(&["daemon", "--once"]);
    assert!(out.contains("0 run(s)"), "{out}");
    assert_eq!(env.runs().len(), 2);

    // The table names the zone and the next run in it.
    let table = env.ok(&["schedule"]);
    assert!(table.contains("daily at 02:00"), "{table}");
    assert!(table.contains("02:00 UTC"), "{table}");
    assert!(table.contains("completed"), "{table}");
    drop(server);
}

#[test]
fn one_job_never_runs_twice_at_once_and_sigterm_rolls_the_sync_back() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server: ScimServer = rt.block_on(rollcall_tests::server(650));
    let env = CliEnv::new();
    scheduled(
        &env,
        "Miro Users",
        "Miro EU",
        &server.scim_base_url(),
        "every 1h",
    );
    // The first two list pages (400 records, more than one store batch) come at once;
    // the rest hang, so the sync is in flight with records applied in its transaction.
    server
        .handle()
        .push_fault(Fault::delay(Match::ListUsers, 2, Duration::ZERO));
    server.handle().push_fault(Fault::delay(
        Match::ListUsers,
        100,
        Duration::from_secs(120),
    ));

    let first = Running(
        env.command(&["daemon"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for(
        "the sync to hang on page 3",
        Duration::from_secs(60),
        || {
            server
                .handle()
                .requests()
                .iter()
                .filter(|r| r.path.ends_with("/Users"))
                .count()
                >= 3
        },
    );
    let job = job_of(&env, "Miro Users");
    assert_eq!(job["running"], true, "{job}");
    assert_eq!(job["last_status"], "running");

    // A second daemon sees the job running and leaves it alone.
    let out = env.ok(&["daemon", "--once"]);
    assert!(
        out.contains("0 run(s)") && out.contains("1 left to another process"),
        "{out}"
    );
    assert_eq!(env.runs().len(), 1, "only the first daemon's run");

    // SIGTERM: the sync is cancelled and rolled back, and the daemon exits with 0.
    first.signal("TERM");
    let (status, stdout, stderr) = first.finish(Duration::from_secs(60));
    assert!(status.success(), "exit {status}:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 cancelled"), "{stdout}\n{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");

    let runs = env.runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["status"], "cancelled");
    assert!(
        runs[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cancelled:")),
        "{runs:#?}"
    );
    assert_eq!(
        env.json(&["saas-users", "list"]).len(),
        0,
        "nothing of the cancelled run was applied"
    );
    let job = job_of(&env, "Miro Users");
    assert_eq!(job["last_status"], "cancelled");
    assert_eq!(job["running"], false);
    assert_eq!(
        job["due"], true,
        "a cancelled run is run again at the next start"
    );

    // Next start, no more faults: the job runs to the end.
    server.handle().clear_faults();
    let out = env.ok(&["daemon", "--once"]);
    assert!(out.contains("1 run(s): 1 completed"), "{out}");
    assert_eq!(env.json(&["saas-users", "list"]).len(), 650);
    assert_eq!(job_of(&env, "Miro Users")["last_status"], "completed");
}

#[test]
fn a_failed_run_is_recorded_and_once_exits_with_1() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(rollcall_tests::server(5));
    let env = CliEnv::new();
    scheduled(
        &env,
        "Miro Users",
        "Miro EU",
        &server.scim_base_url(),
        "0 6 * * 1-5 Europe/Berlin",
    );
    let o = env
        .command(&["daemon", "--once"])
        .env("ROLLCALL_MIRO_TOKEN", "not-the-token")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("1 failed"), "{stdout}");
    let job = job_of(&env, "Miro Users");
    assert_eq!(job["last_status"], "failed");
    assert_eq!(job["zone"], "Europe/Berlin");
    assert!(
        job["last_message"]
            .as_str()
            .is_some_and(|m| m.contains("401")),
        "{job}"
    );
    assert!(
        !job["last_message"]
            .as_str()
            .unwrap_or("")
            .contains("not-the-token")
    );
    // A failed run waits for its next time: a weekday at 06:00 in Berlin.
    let next = time(&job["next_run"]).with_timezone(&chrono_tz_berlin());
    assert_eq!(next.format("%H:%M").to_string(), "06:00");
    assert_eq!(job["due"], false);
}

fn chrono_tz_berlin() -> rollcall_core::integration::schedule::Tz {
    rollcall_core::integration::schedule::Tz::Europe__Berlin
}
