//! `rollcall run NAME [--dry-run]`: sync an integration into the store. SIGINT (Ctrl-C)
//! or SIGTERM during the run rolls it back and records it as cancelled (exit status 130
//! or 143).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::progress::Reporter;
use crate::registry::Registry;

/// Sync an integration.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Integration name (see `rollcall integrations list`).
    name: String,
    /// Compute everything and report it, then discard the changes.
    #[arg(long)]
    dry_run: bool,
    /// Use this vault credential instead of the integration's.
    #[arg(long)]
    credential: Option<String>,
    /// Take a secret input from an environment variable. Repeatable.
    #[arg(long = "secret-env", value_name = "INPUT=ENV_VAR")]
    secret_env: Vec<String>,
    /// Print each request (secrets redacted) to stderr.
    #[arg(long)]
    explain: bool,
}

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let overrides = crate::prepare::Overrides {
        credential: args.credential,
        secret_env: args.secret_env,
    };
    let prepared =
        crate::prepare::prepare_run(registry, data_dir.clone(), &args.name, &overrides).await?;
    let store = crate::datadir::open_store(data_dir).await?;
    let rollcall_sync::PreparedRun {
        integration,
        connector,
        inputs,
    } = prepared;

    let reporter = Arc::new(Reporter::new(args.explain, false));
    let started = Instant::now();
    let options = rollcall_sync::RunOptions {
        dry_run: args.dry_run,
        sync_time: chrono::Utc::now(),
    };
    // From here SIGINT (Ctrl-C) and SIGTERM stop the run as the daemon's shutdown does:
    // the fetch is left, the run's transaction rolled back and the run recorded as
    // failed with `rollcall_sync::CANCELLED`.
    let signal = crate::signals::listen();
    let received = OnceLock::new();
    let stop = async {
        let _ = received.set(signal.await);
    };
    let result = rollcall_sync::run_until(
        &store,
        &integration,
        connector,
        &inputs,
        options,
        reporter.clone(),
        stop,
    )
    .await;
    reporter.finish();
    if let (Err(rollcall_sync::SyncError::Cancelled { run }), Some(signal)) =
        (&result, received.get())
    {
        eprintln!(
            "{}: run {run} of `{}` was cancelled and rolled back; nothing was changed",
            signal.name(),
            integration.name
        );
        store.close().await;
        return Ok(ExitCode::from(signal.exit_code()));
    }
    let report = result.context(format!(
        "the run of `{}` did not complete",
        integration.name
    ))?;
    let s = &report.summary;
    let c = &s.counts;
    println!(
        "{}run {} of `{}` completed in {:.1}s",
        if s.dry_run { "dry " } else { "" },
        s.id,
        integration.name,
        started.elapsed().as_secs_f64()
    );
    println!("  fetched    {}", c.fetched);
    println!("  created    {}", c.created);
    println!("  updated    {}", c.updated);
    println!("  unchanged  {}", c.unchanged);
    println!("  skipped    {}", c.skipped);
    println!("  failed     {}", c.failed);
    if s.marked_absent > 0 {
        println!(
            "  no longer in the app: {} account(s) marked not present",
            s.marked_absent
        );
    }
    if !s.complete {
        println!("  the list was not read completely, so no account was marked not present");
    }
    if s.errors > 0 {
        println!("  see why records were skipped: rollcall errors {}", s.id);
    }
    if s.dry_run {
        println!("  (dry run: nothing was changed)");
    }
    Ok(ExitCode::SUCCESS)
}
