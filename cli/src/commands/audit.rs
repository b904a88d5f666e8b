//! `rollcall audit [--workflow NAME] [--run ID] [--format text|json|csv]`: the workflow
//! audit log (time, workflow, run, account, action, result, detail), oldest first. Read a
//! page at a time and streamed, so a long log does not fill memory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use rollcall_store::{AuditEntry, AuditQuery};

use crate::datadir::open_store;
use crate::output::{csv_cell, pad};

/// Entries read per page.
const PAGE: u32 = 1000;

/// Show the workflow audit log.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this workflow's entries.
    #[arg(long)]
    workflow: Option<String>,
    /// Only this workflow run's entries (the run id `rollcall workflows run` prints).
    #[arg(long)]
    run: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// An aligned text table.
    Text,
    /// A JSON array.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

const COLUMNS: [&str; 9] = [
    "at",
    "workflow",
    "run",
    "mode",
    "user",
    "external_id",
    "action",
    "result",
    "detail",
];

fn cells(e: &AuditEntry) -> [String; 9] {
    [
        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        e.workflow.clone(),
        e.run_id.to_string(),
        e.mode.as_str().to_string(),
        e.username.clone().unwrap_or_default(),
        e.external_id.clone().unwrap_or_default(),
        e.action.clone(),
        e.result.as_str().to_string(),
        e.detail.clone().unwrap_or_default(),
    ]
}

pub async fn run(args: Args, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    let mut query = AuditQuery {
        workflow: args.workflow.clone(),
        run_id: args.run,
        after_id: 0,
        limit: Some(PAGE),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let widths = [19, 24, 5, 5, 28, 20, 15, 7, 0];
    let mut count = 0u64;
    match args.format {
        Format::Csv => writeln!(out, "{}", COLUMNS.join(","))?,
        Format::Text => {
            let head: Vec<String> = COLUMNS
                .iter()
                .zip(widths)
                .map(|(c, w)| {
                    if w == 0 {
                        c.to_uppercase()
                    } else {
                        pad(&c.to_uppercase(), w)
                    }
                })
                .collect();
            writeln!(out, "{}", head.join("  "))?;
        }
        Format::Json => {}
    }
    loop {
        let page = store.audit_entries(&query).await?;
        let Some(last) = page.last() else {
            break;
        };
        query.after_id = last.id;
        for e in &page {
            match args.format {
                Format::Json => {
                    out.write_all(if count == 0 { b"[\n  " } else { b",\n  " })?;
                    serde_json::to_writer(&mut out, e)?;
                }
                Format::Csv => {
                    let row: Vec<String> = cells(e).iter().map(|c| csv_cell(c)).collect();
                    writeln!(out, "{}", row.join(","))?;
                }
                Format::Text => {
                    let row: Vec<String> = cells(e)
                        .iter()
                        .zip(widths)
                        .map(|(c, w)| if w == 0 { c.clone() } else { pad(c, w) })
                        .collect();
                    writeln!(out, "{}", row.join("  ").trim_end())?;
                }
            }
            count += 1;
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    match args.format {
        Format::Json if count == 0 => writeln!(out, "[]")?,
        Format::Json => writeln!(out, "\n]")?,
        _ => {}
    }
    out.flush()?;
    store.close().await;
    if count == 0 && args.format == Format::Text {
        eprintln!(
            "the audit log has no entries{}",
            match &args.workflow {
                Some(w) => format!(" for the workflow `{w}`"),
                None => String::new(),
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
