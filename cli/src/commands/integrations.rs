//! `rollcall integrations apply|list|show|remove|mappings`.
//!
//! An integration file is checked against its connector by
//! `rollcall_core::integration::load_integration` and stored as JSON in the store
//! (`rollcall_sync::sync_options` converts the model to the store's run options).

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::output::print_table;
use anyhow::{Context, Result, anyhow};
use rollcall_core::integration::{Integration, load_integration_with_names};
use rollcall_core::manifest::LoadError;
use rollcall_source::SourceFile;
use rollcall_store::{Created, Store, StoredIntegration};
use serde_json::{Value, json};

use crate::datadir::open_store;
use crate::registry::{LoadFailure, Registry};

/// Manage integrations.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Create or update an integration from a YAML file.
    Apply {
        /// The integration file.
        file: PathBuf,
    },
    /// List integrations.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one integration.
    Show {
        /// Integration name.
        name: String,
        /// `yaml`: the file as applied; `json`: the stored, resolved definition.
        #[arg(long, value_enum, default_value_t = ShowFormat::Yaml)]
        format: ShowFormat,
    },
    /// Remove an integration.
    Remove {
        /// Integration name.
        name: String,
    },
    /// Print the resolved field mappings of an integration.
    Mappings {
        /// Integration name.
        name: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Output formats of `list` and `mappings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// An aligned text table.
    Table,
    /// A JSON array.
    Json,
}

/// Output formats of `show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ShowFormat {
    /// The integration file as it was applied.
    Yaml,
    /// The stored definition (defaults applied, mappings resolved).
    Json,
}

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    match args.command {
        Command::Apply { file } => apply(&file, registry, data_dir).await,
        Command::List { format } => list(data_dir, format).await,
        Command::Show { name, format } => show(data_dir, &name, format).await,
        Command::Remove { name } => remove(data_dir, &name).await,
        Command::Mappings { name, format } => mappings(data_dir, &name, format).await,
    }
}

/// Why loading an integration file failed.
enum LoadProblem {
    /// The file's problems, and those of its connector's manifest if that is broken.
    Diagnostics(LoadError, Option<(String, LoadError)>),
    /// Anything else (the connectors directory cannot be read, ...).
    Other(anyhow::Error),
}

impl LoadProblem {
    fn render(&self) -> String {
        match self {
            LoadProblem::Diagnostics(e, connector) => {
                let mut out = e.render();
                if let Some((name, ce)) = connector {
                    out.push_str(&format!(
                        "\n\nthe manifest of the connector `{name}` has problems:\n{}",
                        ce.render()
                    ));
                }
                out
            }
            LoadProblem::Other(e) => format!("error: {}", crate::errors::describe(e)),
        }
    }
}

/// Loads and checks an integration file against the connectors of `registry`.
fn load_file(file: SourceFile, registry: &Registry) -> Result<Integration, LoadProblem> {
    let names: Vec<String> = registry
        .list()
        .map_err(LoadProblem::Other)?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let broken: RefCell<Option<(String, LoadError)>> = RefCell::new(None);
    let find = |name: &str| -> Option<Arc<rollcall_core::Connector>> {
        // Only names: a path in `connector:` would make the stored integration depend
        // on the working directory.
        if !names.iter().any(|n| n == name) {
            return None;
        }
        match registry.load(name) {
            Ok(c) => Some(Arc::new(c)),
            Err(LoadFailure::Manifest(e)) => {
                *broken.borrow_mut() = Some((name.to_string(), e));
                None
            }
            Err(LoadFailure::Other(_)) => None,
        }
    };
    load_integration_with_names(file, &find, &names)
        .map_err(|e| LoadProblem::Diagnostics(e, broken.take()))
}

async fn apply(
    path: &std::path::Path,
    registry: &Registry,
    data_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let file = match SourceFile::read(path) {
        Ok(f) => f,
        Err(d) => {
            eprintln!("{d}");
            return Ok(ExitCode::from(1));
        }
    };
    let integration = match load_file(file, registry) {
        Ok(i) => i,
        Err(p) => {
            eprintln!("{}", p.render());
            return Ok(ExitCode::from(1));
        }
    };
    let store = open_store(data_dir).await?;
    let before = store.integration(&integration.name).await?;
    let created = store
        .put_integration(&integration.name, &integration.to_json())
        .await
        .with_context(|| format!("cannot store the integration `{}`", integration.name))?;
    let verb = match created {
        Created::Created => "created",
        Created::Updated => "updated",
    };
    println!(
        "{verb} integration `{}` (connector {}, {} / {}, {} mapping{}, {})",
        integration.name,
        integration.connector,
        integration.app,
        integration.instance,
        integration.mappings().len(),
        if integration.mappings().len() == 1 {
            ""
        } else {
            "s"
        },
        integration.schedule,
    );
    if let Some(prev) = before
        && let Ok(prev) = Integration::from_json(&prev.definition)
        && prev.source.file != integration.source.file
    {
        eprintln!(
            "warning: the integration `{}` was applied from {} before; {} replaced it",
            integration.name, prev.source.file, integration.source.file
        );
    }
    if let Some(cred) = &integration.credential {
        match store.credential(cred).await {
            Ok(None) => eprintln!(
                "warning: there is no credential `{cred}` yet; store it before the first run with `rollcall credentials add {cred} --connector {}`",
                integration.connector
            ),
            Ok(Some(c)) if c.info.is_webhook() => eprintln!(
                "warning: the credential `{cred}` holds a webhook URL, not the secret inputs of `{}`",
                integration.connector
            ),
            Ok(Some(c)) if c.info.connector != integration.connector => eprintln!(
                "warning: the credential `{cred}` is for the connector `{}`, not `{}`",
                c.info.connector, integration.connector
            ),
            _ => {}
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The stored integration named `name`, or an error naming the ones there are.
async fn stored(store: &Store, name: &str) -> Result<StoredIntegration> {
    if let Some(s) = store.integration(name).await? {
        return Ok(s);
    }
    let all = store.list_integrations().await?;
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    Err(crate::not_found::no_such(
        "integration",
        "integrations",
        "rollcall integrations apply FILE",
        name,
        &names,
    ))
}

fn decode(s: &StoredIntegration) -> Result<Integration> {
    Integration::from_json(&s.definition).map_err(|e| anyhow!("integration `{}`: {e}", s.name))
}

/// Reads a stored integration and checks it again against its connector as it is now
/// (from `registry`, which honours `--connectors-dir`), so a connector that changed since
/// `apply` is caught before a run.
pub async fn load_stored_with(
    registry: &Registry,
    data_dir: Option<PathBuf>,
    name: &str,
) -> Result<Integration> {
    let store = open_store(data_dir).await?;
    let row = stored(&store, name).await;
    store.close().await;
    let old = decode(&row?)?;
    let file = SourceFile::new(old.source.file.clone(), old.source.text.clone());
    load_file(file, registry).map_err(|p| {
        anyhow!(
            "the integration `{name}` no longer fits its connector; fix {} and apply it again:\n{}",
            old.source.file,
            p.render()
        )
    })
}

async fn list(data_dir: Option<PathBuf>, format: Format) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    let all = store.list_integrations().await?;
    store.close().await;
    let mut rows = Vec::new();
    let mut objects = Vec::new();
    for s in &all {
        match decode(s) {
            Ok(i) => {
                rows.push(vec![
                    i.name.clone(),
                    i.connector.clone(),
                    format!("{} / {}", i.app, i.instance),
                    i.preference.as_str().to_string(),
                    i.selection.as_str().to_string(),
                    i.schedule.to_string(),
                ]);
                objects.push(json!({
                    "name": i.name,
                    "connector": i.connector,
                    "app": i.app,
                    "instance": i.instance,
                    "preference": i.preference,
                    "users": i.selection,
                    "schedule": i.schedule,
                    "updated_at": s.updated_at,
                }));
            }
            Err(e) => {
                rows.push(vec![
                    s.name.clone(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                ]);
                objects.push(json!({ "name": s.name, "error": e.to_string() }));
            }
        }
    }
    match format {
        Format::Json => print_json(&Value::Array(objects))?,
        Format::Table if rows.is_empty() => {
            println!("no integrations yet: `rollcall integrations apply FILE` makes one")
        }
        Format::Table => print_table(
            &[
                "NAME",
                "CONNECTOR",
                "APP / INSTANCE",
                "PREFERENCE",
                "USERS",
                "SCHEDULE",
            ],
            &rows,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(data_dir: Option<PathBuf>, name: &str, format: ShowFormat) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    let row = stored(&store, name).await;
    store.close().await;
    let row = row?;
    match format {
        ShowFormat::Json => print_json(&row.definition)?,
        ShowFormat::Yaml => {
            let i = decode(&row)?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "# integration `{}`, applied from {}\n# created {}, updated {}",
                i.name,
                i.source.file,
                row.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                row.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
            )?;
            out.write_all(i.source.text.as_bytes())?;
            if !i.source.text.ends_with('\n') {
                writeln!(out)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(data_dir: Option<PathBuf>, name: &str) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    let removed = store.remove_integration(name).await?;
    if !removed {
        let e = stored(&store, name).await.err();
        store.close().await;
        return Err(e.unwrap_or_else(|| anyhow!("there is no integration named `{name}`")));
    }
    store.close().await;
    println!("removed integration `{name}`");
    Ok(ExitCode::SUCCESS)
}

async fn mappings(data_dir: Option<PathBuf>, name: &str, format: Format) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    let row = stored(&store, name).await;
    store.close().await;
    let i = decode(&row?)?;
    match format {
        Format::Json => print_json(&serde_json::to_value(i.mappings())?)?,
        Format::Table => {
            let yes = |b: bool| if b { "yes" } else { "" }.to_string();
            let rows: Vec<Vec<String>> = i
                .mappings()
                .iter()
                .map(|m| {
                    vec![
                        m.source.clone(),
                        m.label.clone(),
                        m.target.clone(),
                        yes(m.custom),
                        yes(m.sync_key),
                    ]
                })
                .collect();
            print_table(
                &[
                    "SOURCE FIELD",
                    "LABEL",
                    "TARGET FIELD",
                    "CUSTOM",
                    "SYNC KEY",
                ],
                &rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(v: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}
