//! `rollcall serve`, `rollcall report` and `rollcall prices` on the real binary with a real
//! data directory: RUN from the page goes through the same launcher as `rollcall run`
//! (stored integration, environment), an open address needs a token, reports run in
//! every format and bad report files are located.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rollcall_tests::cli::CliEnv;
use rollcall_tests::{TOKEN, workspace_root};

/// A `rollcall serve` child, killed when dropped.
struct Serving {
    child: Child,
    base: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(env: &CliEnv) -> Serving {
    let mut child = env
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    // Keep reading, so the server's later output has somewhere to go.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let start = line
        .find("http://")
        .unwrap_or_else(|| panic!("no address in `{line}`"));
    let base = line[start..].trim().trim_end_matches('/').to_owned();
    Serving { child, base }
}

fn between<'a>(text: &'a str, before: &str, after: &str) -> &'a str {
    let a = text
        .find(before)
        .unwrap_or_else(|| panic!("`{before}` not in:\n{text}"))
        + before.len();
    let b = text[a..].find(after).unwrap() + a;
    &text[a..b]
}

/// A data directory with the integration `Miro Users` (daily at 02:00) reading a new test
/// server of `users` users.
fn daily_integration(
    rt: &tokio::runtime::Runtime,
    users: usize,
) -> (rollcall_testserver::ScimServer, CliEnv) {
    let server = rt.block_on(rollcall_tests::server(users));
    let env = CliEnv::new();
    env.integration(
        "Miro Users",
        "Miro EU",
        &server.scim_base_url(),
        "schedule: daily at 02:00\n",
    );
    (server, env)
}

#[test]
fn run_from_the_page_uses_the_stored_integration_and_the_environment() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_server, env) = daily_integration(&rt, 25);
    let site = serve(&env);
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = http.get(format!("{}/", site.base)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("Never run."), "{page}");
        assert!(page.contains("Schedule: daily at 02:00; next run"));
        assert!(!page.contains(TOKEN));
        let csrf = between(&page, r#"name="csrf" value=""#, "\"").to_owned();
        let r = http
            .post(format!("{}/integrations/Miro%20Users/run", site.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let job = r.headers()["location"].to_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        let done = loop {
            let p = http
                .get(format!("{}{job}", site.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if !p.contains(r#"data-state="running""#) {
                break p;
            }
            assert!(Instant::now() < deadline, "the run did not finish:\n{p}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(done.contains(r#"data-state="completed""#), "{done}");
        assert!(done.contains("fetched 25, created 25"), "{done}");
    });
    drop(site);
    // The run is in the store for the CLI too.
    let runs = env.ok(&["runs"]);
    assert!(runs.contains("completed"), "{runs}");
}

#[test]
fn an_open_address_needs_a_good_token() {
    let env = CliEnv::new();
    let e = env.fails(&["serve", "--bind", "0.0.0.0:0"]);
    assert!(
        e.contains("ROLLCALL_UI_TOKEN") && e.contains("not a loopback address"),
        "{e}"
    );
    let o = env
        .command(&["serve", "--bind", "0.0.0.0:0"])
        .env("ROLLCALL_UI_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("too short"), "{e}");
}

#[test]
fn reports_and_prices_on_the_command_line() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_server, env) = daily_integration(&rt, 30);
    env.ok(&["run", "Miro Users"]);
    let examples = workspace_root().join("examples/reports");
    for f in ["inactive-miro-users.yaml", "licences-by-app.yaml"] {
        let out = env.ok(&["report", "apply", examples.join(f).to_str().unwrap()]);
        assert!(out.starts_with("created report"), "{out}");
    }
    let list = env.ok(&["report", "list"]);
    assert!(list.contains("inactive-miro-users") && list.contains("Licences by app and user type"));
    let md = env.ok(&["report", "run", "inactive-miro-users"]);
    assert!(md.starts_with("# Inactive Miro users over 90 days"), "{md}");
    assert!(md.contains("## Counts by user_type"));
    let csv = env.ok(&["report", "run", "licences-by-app", "--format", "csv"]);
    assert!(
        csv.starts_with("app,instance,user_type,count\r\nMiro,Miro EU,"),
        "{csv}"
    );
    let json = env.ok(&["report", "run", "licences-by-app", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let counted: u64 = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(v["total"].as_u64(), Some(counted));
    let html = env.path().join("inactive.html");
    env.ok(&[
        "report",
        "run",
        "inactive-miro-users",
        "--format",
        "html",
        "--output",
        html.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg"));
    assert!(
        !html.contains("href=\"/") && !html.contains("src="),
        "self-contained"
    );

    let bad = env.write(
        "bad.yaml",
        "name: x\nlist: saas_users\nfilters:\n  - active\n",
    );
    let e = env.fails(&["report", "apply", &bad]);
    assert!(
        e.contains("bad.yaml:4:5") && e.contains("no comparison"),
        "{e}"
    );
    let unknown = env.write(
        "unknown.yaml",
        "name: x\nlist: saas_users\ncolumns: [nosuch]\n",
    );
    let e = env.fails(&["report", "apply", &unknown]);
    assert!(e.contains("unknown SaaS user field 'nosuch'"), "{e}");
    let e = env.fails(&["report", "run", "inactive-miro-user"]);
    assert!(e.contains("Did you mean `inactive-miro-users`?"), "{e}");
    env.ok(&["report", "remove", "licences-by-app"]);
    assert!(!env.ok(&["report", "list"]).contains("licences-by-app"));

    let e = env.fails(&["prices", "set", "Miro", "Full", "16,5"]);
    assert!(e.contains("is not a price"), "{e}");
    env.ok(&["prices", "set", "Miro", "Full", "16", "--currency", "EUR"]);
    env.ok(&["prices", "set", "Miro", "Full", "17.5", "--currency", "EUR"]);
    let list = env.ok(&["prices", "list"]);
    assert!(
        list.contains("17.50 EUR") && !list.contains("16.00"),
        "{list}"
    );
    env.ok(&["prices", "remove", "miro", "full"]);
    assert!(env.ok(&["prices", "list"]).contains("no prices yet"));
}
