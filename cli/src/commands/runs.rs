//! `rollcall runs` and `rollcall errors RUN`: run history and error logs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

use super::lists::print_rows;
use crate::output::Format;

/// Run history.
#[derive(clap::Args, Debug)]
pub struct RunsArgs {
    /// Only runs of this integration.
    #[arg(long)]
    integration: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// The error log of a run.
#[derive(clap::Args, Debug)]
pub struct ErrorsArgs {
    /// Run id (from `rollcall runs`).
    run: i64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

fn row(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub async fn runs(args: RunsArgs, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let store = crate::datadir::open_store(data_dir).await?;
    let rows: Vec<Map<String, Value>> = store
        .runs(args.integration.as_deref())
        .await?
        .into_iter()
        .map(|r| {
            row(json!({
                "id": r.id, "integration": r.integration, "status": r.status, "dry_run": r.dry_run,
                "complete": r.complete, "started_at": r.started_at, "finished_at": r.finished_at,
                "fetched": r.counts.fetched, "created": r.counts.created, "updated": r.counts.updated,
                "unchanged": r.counts.unchanged, "skipped": r.counts.skipped, "failed": r.counts.failed,
                "marked_absent": r.marked_absent, "message": r.message,
            }))
        })
        .collect();
    let columns: Vec<String> = [
        "id",
        "integration",
        "status",
        "dry_run",
        "started_at",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "failed",
        "message",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    let columns = if args.format == Format::Table {
        columns
    } else {
        rows.first()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or(columns)
    };
    print_rows(&columns, &rows, args.format)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn errors(args: ErrorsArgs, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let store = crate::datadir::open_store(data_dir).await?;
    if store.run(args.run).await?.is_none() {
        bail!("there is no run {}; `rollcall runs` lists them", args.run);
    }
    let rows: Vec<Map<String, Value>> = store
        .run_errors(args.run)
        .await?
        .into_iter()
        .map(|e| row(json!({"run": e.run_id, "record": e.record_key, "stage": e.stage, "reason": e.reason})))
        .collect();
    let columns: Vec<String> = ["run", "record", "stage", "reason"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    print_rows(&columns, &rows, args.format)?;
    Ok(ExitCode::SUCCESS)
}
