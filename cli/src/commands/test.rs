//! `rollcall test CONNECTOR --cassette FILE [--expect FILE.jsonl] [--update]`: replays a
//! recorded run offline and compares the records with the expected output. A cassette
//! of an action call (`rollcall action ... --record`) replays the call, checks the
//! request it sends (URL and body) and compares its outcome.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rollcall_core::action::{ActionCall, ActionOptions, ActionOutcome, ActionRunner};
use rollcall_core::fetch::{self, FetchOptions};
use rollcall_core::http::cassette::{Cassette, Player, Tape, TapedAction};
use rollcall_core::observe::Silent;
use rollcall_core::{Inputs, Item, Origin, ProvidedInputs};
use serde_json::{Value, json};

use super::fetch::problems;
use crate::registry::Registry;

/// Replay a cassette and compare the records with the expected output.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connector name or manifest path.
    connector: String,
    /// The cassette (from `rollcall fetch --record FILE`).
    #[arg(long, value_name = "FILE")]
    cassette: PathBuf,
    /// The expected records, one JSON object a line (default: the cassette's name with
    /// `.expected.jsonl` instead of `.cassette.json`).
    #[arg(long, value_name = "FILE.jsonl")]
    expect: Option<PathBuf>,
    /// Write the records as the new expectation instead of comparing.
    #[arg(long)]
    update: bool,
}

/// The placeholder every secret input gets during a replay (the cassette has `***`).
const REPLAY_SECRET: &str = "rollcall-replay-secret";

pub async fn run(args: Args, registry: &Registry) -> Result<ExitCode> {
    let connector = registry.load(&args.connector).map_err(|e| e.into_error())?;
    let text = std::fs::read_to_string(&args.cassette)
        .with_context(|| format!("cannot read the cassette {}", args.cassette.display()))?;
    let cassette: Cassette = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a rollcall cassette (write one with `rollcall fetch CONNECTOR --record FILE`)",
            args.cassette.display()
        )
    })?;
    if cassette.connector != connector.name {
        bail!(
            "the cassette {} was recorded with the connector `{}`, not `{}`",
            args.cassette.display(),
            cassette.connector,
            connector.name
        );
    }
    let expect = args
        .expect
        .clone()
        .unwrap_or_else(|| default_expectation(&args.cassette));
    let mut provided = ProvidedInputs::new();
    for (k, v) in &cassette.inputs {
        provided.provide(k.clone(), v.clone(), Origin::Other("cassette".into()));
    }
    for (k, spec) in &connector.inputs {
        if spec.secret {
            provided.provide(k.clone(), REPLAY_SECRET, Origin::Other("replay".into()));
        }
    }
    let inputs = Inputs::resolve(&connector, provided).map_err(problems)?;
    let player = Arc::new(Player::new(cassette.interactions.clone()));
    let mut skipped = Vec::new();
    let got = match &cassette.action {
        Some(action) => {
            replay_action(connector, &inputs, &cassette, action, player.clone()).await?
        }
        None => replay_stream(connector, &inputs, &cassette, player.clone(), &mut skipped).await?,
    };
    let unplayed = player.unplayed();
    if !unplayed.is_empty() {
        // Pages fetched concurrently past the end of a list are requested (and
        // recorded) or not depending on timing; they never change the records.
        eprintln!(
            "note: {} recorded request{} not needed this time (pages fetched ahead concurrently): {}",
            unplayed.len(),
            if unplayed.len() == 1 {
                " was"
            } else {
                "s were"
            },
            unplayed.join(", ")
        );
    }
    for s in &skipped {
        eprintln!("skipped: {s}");
    }
    if args.update {
        let mut out = got.join("\n");
        out.push('\n');
        std::fs::write(&expect, out)
            .with_context(|| format!("cannot write {}", expect.display()))?;
        eprintln!(
            "wrote {} record{} to {}",
            got.len(),
            if got.len() == 1 { "" } else { "s" },
            expect.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let want_text = std::fs::read_to_string(&expect).with_context(|| {
        format!(
            "cannot read the expected records {} (write them with `--update`)",
            expect.display()
        )
    })?;
    let want: Vec<&str> = want_text.lines().filter(|l| !l.trim().is_empty()).collect();
    let differences = compare(&want, &got);
    if differences.is_empty() {
        println!(
            "ok: {} record{} from {} replayed request{} match {}",
            got.len(),
            if got.len() == 1 { "" } else { "s" },
            cassette.interactions.len(),
            if cassette.interactions.len() == 1 {
                ""
            } else {
                "s"
            },
            expect.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "the records differ from {} ({} difference{}):",
        expect.display(),
        differences.len(),
        if differences.len() == 1 { "" } else { "s" }
    );
    for d in differences.iter().take(20) {
        eprintln!("  {d}");
    }
    if differences.len() > 20 {
        eprintln!("  ... and {} more", differences.len() - 20);
    }
    eprintln!("if the new records are right, rerun with `--update`");
    Ok(ExitCode::from(1))
}

/// Replays a stream read: the records, one JSON object a line.
async fn replay_stream(
    connector: rollcall_core::Connector,
    inputs: &Inputs,
    cassette: &Cassette,
    player: Arc<Player>,
    skipped: &mut Vec<String>,
) -> Result<Vec<String>> {
    let options = FetchOptions {
        sync_time: cassette.recorded_at,
        tape: Some(Tape::Replay(player)),
        ..FetchOptions::default()
    };
    let mut f = fetch::start(
        Arc::new(connector),
        &cassette.stream,
        inputs,
        options,
        Arc::new(Silent),
    )?;
    let mut got = Vec::new();
    while let Some(item) = f.items.recv().await {
        match item {
            Item::Record(r) => got.push(serde_json::to_string(&r)?),
            Item::Skipped(s) => skipped.push(format!("{}: {}", s.position, s.reason)),
        }
    }
    f.task
        .await
        .context("the replay stopped unexpectedly")?
        .context("the replay failed")?;
    Ok(got)
}

/// Replays an action call: its outcome as one JSON object (status, and the record read
/// from the answer, the answer itself, or what "not found" said).
async fn replay_action(
    connector: rollcall_core::Connector,
    inputs: &Inputs,
    cassette: &Cassette,
    action: &TapedAction,
    player: Arc<Player>,
) -> Result<Vec<String>> {
    let options = ActionOptions {
        tape: Some(Tape::Replay(player)),
        sync_time: Some(cassette.recorded_at),
    };
    let runner =
        ActionRunner::with_options(Arc::new(connector), inputs, Arc::new(Silent), options)?;
    let call = ActionCall {
        params: action.params.clone(),
        settings: action.settings.clone(),
    };
    // Shown without its cause chain: the action's message already ends with the cause.
    let outcome = runner
        .call(&action.name, &call)
        .await
        .map_err(|e| anyhow::anyhow!("the replay failed: {e}"))?;
    let line = match outcome {
        ActionOutcome::Done {
            status,
            record: Some(r),
            ..
        } => json!({"action": action.name, "status": status, "record": r}),
        ActionOutcome::Done { status, body, .. } => {
            json!({"action": action.name, "status": status, "body": body})
        }
        ActionOutcome::NotFound { status, detail } => {
            json!({"action": action.name, "status": status, "not_found": detail})
        }
    };
    Ok(vec![serde_json::to_string(&line)?])
}

fn default_expectation(cassette: &Path) -> PathBuf {
    let name = cassette
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("cassette.json");
    let stem = name
        .strip_suffix(".cassette.json")
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(name);
    cassette.with_file_name(format!("{stem}.expected.jsonl"))
}

/// The differences between expected and produced records, field by field.
fn compare(want: &[&str], got: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..want.len().max(got.len()) {
        let n = i + 1;
        match (want.get(i), got.get(i)) {
            (Some(w), Some(g)) => {
                let (Ok(Value::Object(w)), Ok(Value::Object(g))) = (
                    serde_json::from_str::<Value>(w),
                    serde_json::from_str::<Value>(g),
                ) else {
                    if w != g {
                        out.push(format!("record {n}: expected {w}, got {g}"));
                    }
                    continue;
                };
                for (k, wv) in &w {
                    match g.get(k) {
                        Some(gv) if gv == wv => {}
                        Some(gv) => {
                            out.push(format!("record {n}, field `{k}`: expected {wv}, got {gv}"))
                        }
                        None => out.push(format!("record {n}: the field `{k}` is gone")),
                    }
                }
                for k in g.keys() {
                    if !w.contains_key(k) {
                        out.push(format!("record {n}: a new field `{k}` = {}", g[k]));
                    }
                }
            }
            (Some(w), None) => out.push(format!("record {n} is missing: {w}")),
            (None, Some(g)) => out.push(format!("record {n} is new: {g}")),
            (None, None) => {}
        }
    }
    out
}
