//! Web page benchmark: server time of the SaaS users list page over N accounts (default
//! 100,000) put in the store by a real sync from the in-process SCIM server. Build and run
//! in release mode:
//!
//! ```text
//! cargo build -p rollcall-bench --release
//! target/release/serve_bench [--users 100000] [--requests 50]
//! ```
//!
//! Each page is requested through the axum router in process (`tower::ServiceExt::oneshot`,
//! no network), and the time from request to the last byte of the rendered body is
//! measured: store count and page query, template rendering. Printed per page: median,
//! 95th percentile and maximum over the requests, after two warm-up requests. The target
//! is the first page of the list under 50 ms.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use rollcall_bench::{
    ManifestEdit, TOKEN, edit_manifest, inputs, load, miro_manifest, server_config,
    sync_integration, sync_once,
};
use rollcall_serve::{AppState, Launcher, PreparedRun, router};
use rollcall_store::Store;
use rollcall_testserver::ScimServer;
use tower::ServiceExt;

struct NoRuns;

impl Launcher for NoRuns {
    fn prepare<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<PreparedRun, String>> {
        Box::pin(async { Err("the benchmark starts no runs".to_string()) })
    }
}

fn parse_args() -> Result<(usize, usize), String> {
    let mut args = std::env::args().skip(1);
    let (mut users, mut requests) = (100_000usize, 50usize);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: usize = value
            .parse()
            .map_err(|_| format!("{flag} expects a number, got `{value}`"))?;
        match flag.as_str() {
            "--users" => users = n,
            "--requests" => requests = n.max(1),
            _ => {
                return Err(format!(
                    "unknown argument {flag}; usage: serve_bench [--users N] [--requests K]"
                ));
            }
        }
    }
    Ok((users, requests))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> ExitCode {
    let (users, requests) = match parse_args() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let server = ScimServer::start(server_config(users))
        .await
        .expect("the test server starts");
    let connector = load(&edit_manifest(
        miro_manifest(),
        ManifestEdit {
            strip_rate_limit: true,
            ..ManifestEdit::default()
        },
    ));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path()).await.expect("the store opens");
    let integration = sync_integration(&connector);
    let filled = Instant::now();
    let report = sync_once(
        &store,
        &integration,
        connector.clone(),
        &inputs(&connector, &server.scim_base_url(), TOKEN),
        chrono::Utc::now(),
    )
    .await;
    assert_eq!(report.summary.counts.created, users as u64);
    eprintln!(
        "filled the store with {users} SaaS users by a sync in {:.1}s",
        filled.elapsed().as_secs_f64()
    );
    let state = AppState::new(
        store,
        Arc::new(NoRuns),
        "127.0.0.1:0".parse().expect("an address"),
        None,
    )
    .expect("the state builds");
    let app = router(state);
    let pages = [
        (
            "SaaS users, first page (default columns, 50 rows)",
            "/saas-users",
        ),
        (
            "SaaS users, page 1000 of 2000",
            "/saas-users?edited=1&page=1000",
        ),
        (
            "SaaS users, filter active=false",
            "/saas-users?edited=1&filter=active%3Dfalse",
        ),
        (
            "SaaS users, sorted by username",
            "/saas-users?edited=1&sort=username",
        ),
        ("Users (people), first page", "/users"),
        ("Dashboard", "/"),
    ];
    println!("{:<52} {:>9} {:>9} {:>9}", "page", "median", "p95", "max");
    for (name, path) in pages {
        let mut times = Vec::with_capacity(requests);
        for i in 0..requests + 2 {
            let request = Request::get(path)
                .header(header::HOST, "127.0.0.1:8080")
                .body(Body::empty())
                .expect("a request");
            let started = Instant::now();
            let response = app.clone().oneshot(request).await.expect("a response");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("the body")
                .to_bytes();
            let took = started.elapsed();
            assert_eq!(
                status,
                StatusCode::OK,
                "{path}: {}",
                String::from_utf8_lossy(&body)
            );
            if i >= 2 {
                times.push(took);
            }
        }
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{name:<52} {:>9} {:>9} {:>9}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(times[times.len() - 1])
        );
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}
