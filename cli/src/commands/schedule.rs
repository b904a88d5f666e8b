//! `rollcall schedule`: every scheduled job with its last and next run, computed exactly
//! as the daemon computes them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Local, Utc};
use rollcall_core::integration::schedule::{DefaultZone, Timing};
use rollcall_scheduler::{PlannedJob, plan};
use serde_json::{Map, Value, json};

use super::lists::print_rows;
use crate::jobs::{TimingArgs, job_types};
use crate::output::Format;
use crate::registry::Registry;

/// List jobs with their schedule, last run and next run.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    timing: TimingArgs,
}

const TABLE: [&str; 8] = [
    "kind", "name", "schedule", "zone", "mode", "last run", "status", "next run",
];

const FIELDS: [&str; 11] = [
    "kind",
    "name",
    "schedule",
    "zone",
    "mode",
    "last_started_at",
    "last_status",
    "last_message",
    "next_run",
    "due",
    "running",
];

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let store = crate::datadir::open_store(data_dir.clone()).await?;
    let timing = args.timing.timing();
    let types = job_types(&store, registry, data_dir);
    let now = Utc::now();
    let (jobs, problems) = plan(&store, &types, &timing, now).await?;
    store.close().await;
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let table = args.format == Format::Table;
    let rows: Vec<Map<String, Value>> = jobs
        .iter()
        .map(|p| {
            if table {
                table_row(p, &timing, now)
            } else {
                json_row(p, &timing, now)
            }
        })
        .collect();
    let columns: Vec<String> = if table { &TABLE[..] } else { &FIELDS[..] }
        .iter()
        .map(|c| c.to_string())
        .collect();
    print_rows(&columns, &rows, args.format)?;
    Ok(ExitCode::SUCCESS)
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn json_row(p: &PlannedJob, timing: &Timing, now: DateTime<Utc>) -> Map<String, Value> {
    object(json!({
        "kind": p.job.kind,
        "name": p.job.name,
        "schedule": p.job.schedule.to_string(),
        "zone": p.job.schedule.zone_label(timing),
        "mode": p.job.mode,
        "last_started_at": p.last_started_at,
        "last_status": p.last_status,
        "last_message": p.last_message,
        "next_run": p.next_run,
        "due": p.is_due(now),
        "running": p.running,
    }))
}

fn table_row(p: &PlannedJob, timing: &Timing, now: DateTime<Utc>) -> Map<String, Value> {
    let zone = p
        .job
        .schedule
        .zone()
        .map(DefaultZone::Named)
        .unwrap_or(timing.zone);
    let next = if p.running {
        "after the running one".to_owned()
    } else {
        match p.next_run {
            None => "never (the schedule matches no date)".to_owned(),
            Some(_) if p.last_started_at.is_none() => "now (never ran)".to_owned(),
            Some(t) if t <= now => "now (a run was missed)".to_owned(),
            Some(t) => when(t, zone),
        }
    };
    object(json!({
        "kind": p.job.kind,
        "name": p.job.name,
        "schedule": p.job.schedule.to_string(),
        "zone": p.job.schedule.zone_label(timing).unwrap_or_else(|| "-".to_owned()),
        "mode": p.job.mode,
        "last run": p.last_started_at.map(|t| when(t, zone)).unwrap_or_else(|| "never".to_owned()),
        "status": p.last_status.clone().unwrap_or_else(|| "-".to_owned()),
        "next run": next,
    }))
}

/// A time as people in the job's zone read it.
fn when(t: DateTime<Utc>, zone: DefaultZone) -> String {
    match zone {
        DefaultZone::Named(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        DefaultZone::Local => t
            .with_timezone(&Local)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string(),
    }
}
