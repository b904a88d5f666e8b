//! A real browser on the page: headless Chromium, driven through chromedriver's
//! WebDriver protocol (JSON over HTTP with reqwest), opens the dashboard over a store
//! filled by a real sync from the in-process SCIM server, clicks RUN on the Miro tile,
//! follows the run's progress page to the end and checks that the tile's counts changed.
//! A screenshot of the dashboard is saved as `target/browser/dashboard.png`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`; `.ci/run`
//! installs them). Without them the test prints `SKIPPED: ...` and passes, unless `CI`
//! or `ROLLCALL_REQUIRE_BROWSER=1` is set, in which case it fails.

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rollcall_tests::web::site;
use rollcall_tests::workspace_root;
use serde_json::{Value, json};

/// The WebDriver element key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
        || std::env::var("ROLLCALL_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

fn skip(reason: &str) {
    if required() {
        panic!(
            "the browser test cannot run: {reason}; install Debian's `chromium` and `chromium-driver` (as .ci/run does), or point ROLLCALL_CHROMIUM and ROLLCALL_CHROMEDRIVER at them"
        );
    }
    eprintln!();
    eprintln!("SKIPPED: the real-browser test of `rollcall serve`: {reason}");
    eprintln!("SKIPPED: set ROLLCALL_REQUIRE_BROWSER=1 (or CI) to make this a failure.");
    eprintln!();
}

/// chromedriver, killed when dropped.
struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_driver(exe: &PathBuf, http: &reqwest::Client) -> Driver {
    let port = free_port();
    let child = Command::new(exe)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", exe.display()));
    let driver = Driver {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{}/status", driver.base)).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == true
        {
            return driver;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver was not ready within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One WebDriver session.
struct Session<'a> {
    http: &'a reqwest::Client,
    url: String,
}

impl Session<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let reply: Value = r
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: not JSON: {e}"));
        if reply["value"].get("error").is_some() {
            panic!("WebDriver {method} {path} failed: {}", reply["value"]);
        }
        reply["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> Option<String> {
        let r = self
            .http
            .post(format!("{}/element", self.url))
            .json(&json!({ "using": "css selector", "value": css }))
            .send()
            .await
            .ok()?
            .json::<Value>()
            .await
            .ok()?;
        r["value"][ELEMENT].as_str().map(str::to_owned)
    }

    async fn must_find(&self, css: &str) -> String {
        match self.find(css).await {
            Some(e) => e,
            None => {
                let raw: Value = self
                    .http
                    .post(format!("{}/element", self.url))
                    .json(&json!({ "using": "css selector", "value": css }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let source = self.call(reqwest::Method::GET, "/source", None).await;
                panic!("no element matches `{css}` ({raw}) on the page:\n{source}")
            }
        }
    }

    async fn text(&self, css: &str) -> String {
        let e = self.must_find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let e = self.must_find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let e = self.find(css).await?;
        let r = self
            .http
            .get(format!("{}/element/{e}/attribute/{name}", self.url))
            .send()
            .await
            .ok()?
            .json::<Value>()
            .await
            .ok()?;
        r["value"].as_str().map(str::to_owned)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_button_on_the_dashboard_runs_the_sync_and_updates_the_tile() {
    let Some(chromium) = find_program("ROLLCALL_CHROMIUM", &["chromium", "chromium-browser"])
    else {
        skip("chromium is not installed");
        return;
    };
    let Some(chromedriver) = find_program("ROLLCALL_CHROMEDRIVER", &["chromedriver"]) else {
        skip("chromedriver is not installed");
        return;
    };

    // A store filled by a real sync of 40 users, served on a real port.
    let s = site(40, "127.0.0.1:0".parse().unwrap(), None).await;
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = rollcall_serve::router(s.state.clone());
    let server = tokio::spawn(rollcall_serve::serve(listener, app, async {
        let _ = stopped.await;
    }));
    // The app gains 7 people before RUN is clicked.
    s.server.handle().add_generated_users(7);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let driver = start_driver(&chromedriver, &http).await;
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({
        "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,1800",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}
    });
    let reply: Value = http
        .post(format!("{}/session", driver.base))
        .json(&caps)
        .send()
        .await
        .expect("chromedriver answers")
        .json()
        .await
        .expect("chromedriver answers JSON");
    let Some(id) = reply["value"]["sessionId"].as_str() else {
        panic!("chromium did not start a session: {reply}");
    };
    let session = Session {
        http: &http,
        url: format!("{}/session/{id}", driver.base),
    };
    let base = format!("http://{addr}");
    let tile = r#"[data-integration="Miro Users"]"#;

    session.go(&format!("{base}/")).await;
    assert_eq!(session.text(&format!("{tile} dd.fetched")).await, "40");
    assert_eq!(session.text(&format!("{tile} dd.created")).await, "40");
    let first_run = session.text(&format!("{tile} .last a")).await;

    session.click(&format!("{tile} button.run")).await;
    // The progress page refreshes itself (no script) until the run ends.
    let deadline = Instant::now() + Duration::from_secs(60);
    let state = loop {
        let state = session.attribute("#job-state", "data-state").await;
        match state.as_deref() {
            Some("completed") | Some("failed") => break state.unwrap_or_default(),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let outcome = session.text("#job-state").await;
    assert_eq!(state, "completed", "{outcome}");
    assert!(outcome.contains("fetched 47, created 7"), "{outcome}");

    session.go(&format!("{base}/")).await;
    assert_eq!(session.text(&format!("{tile} dd.fetched")).await, "47");
    assert_eq!(session.text(&format!("{tile} dd.created")).await, "7");
    assert_eq!(session.text(&format!("{tile} dd.unchanged")).await, "40");
    assert_ne!(session.text(&format!("{tile} .last a")).await, first_run);
    assert_eq!(session.text("#accounts").await, "47");

    let png = session
        .call(reqwest::Method::GET, "/screenshot", None)
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap_or_default())
        .expect("the screenshot is base64");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard.png"), &png).unwrap();

    let _ = http.delete(&session.url).send().await;
    drop(driver);
    let _ = stop.send(());
    let _ = server.await;
}
