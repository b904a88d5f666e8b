//! `rollcall action CONNECTOR [ACTION]`: run one of a connector's actions by hand
//! (or, with `--dry-run`, print the request it would send), or list its actions.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use rollcall_core::Connector;
use rollcall_core::action::{ActionCall, ActionOptions, ActionOutcome, ActionRunner};
use rollcall_core::http::cassette::{Cassette, Recording, Tape, TapedAction};
use serde_json::Value;

use super::fetch::resolve_inputs;
use crate::progress::Reporter;
use crate::registry::Registry;

/// Exit status when the API says the object does not exist.
const NOT_FOUND: u8 = 3;

/// Run a connector action (e.g. `get_user`, `deactivate_user`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connector name or manifest path.
    connector: String,
    /// The action; without it, the connector's actions are listed.
    action: Option<String>,
    /// A param or setting of the action, or a non-secret input, e.g. `--set id=3074...`.
    /// Setting values that read as JSON (`false`, `3`, `"False"`) are taken as JSON. Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Take a secret input from an environment variable, e.g. `--secret-env token=MIRO_TOKEN`. Repeatable.
    #[arg(long = "secret-env", value_name = "INPUT=ENV_VAR")]
    secret_env: Vec<String>,
    /// Take inputs from a stored credential for this connector.
    #[arg(long, value_name = "NAME")]
    credential: Option<String>,
    /// Print the request that would be sent (secrets redacted) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print each request (secrets redacted) and its status to stderr.
    #[arg(long)]
    explain: bool,
    /// Write the HTTP exchange to a cassette file (JSON, secrets redacted), which
    /// `rollcall test` replays offline to check the request and the outcome.
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    record: Option<std::path::PathBuf>,
}

pub async fn run(
    args: Args,
    registry: &Registry,
    data_dir: Option<std::path::PathBuf>,
) -> Result<ExitCode> {
    let connector = registry.load(&args.connector).map_err(|e| e.into_error())?;
    let Some(action_name) = args.action.clone() else {
        list(&connector);
        return Ok(ExitCode::SUCCESS);
    };
    let Some(action) = connector.actions.get(&action_name) else {
        let names: Vec<&str> = connector.actions.keys().map(String::as_str).collect();
        let hint = rollcall_source::suggest(&action_name, names.iter().copied())
            .map(|s| format!(" Did you mean `{s}`?"))
            .unwrap_or_default();
        bail!(
            "the connector `{}` has no action `{action_name}`.{hint} Its actions: {}",
            connector.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    // `--set` carries the action's params and settings as well as inputs: the names
    // cannot clash (the manifest check forbids it).
    let mut call = ActionCall::new();
    let mut input_sets = Vec::new();
    for pair in &args.set {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("`--set {pair}` should be NAME=VALUE, e.g. `--set id=3074457365265951581`");
        };
        let name = name.trim();
        if action.params.contains_key(name) {
            call.params.insert(name.to_string(), value.to_string());
        } else if action.settings.contains_key(name) {
            let v = serde_json::from_str::<Value>(value)
                .ok()
                .filter(|v| !v.is_object() && !v.is_array())
                .unwrap_or_else(|| Value::String(value.to_string()));
            call.settings.insert(name.to_string(), v);
        } else {
            input_sets.push(pair.clone());
        }
    }
    let inputs = resolve_inputs(
        &connector,
        &input_sets,
        &args.secret_env,
        args.credential.as_deref(),
        data_dir,
    )
    .await?;
    let reporter = Arc::new(Reporter::new(args.explain, true));
    let connector = Arc::new(connector);
    let recording = args.record.as_ref().map(|_| Arc::new(Recording::new()));
    let options = ActionOptions {
        tape: recording.clone().map(Tape::Record),
        sync_time: None,
    };
    let recorded_at = chrono::Utc::now();
    let runner = ActionRunner::with_options(connector.clone(), &inputs, reporter.clone(), options)?;
    if args.dry_run {
        let plan = runner.plan(&action_name, &call)?;
        println!("{} {}", plan.method, plan.url);
        for (k, v) in &plan.headers {
            println!("{k}: {v}");
        }
        if let Some(body) = &plan.body {
            println!();
            match serde_json::from_str::<Value>(body) {
                Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
                Err(_) => println!("{body}"),
            }
        }
        eprintln!("dry run: nothing was sent");
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = runner.call(&action_name, &call).await;
    reporter.finish();
    if let (Some(path), Some(rec)) = (&args.record, &recording) {
        let cassette = Cassette {
            connector: connector.name.clone(),
            stream: String::new(),
            action: Some(TapedAction {
                name: action_name.clone(),
                params: call.params.clone(),
                settings: call.settings.clone(),
            }),
            recorded_at,
            inputs: inputs.plain_values().into_iter().collect(),
            interactions: rec.interactions(),
        };
        super::fetch::write_cassette(path, &cassette)?;
    }
    match outcome? {
        ActionOutcome::Done {
            status,
            record,
            body,
        } => {
            match (record, body) {
                (Some(r), _) => println!("{}", serde_json::to_string(&r)?),
                (None, Value::Null) => {}
                (None, b) => println!("{}", serde_json::to_string(&b)?),
            }
            eprintln!("{action_name}: done (HTTP {status})");
            Ok(ExitCode::SUCCESS)
        }
        ActionOutcome::NotFound { status, detail } => {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            };
            eprintln!("{action_name}: not found (HTTP {status}{detail})");
            Ok(ExitCode::from(NOT_FOUND))
        }
    }
}

fn list(connector: &Connector) {
    if connector.actions.is_empty() {
        println!("the connector `{}` declares no actions", connector.name);
        return;
    }
    for (name, a) in &connector.actions {
        let params: Vec<String> = a.params.keys().map(|p| format!("--set {p}=...")).collect();
        println!(
            "{name:<20} {:<7} {}",
            rollcall_core::compile::action::method_name(a.method),
            params.join(" ")
        );
        if let Some(d) = &a.description {
            println!("    {}", d.trim());
        }
    }
}
