//! Sync benchmark: the first sync of N users from a local SCIM server into the store, and a
//! second, unchanged sync, against a fetch-only drain of the same users. Build and run in
//! release mode:
//!
//! ```text
//! cargo build -p rollcall-bench --release
//! target/release/sync_bench [--users 100000] [--runs 3]   # wall times and ratios
//! target/release/sync_bench --rss 100000                  # peak RSS of the two syncs
//! ```
//!
//! Throughput mode starts the in-process test SCIM server (max_results 1000, request
//! recording off) and loads the shipped Miro manifest with its rate limit removed (page 200,
//! concurrency 4, the shipped settings). Each run uses a fresh temporary data directory and
//! times (a) a fetch-only drain of the `users` stream, (b) the first sync into the empty
//! store (`create-and-update`, `user-plus-saas-user`, sync key `username`, smart mappings
//! plus a custom `miro_id`), and (c) a second sync of the same, unchanged users. It checks
//! the counts (created == N, then unchanged == N) and panics if they are wrong. Medians over
//! the runs are printed, with (b)/(a) and (c)/(a). Each run also prints the CPU time of each
//! step, for the process and by thread name (tokio's workers, which also run the server;
//! sqlx's SQLite thread; this binary's name for the mapping thread), so a ratio can be
//! read against where the cores went.
//!
//! `--rss N` runs one first sync and one unchanged sync of N users in this process, against
//! the test server started as a child process (`--serve N`, an internal mode) so that the
//! server's memory is not counted, and prints the process's peak resident set (`VmHWM`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rollcall_bench::{
    ManifestEdit, ServerChild, TOKEN, edit_manifest, fetch_users, inputs, load, median,
    miro_manifest, proc_status_kb, process_cpu_ticks, serve_until_stdin_closes, server_config,
    sync_integration, sync_once, thread_cpu_ticks,
};
use rollcall_core::Connector;
use rollcall_core::inputs::Inputs;
use rollcall_core::integration::Integration;
use rollcall_store::Store;
use rollcall_sync::SyncReport;
use rollcall_testserver::ScimServer;

const USAGE: &str = "usage: sync_bench [--users N] [--runs K]
       sync_bench --rss N";

#[derive(Debug)]
enum Mode {
    Throughput { users: usize, runs: usize },
    Rss { users: usize },
    Serve { users: usize },
}

fn parse_args() -> Result<Mode, String> {
    let mut args = std::env::args().skip(1);
    let (mut users, mut runs) = (100_000usize, 3usize);
    let (mut rss, mut serve) = (None, None);
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
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(match (rss, serve) {
        (Some(users), None) => Mode::Rss { users },
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
        Mode::Rss { users } => rt.block_on(rss(users)),
        Mode::Serve { users } => rt.block_on(serve_until_stdin_closes(users)),
    }
    ExitCode::SUCCESS
}

/// The shipped Miro manifest without its rate limit (page 200, concurrency 4 as shipped).
fn connector() -> Arc<Connector> {
    load(&edit_manifest(
        miro_manifest(),
        ManifestEdit {
            strip_rate_limit: true,
            ..ManifestEdit::default()
        },
    ))
}

/// Everything one sync needs.
struct Ctx {
    connector: Arc<Connector>,
    integration: Integration,
    inputs: Inputs,
    users: u64,
}

impl Ctx {
    fn new(base: &str, users: usize) -> Ctx {
        let connector = connector();
        let integration = sync_integration(&connector);
        let inputs = inputs(&connector, base, TOKEN);
        Ctx {
            connector,
            integration,
            inputs,
            users: users as u64,
        }
    }

    /// (a): the fetch-only drain, checked.
    async fn fetch(&self) -> Duration {
        let t = Instant::now();
        let drained = fetch_users(self.connector.clone(), &self.inputs).await;
        let elapsed = t.elapsed();
        assert_eq!(drained.records, self.users, "the fetch missed users");
        assert_eq!(drained.skipped, 0, "the fetch skipped records");
        assert!(
            drained.summary.complete,
            "the fetch was not complete: {:?}",
            drained.summary.warnings
        );
        elapsed
    }

    /// (b) or (c): one sync, its counts checked. `first` expects every user created,
    /// otherwise every user unchanged.
    async fn sync(&self, store: &Store, first: bool) -> (Duration, SyncReport) {
        let second = if first { 0 } else { 30 };
        let sync_time = Utc
            .with_ymd_and_hms(2026, 11, 26, 10, 0, second)
            .single()
            .expect("a valid sync time");
        let t = Instant::now();
        let report = sync_once(
            store,
            &self.integration,
            self.connector.clone(),
            &self.inputs,
            sync_time,
        )
        .await;
        let elapsed = t.elapsed();
        let c = report.summary.counts;
        let n = self.users;
        let expected = if first { (n, 0, 0) } else { (0, 0, n) };
        let which = if first { "first" } else { "unchanged" };
        if (c.created, c.updated, c.unchanged) != expected
            || c.fetched != n
            || c.skipped != 0
            || c.failed != 0
            || !report.summary.complete
            || report.summary.marked_absent != 0
        {
            panic!(
                "the {which} sync of {n} users has wrong counts: {c:?} (complete: {}, marked absent: {}, errors: {}, warnings: {:?})",
                report.summary.complete,
                report.summary.marked_absent,
                report.summary.errors,
                report.warnings
            );
        }
        (elapsed, report)
    }
}

/// The size of `rollcall.db` plus its WAL, in MiB.
fn db_mib(dir: &Path) -> f64 {
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    let db = rollcall_store::DB_FILE_NAME;
    (size(db) + size(&format!("{db}-wal"))) as f64 / (1024.0 * 1024.0)
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
    let ctx = Ctx::new(&base, users);
    println!(
        "paginator: {:?}; one warm-up fetch, then {runs} runs of (a) fetch, (b) first sync, (c) unchanged sync, each run in a fresh data directory; medians",
        ctx.connector.streams["users"].paginator
    );
    ctx.fetch().await;

    let (mut fetches, mut firsts, mut seconds) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let store = Store::open(dir.path()).await.expect("the store opens");
        let cpu = CpuUse::start();
        let a = ctx.fetch().await;
        let cpu_a = cpu.since();
        let cpu = CpuUse::start();
        let (b, _) = ctx.sync(&store, true).await;
        let cpu_b = cpu.since();
        let size_after_first = db_mib(dir.path());
        let cpu = CpuUse::start();
        let (c, _) = ctx.sync(&store, false).await;
        let cpu_c = cpu.since();
        let size_after_second = db_mib(dir.path());
        store.close().await;
        println!(
            "run {run}: fetch {:.3} s, first sync {:.3} s ({:.2}x), unchanged sync {:.3} s ({:.2}x); db+wal {size_after_first:.1} MiB, then {size_after_second:.1} MiB",
            a.as_secs_f64(),
            b.as_secs_f64(),
            b.as_secs_f64() / a.as_secs_f64(),
            c.as_secs_f64(),
            c.as_secs_f64() / a.as_secs_f64(),
        );
        println!("  cpu (s): fetch {cpu_a}");
        println!("  cpu (s): first sync {cpu_b}");
        println!("  cpu (s): unchanged sync {cpu_c}");
        fetches.push(a);
        firsts.push(b);
        seconds.push(c);
    }
    println!();
    println!(
        "{:<26} {:>9} {:>11} {:>9}   runs (s)",
        "step", "wall (s)", "records/s", "vs fetch"
    );
    let a = median(fetches.clone()).as_secs_f64();
    for (name, times) in [
        ("(a) fetch only", &fetches),
        ("(b) first sync", &firsts),
        ("(c) unchanged sync", &seconds),
    ] {
        let m = median(times.clone()).as_secs_f64();
        let all = times
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "{name:<26} {m:>9.3} {:>11.0} {:>8.2}x   {all}",
            users as f64 / m,
            m / a
        );
    }
    // The ratio of medians, and the median of the per-run ratios (runs are paired).
    let ratio = |xs: &[Duration]| {
        median(
            xs.iter()
                .zip(&fetches)
                .map(|(x, a)| Duration::from_secs_f64(x.as_secs_f64() / a.as_secs_f64()))
                .collect(),
        )
        .as_secs_f64()
    };
    println!(
        "median of per-run ratios: first/fetch {:.2}x, unchanged/fetch {:.2}x (target: each <= 2x)",
        ratio(&firsts),
        ratio(&seconds)
    );
    server.shutdown().await;
}

/// Linux reports CPU time in units of `USER_HZ`, 100 per second on every architecture it
/// exports to user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time used from a starting point: the whole process, and its live threads by name.
struct CpuUse {
    process: u64,
    threads: std::collections::BTreeMap<String, u64>,
}

impl CpuUse {
    fn start() -> CpuUse {
        CpuUse {
            process: process_cpu_ticks(),
            threads: thread_cpu_ticks(),
        }
    }

    /// "total X (name Y, ...)": the process's CPU seconds since the start, then each
    /// thread name's, largest first.
    fn since(&self) -> String {
        let total = process_cpu_ticks().saturating_sub(self.process);
        let mut threads: Vec<(String, u64)> = thread_cpu_ticks()
            .into_iter()
            .map(|(name, t)| {
                let before = self.threads.get(&name).copied().unwrap_or(0);
                (name, t.saturating_sub(before))
            })
            .filter(|(_, t)| *t > 0)
            .collect();
        threads.sort_by_key(|t| std::cmp::Reverse(t.1));
        let s = |t: u64| t as f64 / TICKS_PER_SECOND;
        let parts = threads
            .iter()
            .map(|(name, t)| format!("{name} {:.2}", s(*t)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("total {:.2} ({parts})", s(total))
    }
}

// ---------------------------------------------------------------------------------------
// Peak RSS

async fn rss(users: usize) {
    let (child, base) = ServerChild::spawn(users);

    let ctx = Ctx::new(&base, users);
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let store = Store::open(dir.path()).await.expect("the store opens");
    let before = proc_status_kb("VmHWM").unwrap_or(0);
    let (first, _) = ctx.sync(&store, true).await;
    let after_first = proc_status_kb("VmHWM").unwrap_or(0);
    let (second, _) = ctx.sync(&store, false).await;
    let peak = proc_status_kb("VmHWM").unwrap_or(0);
    let size = db_mib(dir.path());
    store.close().await;
    drop(child);
    println!(
        "users={users} first={:.2}s unchanged={:.2}s peak_rss={:.1}MiB (VmHWM {peak} kB; {before} kB before the first sync, {after_first} kB after it; db+wal {size:.1} MiB)",
        first.as_secs_f64(),
        second.as_secs_f64(),
        peak as f64 / 1024.0,
    );
}
