//! `rollcall workflows apply|validate|list|show|remove|run`.
//!
//! A workflow file is checked by `rollcall_workflow::load_workflow_with` against the stored
//! integration it names, that integration's connector and the vault's credentials (a
//! `notify` block's `url_credential`), and stored as JSON; its warnings (a webhook URL
//! written in the file) are printed. `run` loads it again (so it is checked against the
//! connector as it is now), decrypts the webhook credential to apply, and calls
//! `rollcall_workflow::execute`: a plan by default, `--apply` to act.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use crate::output::print_table;
use anyhow::{Context, Result, anyhow};
use rollcall_core::action::ActionRunner;
use rollcall_core::integration::Integration;
use rollcall_core::{Connector, Inputs, Origin, ProvidedInputs};
use rollcall_source::SourceFile;
use rollcall_store::{Created, Store, StoredWorkflow};
use rollcall_workflow::{
    AuditResult, CredentialKind, ExecuteOptions, Mode, NotFound, Progress, StoredCredential,
    Target, Trigger, UserOutcome, Workflow, WorkflowReport,
};
use serde_json::{Value, json};

use crate::datadir::open_store;
use crate::progress::Reporter;
use crate::registry::{LoadFailure, Registry};

/// Exit status when an action failed (the others were done; a rerun finishes).
const ACTION_FAILED: u8 = 1;
/// Exit status when the guard stopped the run before its first change.
const GUARD_STOPPED: u8 = 3;

/// Manage and run workflows.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Create or update a workflow from a YAML file (checked against its integration).
    Apply {
        /// The workflow file.
        file: PathBuf,
    },
    /// Check a workflow file and report every problem with FILE:LINE:COLUMN; stores nothing.
    Validate {
        /// The workflow file.
        file: PathBuf,
    },
    /// List workflows.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Show one workflow as applied.
    Show {
        /// Workflow name.
        name: String,
    },
    /// Remove a workflow (its audit log stays).
    Remove {
        /// Workflow name.
        name: String,
    },
    /// Plan a workflow (who matches, which rule, what would happen; changes nothing), or
    /// with --apply, do it.
    Run(RunArgs),
}

/// `rollcall workflows run`.
#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Workflow name.
    name: String,
    /// Act: call the app and record the new states. Without it, only a plan is made.
    #[arg(long)]
    apply: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    format: RunFormat,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum TableFormat {
    /// An aligned text table.
    Table,
    /// A JSON array.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum RunFormat {
    /// One block per account, then a summary.
    Text,
    /// A JSON array, one object per selected account (summary on stderr).
    Json,
}

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    match args.command {
        Command::Apply { file } => apply(&file, registry, data_dir, true).await,
        Command::Validate { file } => apply(&file, registry, data_dir, false).await,
        Command::List { format } => list(data_dir, format).await,
        Command::Show { name } => show(data_dir, &name).await,
        Command::Remove { name } => remove(data_dir, &name).await,
        Command::Run(a) => run_workflow(a, registry, data_dir).await,
    }
}

/// The stored integrations (decoded) and a lookup that pairs one with its connector.
struct Integrations {
    by_name: HashMap<String, Result<Integration, String>>,
}

impl Integrations {
    async fn read(store: &Store) -> Result<Integrations> {
        let mut by_name = HashMap::new();
        for s in store.list_integrations().await? {
            by_name.insert(
                s.name.clone(),
                Integration::from_json(&s.definition).map_err(|e| {
                    format!("the stored integration `{}` cannot be read: {e}", s.name)
                }),
            );
        }
        Ok(Integrations { by_name })
    }

    fn find(&self, registry: &Registry, name: &str) -> Result<Target, NotFound> {
        let Some(found) = self.by_name.get(name) else {
            let names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            let hint = match rollcall_source::suggest(name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? `rollcall integrations list` lists them"),
                None if names.is_empty() => {
                    "there are no integrations yet: `rollcall integrations apply FILE` makes one"
                        .into()
                }
                None => "`rollcall integrations list` lists them".into(),
            };
            return Err((
                format!("there is no integration named `{name}`"),
                Some(hint),
            ));
        };
        let integration = found.clone().map_err(|e| (e, None))?;
        match registry.load(&integration.connector) {
            Ok(c) => Ok(Target {
                integration,
                connector: Arc::new(c),
            }),
            Err(LoadFailure::Manifest(e)) => Err((
                format!(
                    "the connector `{}` of the integration `{name}` does not load:\n{}",
                    integration.connector,
                    e.render()
                ),
                None,
            )),
            Err(LoadFailure::Other(e)) => Err((crate::errors::describe(&e), None)),
        }
    }
}

async fn apply(
    path: &Path,
    registry: &Registry,
    data_dir: Option<PathBuf>,
    save: bool,
) -> Result<ExitCode> {
    let file = match SourceFile::read(path) {
        Ok(f) => f,
        Err(d) => {
            eprintln!("{d}");
            return Ok(ExitCode::from(1));
        }
    };
    let store = open_store(data_dir).await?;
    let integrations = Integrations::read(&store).await?;
    let credentials = vault_list(&store).await?;
    let loaded = rollcall_workflow::load_workflow_with(
        file,
        &|name| integrations.find(registry, name),
        Some(&credentials),
    );
    let workflow = match loaded {
        Ok(w) => w,
        Err(e) => {
            store.close().await;
            eprintln!("{}", e.render());
            return Ok(ExitCode::from(1));
        }
    };
    for w in &workflow.warnings {
        eprintln!("{}", w.render_with_snippet(&workflow.source.text));
    }
    let described = describe(&workflow);
    if !save {
        store.close().await;
        println!("{}: ok, {described}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let created = store
        .put_workflow(
            &workflow.name,
            &workflow.integration,
            &workflow.schedule.to_string(),
            workflow.mode,
            &workflow.to_json(),
        )
        .await
        .with_context(|| format!("cannot store the workflow `{}`", workflow.name))?;
    store.close().await;
    let verb = match created {
        Created::Created => "created",
        Created::Updated => "updated",
    };
    println!("{verb} workflow `{}`: {described}", workflow.name);
    Ok(ExitCode::SUCCESS)
}

/// The vault's credentials, names and kinds only, for checking `url_credential`.
async fn vault_list(store: &Store) -> Result<Vec<StoredCredential>> {
    let list = store
        .list_credentials()
        .await
        .context("cannot list the stored credentials")?;
    Ok(list
        .into_iter()
        .map(|c| StoredCredential {
            kind: if c.is_webhook() {
                CredentialKind::Webhook
            } else {
                CredentialKind::Connector(c.connector)
            },
            name: c.name,
        })
        .collect())
}

fn describe(w: &Workflow) -> String {
    let blocks: Vec<&str> = w.blocks.iter().map(|b| b.key()).collect();
    format!(
        "integration `{}` ({} / {}), blocks: {}, {}, mode {}{}",
        w.integration,
        w.app,
        w.instance,
        if blocks.is_empty() {
            "none".to_string()
        } else {
            blocks.join(", ")
        },
        w.schedule,
        w.mode.as_str(),
        match w.guard {
            Some(g) => format!(", guard max_actions {g}"),
            None => String::new(),
        }
    )
}

/// The stored workflow named `name`, or an error naming the ones there are.
async fn stored(store: &Store, name: &str) -> Result<StoredWorkflow> {
    if let Some(w) = store.workflow(name).await? {
        return Ok(w);
    }
    let all = store.list_workflows().await?;
    let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
    Err(crate::not_found::no_such(
        "workflow",
        "workflows",
        "rollcall workflows apply FILE",
        name,
        &names,
    ))
}

async fn list(data_dir: Option<PathBuf>, format: TableFormat) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    let all = store.list_workflows().await?;
    let mut last_runs = Vec::new();
    for w in &all {
        last_runs.push(store.workflow_runs(Some(&w.name), 1).await?.pop());
    }
    store.close().await;
    match format {
        TableFormat::Json => {
            let rows: Vec<Value> = all
                .iter()
                .zip(&last_runs)
                .map(|(w, r)| {
                    json!({
                        "name": w.name,
                        "integration": w.integration,
                        "schedule": w.schedule,
                        "mode": w.mode,
                        "updated_at": w.updated_at,
                        "last_run": r,
                    })
                })
                .collect();
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        TableFormat::Table if all.is_empty() => {
            println!("no workflows yet: `rollcall workflows apply FILE` makes one")
        }
        TableFormat::Table => {
            let rows: Vec<Vec<String>> = all
                .iter()
                .zip(&last_runs)
                .map(|(w, r)| {
                    vec![
                        w.name.clone(),
                        w.integration.clone(),
                        w.schedule.clone(),
                        w.mode.as_str().to_string(),
                        r.as_ref()
                            .map(|r| {
                                format!(
                                    "{} {} ({:?})",
                                    r.mode.as_str(),
                                    r.started_at.format("%Y-%m-%d %H:%M"),
                                    r.status
                                )
                                .to_lowercase()
                            })
                            .unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect();
            print_table(
                &["NAME", "INTEGRATION", "SCHEDULE", "MODE", "LAST RUN"],
                &rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(data_dir: Option<PathBuf>, name: &str) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    let row = stored(&store, name).await;
    store.close().await;
    let row = row?;
    let source = rollcall_workflow::stored_source(&row.definition)
        .map_err(|e| anyhow!("workflow `{name}`: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "# workflow `{}`, applied from {}\n# created {}, updated {}",
        row.name,
        source.file,
        row.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        row.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
    )?;
    out.write_all(source.text.as_bytes())?;
    if !source.text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(data_dir: Option<PathBuf>, name: &str) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    if !store.remove_workflow(name).await? {
        let e = stored(&store, name).await.err();
        store.close().await;
        return Err(e.unwrap_or_else(|| anyhow!("there is no workflow named `{name}`")));
    }
    store.close().await;
    println!("removed workflow `{name}` (its audit log stays)");
    Ok(ExitCode::SUCCESS)
}

/// The integration's inputs the way `rollcall run` gathers them: the integration file's
/// values, its vault credential (or `--credential`), the environment and `--secret-env`.
async fn integration_inputs(
    integration: &Integration,
    connector: &Connector,
    data_dir: Option<PathBuf>,
    credential: Option<&String>,
    secret_env: &[String],
) -> Result<Inputs> {
    let mut provided = ProvidedInputs::new();
    for (k, v) in &integration.inputs {
        provided.provide(
            k.clone(),
            v.clone(),
            Origin::Other(format!("integration `{}`", integration.name)),
        );
    }
    if let Some(cred) = credential.or(integration.credential.as_ref()) {
        for (k, v) in super::credentials::credential_inputs(data_dir, cred, &connector.name).await?
        {
            provided.provide(k, v.expose(), Origin::Vault(cred.clone()));
        }
    }
    let provided = super::fetch::gather_inputs_into(provided, connector, &[], secret_env)?;
    Inputs::resolve(connector, provided).map_err(super::fetch::problems)
}

/// A stored workflow ready to execute, prepared the way `rollcall workflows run` does it
/// (the scheduler can call this too): the workflow loaded again from its file and checked
/// against its integration and connector as they are now, its webhook credential looked up
/// (and, to apply, decrypted and checked), and, to apply, the connector's action runner
/// with the integration's inputs and credential (`credential` overrides it).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn prepare(
    store: &Store,
    registry: &Registry,
    data_dir: Option<PathBuf>,
    name: &str,
    apply: bool,
    credential: Option<&String>,
    secret_env: &[String],
    observer: Arc<dyn rollcall_core::observe::Observer>,
) -> Result<(Workflow, Option<ActionRunner>)> {
    let row = stored(store, name).await?;
    let integrations = Integrations::read(store).await?;
    let find = |n: &str| integrations.find(registry, n);
    let mut workflow = rollcall_workflow::load_stored(&row.definition, &find)
        .map_err(|e| anyhow!("workflow `{name}`: {e}"))?;
    let dir = crate::datadir::resolve(data_dir.clone())?;
    let hooks: Vec<String> = workflow
        .webhook_credentials()
        .into_iter()
        .map(String::from)
        .collect();
    for hook in hooks {
        if apply {
            let url = super::credentials::webhook_url(store, &dir, &hook, &workflow.name).await?;
            workflow
                .resolve_webhook(&hook, &url)
                .map_err(|e| anyhow!(e))?;
        } else {
            super::credentials::webhook_credential(store, &dir, &hook, &workflow.name).await?;
        }
    }
    if !apply {
        return Ok((workflow, None));
    }
    let integration =
        super::integrations::load_stored_with(registry, data_dir.clone(), &workflow.integration)
            .await?;
    let target = find(&workflow.integration).map_err(|(msg, _)| anyhow!("{msg}"))?;
    let inputs = integration_inputs(
        &integration,
        &target.connector,
        data_dir,
        credential,
        secret_env,
    )
    .await?;
    let runner = ActionRunner::new(target.connector.clone(), &inputs, observer)?;
    Ok((workflow, Some(runner)))
}

async fn run_workflow(
    args: RunArgs,
    registry: &Registry,
    data_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let store = open_store(data_dir.clone()).await?;
    let mode = if args.apply { Mode::Apply } else { Mode::Plan };
    let reporter = Arc::new(Reporter::new(args.explain, true));
    let (workflow, runner) = prepare(
        &store,
        registry,
        data_dir,
        &args.name,
        args.apply,
        args.credential.as_ref(),
        &args.secret_env,
        reporter.clone(),
    )
    .await?;
    let printer = Printer::new(args.format);
    let result = rollcall_workflow::execute(
        &store,
        &workflow,
        runner.as_ref(),
        ExecuteOptions::new(mode, Trigger::Cli),
        &printer,
    )
    .await;
    reporter.finish();
    store.close().await;
    let report = result.with_context(|| format!("the workflow `{}` did not run", workflow.name))?;
    printer.finish()?;
    summary(&workflow, &report, args.format);
    Ok(if report.aborted.is_some() {
        ExitCode::from(GUARD_STOPPED)
    } else if report.totals.failed > 0 {
        ExitCode::from(ACTION_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints each account as the run reaches it.
struct Printer {
    format: RunFormat,
    state: Mutex<PrinterState>,
}

#[derive(Default)]
struct PrinterState {
    printed: u64,
    error: Option<std::io::Error>,
}

impl Printer {
    fn new(format: RunFormat) -> Printer {
        Printer {
            format,
            state: Mutex::new(PrinterState::default()),
        }
    }

    fn write(&self, out: &mut dyn Write, first: bool, u: &UserOutcome) -> std::io::Result<()> {
        match self.format {
            RunFormat::Json => {
                out.write_all(if first { b"[\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut *out, u)?;
            }
            RunFormat::Text => {
                let who = u.username.as_deref().unwrap_or("(no username)");
                writeln!(out, "{who} ({})", u.id)?;
                writeln!(out, "    matched: {}", u.rule)?;
                for a in &u.actions {
                    writeln!(
                        out,
                        "    {:<15} {:<8} {}",
                        a.action,
                        a.result.as_str(),
                        a.detail
                    )?;
                }
            }
        }
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        let state = self
            .state
            .lock()
            .map_err(|_| anyhow!("the output writer stopped"))?;
        if let Some(e) = &state.error {
            return Err(anyhow!("cannot write the output: {e}"));
        }
        let mut out = std::io::stdout().lock();
        match self.format {
            RunFormat::Json if state.printed == 0 => writeln!(out, "[]")?,
            RunFormat::Json => writeln!(out, "\n]")?,
            RunFormat::Text if state.printed == 0 => writeln!(out, "no account matched")?,
            RunFormat::Text => {}
        }
        Ok(())
    }
}

impl Progress for Printer {
    fn user(&self, outcome: &UserOutcome) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.error.is_some() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let first = state.printed == 0;
        match self.write(&mut out, first, outcome) {
            Ok(()) => state.printed += 1,
            Err(e) => state.error = Some(e),
        }
    }
}

/// The totals, on stdout for text and on stderr for JSON (stdout is the array).
fn summary(w: &Workflow, r: &WorkflowReport, format: RunFormat) {
    let mut lines = Vec::new();
    let what = match r.mode {
        Mode::Plan => "plan",
        Mode::Apply => "apply",
    };
    lines.push(format!(
        "{what} of workflow `{}` (run {}): {} of {} accounts in {} / {} matched, {} exempt{}",
        w.name,
        r.run_id,
        r.matched,
        r.accounts,
        w.app,
        w.instance,
        r.exempt,
        match (r.limit, w.guard) {
            (Some(l), Some(g)) => format!("; guard {l} (max_actions {g})"),
            _ => String::new(),
        }
    ));
    for (action, c) in &r.actions {
        let mut parts = Vec::new();
        for (n, name) in [
            (c.planned, AuditResult::Planned),
            (c.ok, AuditResult::Ok),
            (c.noop, AuditResult::Noop),
            (c.skipped, AuditResult::Skipped),
            (c.failed, AuditResult::Failed),
        ] {
            if n > 0 {
                parts.push(format!("{n} {}", name.as_str()));
            }
        }
        if !parts.is_empty() {
            lines.push(format!("  {action:<15} {}", parts.join(", ")));
        }
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(why) = &r.aborted {
        lines.push(format!("stopped by the guard: {why}"));
    } else if r.mode == Mode::Plan {
        lines.push(format!(
            "nothing was changed; `rollcall workflows run \"{}\" --apply` does it",
            w.name
        ));
    } else if r.totals.failed > 0 {
        lines.push(format!(
            "{} action(s) failed and are in the audit log (`rollcall audit --workflow \"{}\"`); run it again to finish",
            r.totals.failed, w.name
        ));
    }
    for l in lines {
        match format {
            RunFormat::Text => println!("{l}"),
            RunFormat::Json => eprintln!("{l}"),
        }
    }
}
