//! End-to-end fetch benchmark and peak-memory probe. Build and run in release mode:
//!
//! ```text
//! cargo build -p rollcall-bench --release
//! target/release/fetch_bench [--users 100000] [--runs 3]      # throughput vs. baseline
//! target/release/fetch_bench --rss 100000 [--page-size P] [--concurrency C]
//! ```
//!
//! Throughput mode starts the in-process test SCIM server (max_results 1000) and, for page
//! sizes 1000 and 100, times (a) a baseline that only downloads the same pages with one
//! reqwest client and parses each into a `serde_json::Value`, and (b) rollcall's fetch of
//! the `users` stream with the shipped Miro manifest (rate limit removed), at concurrency 1
//! and 4, draining the record channel. Runs are interleaved; medians are printed.
//!
//! `--rss N` runs only rollcall's fetch of N users in this process, against the test server
//! started as a child process (`--serve N`, an internal mode), so that the server's memory
//! is not counted, and prints the process's peak resident set (`VmHWM`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use rollcall_bench::{
    ManifestEdit, ServerChild, TOKEN, edit_manifest, fetch_users, inputs, load, median,
    miro_manifest, proc_status_kb, serve_until_stdin_closes, server_config,
};
use rollcall_testserver::ScimServer;
use serde_json::Value;

const USAGE: &str = "usage: fetch_bench [--users N] [--runs K]
       fetch_bench --rss N [--page-size P] [--concurrency C]";

#[derive(Debug)]
enum Mode {
    Throughput {
        users: usize,
        runs: usize,
    },
    Rss {
        users: usize,
        page_size: Option<u32>,
        concurrency: Option<u32>,
    },
    Serve {
        users: usize,
    },
}

fn parse_args() -> Result<Mode, String> {
    let mut args = std::env::args().skip(1);
    let (mut users, mut runs) = (100_000usize, 3usize);
    let (mut rss, mut serve) = (None, None);
    let (mut page_size, mut concurrency) = (None, None);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag} expects a number, got `{value}`"))?;
        match flag.as_str() {
            "--users" => users = n as usize,
            "--runs" => runs = (n as usize).max(1),
            "--rss" => rss = Some(n as usize),
            "--serve" => serve = Some(n as usize),
            "--page-size" => page_size = Some(n as u32),
            "--concurrency" => concurrency = Some(n as u32),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(match (rss, serve) {
        (Some(users), None) => Mode::Rss {
            users,
            page_size,
            concurrency,
        },
        (None, Some(users)) => Mode::Serve { users },
        (None, None) => Mode::Throughput { users, runs },
        _ => return Err(format!("--rss and --serve exclude each other\n{USAGE}")),
    })
}

fn main() -> ExitCode {
    let mode = match parse_args() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match mode {
        Mode::Throughput { users, runs } => rt.block_on(throughput(users, runs)),
        Mode::Rss {
            users,
            page_size,
            concurrency,
        } => rt.block_on(rss(users, page_size, concurrency)),
        Mode::Serve { users } => rt.block_on(serve_until_stdin_closes(users)),
    }
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------
// Throughput

async fn throughput(users: usize, runs: usize) {
    let started = Instant::now();
    let server = ScimServer::start(server_config(users))
        .await
        .expect("the test server starts");
    let base = server.scim_base_url();
    println!(
        "in-process test SCIM server: {users} users, max_results 1000, generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{} runs of each (after one warm-up run), interleaved; medians",
        runs
    );
    println!();
    println!(
        "{:>9}  {:<22} {:>9} {:>13} {:>7} {:>9}",
        "page_size", "client", "wall (s)", "records/s", "pages", "vs base"
    );
    for page_size in [1000u32, 100] {
        let variants = [
            ("baseline (reqwest+serde)", 0u32),
            ("rollcall concurrency 1", 1),
            ("rollcall concurrency 4", 4),
        ];
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
        let mut pages = vec![0u64; variants.len()];
        for run in 0..=runs {
            for (i, (_, concurrency)) in variants.iter().enumerate() {
                let t = Instant::now();
                let (records, n_pages) = if *concurrency == 0 {
                    baseline(&base, page_size, users as u64).await
                } else {
                    rollcall(&base, page_size, *concurrency).await
                };
                let elapsed = t.elapsed();
                assert_eq!(records, users as u64, "a run missed users");
                pages[i] = n_pages;
                if run > 0 {
                    times[i].push(elapsed);
                }
            }
        }
        let base_median = median(times[0].clone());
        for (i, (name, _)) in variants.iter().enumerate() {
            let m = median(times[i].clone());
            let all = times[i]
                .iter()
                .map(|d| format!("{:.2}", d.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(" ");
            println!(
                "{:>9}  {:<22} {:>9.3} {:>13.0} {:>7} {:>8.2}x   (runs: {all})",
                page_size,
                name,
                m.as_secs_f64(),
                users as f64 / m.as_secs_f64(),
                pages[i],
                m.as_secs_f64() / base_median.as_secs_f64(),
            );
        }
    }
    server.shutdown().await;
}

/// Downloads the pages rollcall requests (each page after the first starts one record
/// early, so that a shift of the list can be seen) and parses each into a `Value`.
/// Returns (distinct records read, pages).
async fn baseline(base: &str, page_size: u32, total: u64) -> (u64, u64) {
    let client = reqwest::Client::builder()
        .build()
        .expect("a reqwest client");
    let url = format!("{base}/Users");
    let (mut start, mut records, mut pages) = (1u64, 0u64, 0u64);
    loop {
        let resp = client
            .get(&url)
            .query(&[
                ("startIndex", start.to_string()),
                ("count", page_size.to_string()),
            ])
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Accept", "application/scim+json")
            .send()
            .await
            .expect("the page request");
        assert!(resp.status().is_success(), "status {}", resp.status());
        let body = resp.bytes().await.expect("the page body");
        let page: Value = serde_json::from_slice(&body).expect("a JSON page");
        pages += 1;
        let n = page["Resources"].as_array().map_or(0, Vec::len) as u64;
        records += if start == 1 { n } else { n.saturating_sub(1) };
        let next = start + n;
        if n <= 1 || next > total {
            break;
        }
        start = next - 1;
    }
    (records, pages)
}

/// rollcall's fetch of every user with the Miro manifest (no rate limit). Returns
/// (records, pages).
async fn rollcall(base: &str, page_size: u32, concurrency: u32) -> (u64, u64) {
    let text = edit_manifest(
        miro_manifest(),
        ManifestEdit {
            strip_rate_limit: true,
            page_size: Some(page_size),
            concurrency: Some(concurrency),
        },
    );
    let connector = load(&text);
    let inputs = inputs(&connector, base, TOKEN);
    let drained = fetch_users(connector, &inputs).await;
    assert_eq!(drained.skipped, 0, "records were skipped");
    assert!(
        drained.summary.complete,
        "the fetch was not complete: {:?}",
        drained.summary.warnings
    );
    (drained.records, drained.summary.pages)
}

// ---------------------------------------------------------------------------------------
// Peak RSS

async fn rss(users: usize, page_size: Option<u32>, concurrency: Option<u32>) {
    let (child, base) = ServerChild::spawn(users);

    let text = edit_manifest(
        miro_manifest(),
        ManifestEdit {
            strip_rate_limit: true,
            page_size,
            concurrency,
        },
    );
    let connector = load(&text);
    let settings = format!("{:?}", connector.streams["users"].paginator);
    let inputs = inputs(&connector, &base, TOKEN);
    let before = proc_status_kb("VmHWM").unwrap_or(0);
    let t = Instant::now();
    let drained = fetch_users(connector, &inputs).await;
    let elapsed = t.elapsed();
    let peak = proc_status_kb("VmHWM").unwrap_or(0);
    drop(child);
    assert_eq!(
        drained.records + drained.skipped,
        users as u64,
        "the fetch missed users"
    );
    println!(
        "users={users} records={} pages={} paginator={settings} wall={:.2}s peak_rss={:.1}MiB (VmHWM {peak} kB; {before} kB before the fetch)",
        drained.records,
        drained.summary.pages,
        elapsed.as_secs_f64(),
        peak as f64 / 1024.0,
    );
}
