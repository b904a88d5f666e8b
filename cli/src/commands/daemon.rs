//! `rollcall daemon [--once]`: runs integrations (and, later, workflows) on their
//! schedules until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use rollcall_scheduler::{CancellationToken, DaemonOptions, run_daemon};

use crate::jobs::{TimingArgs, job_types};
use crate::registry::Registry;

/// Run jobs on their schedules.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run what is due now, wait for it to finish and exit (for cron and tests). The exit
    /// code is 1 when a run failed.
    #[arg(long)]
    once: bool,
    /// The most jobs running at once. Integration syncs still take turns, since each
    /// holds the database's only write lock while it runs.
    #[arg(long, default_value_t = 2, value_name = "N")]
    max_parallel: usize,
    #[command(flatten)]
    timing: TimingArgs,
}

/// How often the job list is read again when nothing is due sooner.
const RESCAN: Duration = Duration::from_secs(60);

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let store = crate::datadir::open_store(data_dir.clone()).await?;
    let stop = CancellationToken::new();
    let signals = tokio::spawn(stop_on_signal(stop.clone()));
    let types = job_types(&store, registry, data_dir);
    let options = DaemonOptions {
        timing: args.timing.timing(),
        max_parallel: args.max_parallel,
        once: args.once,
        rescan: RESCAN,
    };
    let report = run_daemon(store.clone(), types, options, stop.clone())
        .await
        .context("the scheduler cannot read the jobs")?;
    signals.abort();
    store.close().await;
    println!(
        "{} run(s): {} completed, {} failed, {} cancelled; {} left to another process",
        report.started, report.completed, report.failed, report.cancelled, report.busy
    );
    if args.once && !stop.is_cancelled() && report.failed > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Cancels `stop` on the first SIGINT or SIGTERM: no job starts after it, and running
/// ones roll back and record that they were cancelled.
async fn stop_on_signal(stop: CancellationToken) {
    let signal = crate::signals::listen().await;
    tracing::info!("{}: stopping", signal.name());
    stop.cancel();
}
