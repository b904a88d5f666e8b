//! `rollcall fetch CONNECTOR`

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use rollcall_core::inputs::env_key;
use rollcall_core::{Connector, FetchOptions, FetchSummary, Inputs, Item, Origin, ProvidedInputs};

use crate::output::{Format, RecordWriter};
use crate::progress::Reporter;
use crate::registry::Registry;

/// Read records from an app.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connector name or manifest path.
    connector: String,
    /// Stream to read (default: the connector's first stream).
    #[arg(long)]
    stream: Option<String>,
    #[command(flatten)]
    inputs: InputArgs,
    /// Stop after this many records (pages are asked for no larger than that).
    #[arg(long)]
    limit: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Print each request (secrets redacted), its status and record count to stderr.
    #[arg(long)]
    explain: bool,
    /// Write the HTTP exchanges to a cassette file (JSON, secrets redacted) for `rollcall test`.
    #[arg(long, value_name = "FILE")]
    record: Option<std::path::PathBuf>,
}

pub async fn run(
    args: Args,
    registry: &Registry,
    data_dir: Option<std::path::PathBuf>,
) -> Result<ExitCode> {
    let connector = registry.load(&args.connector).map_err(|e| e.into_error())?;
    let stream = match &args.stream {
        Some(s) => s.clone(),
        None => connector
            .streams
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| anyhow!("the connector has no stream"))?,
    };
    let inputs = args.inputs.resolve(&connector, data_dir).await?;
    if args.explain {
        eprintln!(
            "connector {} {} ({}), stream `{stream}`",
            connector.name, connector.version, connector.origin
        );
        for (k, v) in inputs.describe() {
            eprintln!("  input {k} = {v}");
        }
    }
    let reporter = Arc::new(Reporter::new(args.explain, false));
    let stdout = std::io::stdout().lock();
    let mut writer = RecordWriter::new(BufWriter::new(stdout), args.format);
    let recording = args
        .record
        .as_ref()
        .map(|_| Arc::new(rollcall_core::http::cassette::Recording::new()));
    let options = FetchOptions {
        limit: args.limit,
        tape: recording
            .clone()
            .map(rollcall_core::http::cassette::Tape::Record),
        ..FetchOptions::default()
    };
    let recorded_at = options.sync_time;
    let connector_name = connector.name.clone();
    let plain_inputs = inputs.plain_values();
    let started = Instant::now();
    let summary = drive(
        Arc::new(connector),
        &stream,
        &inputs,
        options,
        reporter.clone(),
        &mut writer,
    )
    .await;
    reporter.finish();
    if let (Some(path), Some(rec)) = (&args.record, &recording) {
        let cassette = rollcall_core::http::cassette::Cassette {
            connector: connector_name,
            stream: stream.clone(),
            action: None,
            recorded_at,
            inputs: plain_inputs.into_iter().collect(),
            interactions: rec.interactions(),
        };
        write_cassette(path, &cassette)?;
    }
    let summary = summary?;
    eprintln!(
        "{} record{} in {:.2}s ({} page{}{}{}){}",
        summary.records,
        if summary.records == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        summary.pages,
        if summary.pages == 1 { "" } else { "s" },
        if summary.skipped > 0 {
            format!(", {} skipped", summary.skipped)
        } else {
            String::new()
        },
        if summary.passes > 1 {
            format!(", {} passes", summary.passes)
        } else {
            String::new()
        },
        if summary.complete {
            ""
        } else {
            "; the list was not read to the end"
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a cassette and says so on stderr.
pub fn write_cassette(
    path: &std::path::Path,
    cassette: &rollcall_core::http::cassette::Cassette,
) -> Result<()> {
    let text = serde_json::to_string_pretty(cassette)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("cannot write the cassette {}", path.display()))?;
    let n = cassette.interactions.len();
    eprintln!(
        "recorded {n} request{} to {} (secrets redacted)",
        if n == 1 { "" } else { "s" },
        path.display()
    );
    Ok(())
}

/// Runs a fetch into `writer`, printing skipped records to stderr.
pub async fn drive<W: Write>(
    connector: Arc<Connector>,
    stream: &str,
    inputs: &Inputs,
    options: FetchOptions,
    reporter: Arc<Reporter>,
    writer: &mut RecordWriter<W>,
) -> Result<FetchSummary> {
    let mut fetch =
        rollcall_core::fetch::start(connector, stream, inputs, options, reporter.clone())?;
    let mut broken_pipe = false;
    while let Some(item) = fetch.items.recv().await {
        match item {
            Item::Record(r) => {
                if let Err(e) = writer.write(&r) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        broken_pipe = true;
                        break;
                    }
                    return Err(e).context("cannot write the output");
                }
            }
            Item::Skipped(s) => {
                let key = s.key.map(|k| format!(" (id {k})")).unwrap_or_default();
                eprintln!("skipped: {}{key}: {}", s.position, s.reason);
            }
        }
    }
    drop(fetch.items);
    let summary = fetch
        .task
        .await
        .context("the fetch task stopped unexpectedly")??;
    if !broken_pipe {
        match writer.finish() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.context("cannot write the output")?,
        }
    }
    Ok(summary)
}

/// Where a command that talks to an app takes the connector's inputs from.
#[derive(clap::Args, Debug)]
pub struct InputArgs {
    /// A non-secret input, e.g. `--set base_url=https://...`. Repeatable.
    #[arg(long = "set", value_name = "INPUT=VALUE")]
    pub set: Vec<String>,
    /// Take a secret input from an environment variable, e.g. `--secret-env token=MIRO_TOKEN`. Repeatable.
    #[arg(long = "secret-env", value_name = "INPUT=ENV_VAR")]
    pub secret_env: Vec<String>,
    /// Take inputs from a stored credential (see `rollcall credentials add`); it must be for
    /// this connector. Precedence, lowest first: the credential, ROLLCALL_<CONNECTOR>_<INPUT>
    /// variables, `--secret-env`, `--set`.
    #[arg(long, value_name = "NAME")]
    pub credential: Option<String>,
}

impl InputArgs {
    /// The connector's checked inputs from these arguments, the environment and the vault.
    pub async fn resolve(
        &self,
        connector: &Connector,
        data_dir: Option<std::path::PathBuf>,
    ) -> Result<Inputs> {
        resolve_inputs(
            connector,
            &self.set,
            &self.secret_env,
            self.credential.as_deref(),
            data_dir,
        )
        .await
    }
}

/// The connector's checked inputs: a stored credential (when `credential` names one),
/// then the environment, `--secret-env` and `--set`, in increasing precedence.
pub async fn resolve_inputs(
    connector: &Connector,
    set: &[String],
    secret_env: &[String],
    credential: Option<&str>,
    data_dir: Option<std::path::PathBuf>,
) -> Result<Inputs> {
    let mut provided = ProvidedInputs::new();
    if let Some(name) = credential {
        let values = super::credentials::credential_inputs(data_dir, name, &connector.name).await?;
        for (input, value) in values {
            provided.provide(input, value.expose(), Origin::Vault(name.to_string()));
        }
    }
    let provided = gather_inputs_into(provided, connector, set, secret_env)?;
    Inputs::resolve(connector, provided).map_err(problems)
}

/// Inputs from the environment (`ROLLCALL_<CONNECTOR>_<INPUT>`), `--secret-env` and
/// `--set`, in increasing precedence, on top of values already offered in `p` (e.g. from
/// the vault).
pub fn gather_inputs_into(
    mut p: ProvidedInputs,
    connector: &Connector,
    set: &[String],
    secret_env: &[String],
) -> Result<ProvidedInputs> {
    for name in connector.inputs.keys() {
        let var = format!("ROLLCALL_{}_{}", env_key(&connector.name), env_key(name));
        if let Ok(v) = std::env::var(&var) {
            p.provide(name.clone(), v, Origin::Env(var));
        }
    }
    for pair in secret_env {
        let Some((input, var)) = pair.split_once('=') else {
            bail!(
                "`--secret-env {pair}` should be INPUT=ENV_VAR, e.g. `--secret-env token=MIRO_SCIM_TOKEN`"
            );
        };
        let value = std::env::var(var).map_err(|_| {
            anyhow!("the environment variable `{var}` (for the input `{input}`) is not set")
        })?;
        p.provide(input.trim(), value, Origin::Env(var.to_string()));
    }
    for pair in set {
        let Some((input, value)) = pair.split_once('=') else {
            bail!(
                "`--set {pair}` should be INPUT=VALUE, e.g. `--set base_url=https://miro.com/api/v1/scim`"
            );
        };
        p.provide(input.trim(), value, Origin::CommandLine);
    }
    Ok(p)
}

/// Input problems as one error, one problem a line.
pub fn problems(list: Vec<String>) -> anyhow::Error {
    if list.len() == 1 {
        anyhow!("{}", list[0])
    } else {
        anyhow!(
            "the inputs have {} problems:\n  - {}",
            list.len(),
            list.join("\n  - ")
        )
    }
}
