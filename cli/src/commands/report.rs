//! `rollcall report apply FILE | list | remove NAME | run NAME --format csv|json|md|html`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use rollcall_serve::report::{Format, Report, load_report, render, run_report};
use rollcall_source::SourceFile;
use rollcall_store::{Created, Store, ViewTarget};

use crate::datadir::open_store;

/// Report definitions: apply, list, remove, run.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum OutputFormat {
    Csv,
    Json,
    Md,
    Html,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Check a report file and store it (replacing a report of the same name).
    Apply {
        /// The report file (YAML).
        file: PathBuf,
    },
    /// List the stored reports.
    List,
    /// Remove a report.
    Remove {
        /// Report name.
        name: String,
    },
    /// Run a report and print it (or write it to a file).
    Run {
        /// Report name.
        name: String,
        /// Output format; `html` is one self-contained file that can be mailed.
        #[arg(long, value_enum, default_value = "md")]
        format: OutputFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

pub async fn run(args: Args, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    match args.command {
        Command::Apply { file } => apply(&file, data_dir).await,
        Command::List => {
            let store = open_store(data_dir).await?;
            let reports = store.list_reports().await?;
            if reports.is_empty() {
                println!("no reports yet: `rollcall report apply FILE` stores one");
            }
            for r in reports {
                let title = serde_json::from_value::<Report>(r.definition)
                    .map(|d| d.title().to_owned())
                    .unwrap_or_else(|_| "(stored in an unreadable form; apply it again)".into());
                println!("{:<32} {title}", r.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove { name } => {
            let store = open_store(data_dir).await?;
            if !store.remove_report(&name).await? {
                bail!("there is no report named `{name}`; `rollcall report list` shows them");
            }
            println!("removed report `{name}`");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            name,
            format,
            output,
        } => {
            let store = open_store(data_dir).await?;
            let report = stored(&store, &name).await?;
            let out = run_report(&store, &report, chrono::Utc::now())
                .await
                .map_err(|e| anyhow!(e))?;
            let format = match format {
                OutputFormat::Csv => Format::Csv,
                OutputFormat::Json => Format::Json,
                OutputFormat::Md => Format::Md,
                OutputFormat::Html => Format::Html,
            };
            let text = render(&out, format);
            match output {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| {
                        format!("cannot write the report to {}", path.display())
                    })?;
                    eprintln!("wrote {} ({} rows)", path.display(), out.total);
                }
                None => {
                    let mut stdout = std::io::stdout().lock();
                    match stdout.write_all(text.as_bytes()) {
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                        other => other.context("cannot write the report")?,
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn stored(store: &Store, name: &str) -> Result<Report> {
    let Some(r) = store.report(name).await? else {
        let names: Vec<String> = store
            .list_reports()
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        return Err(crate::not_found::no_such(
            "report",
            "reports",
            "rollcall report apply FILE",
            name,
            &names,
        ));
    };
    serde_json::from_value(r.definition).map_err(|e| {
        anyhow!("the report `{name}` is stored in a form this rollcall cannot read ({e}); apply its file again")
    })
}

async fn apply(path: &std::path::Path, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let file = match SourceFile::read(path) {
        Ok(f) => f,
        Err(d) => {
            eprintln!("{d}");
            return Ok(ExitCode::from(1));
        }
    };
    let display = file.name.clone();
    let report = match load_report(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}", e.render());
            return Ok(ExitCode::from(1));
        }
    };
    let store = open_store(data_dir).await?;
    // Run it once on one row so unknown fields are refused now, not at the first run.
    let mut probe = report
        .query()
        .map_err(|e| anyhow!("{display}: error: {e}"))?;
    probe.limit = Some(1);
    let checked = match report.list.target() {
        ViewTarget::Users => store.list_users(&probe).await.map(drop),
        ViewTarget::SaasUsers => store.list_saas_users(&probe).await.map(drop),
    };
    if let Err(e) = checked {
        eprintln!(
            "{display}: error: {}",
            e.to_string().trim_start_matches("invalid query: ")
        );
        return Ok(ExitCode::from(1));
    }
    let created = store
        .put_report(&report.name, &serde_json::to_value(&report)?)
        .await?;
    println!(
        "{} report `{}` ({}); run it with `rollcall report run {} --format html`",
        match created {
            Created::Created => "created",
            Created::Updated => "updated",
        },
        report.name,
        report.title(),
        if report.name.contains(' ') {
            format!("'{}'", report.name)
        } else {
            report.name.clone()
        }
    );
    Ok(ExitCode::SUCCESS)
}
