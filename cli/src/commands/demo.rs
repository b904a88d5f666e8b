//! `rollcall demo`: the built-in Miro connector against an in-process Miro-like
//! SCIM server on 127.0.0.1. No network, no configuration, no data directory.

use std::collections::BTreeMap;
use std::io::BufWriter;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use rollcall_core::{FetchOptions, Inputs, Item, Origin, ProvidedInputs};
use rollcall_testserver::{ScimServer, ServerConfig};
use serde_json::Value;

use crate::output::{Format, RecordWriter, text};
use crate::progress::Reporter;
use crate::registry::Registry;

/// Run the demo.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many users the demo server holds.
    #[arg(long, default_value_t = 300)]
    users: usize,
    /// How many rows of the table to print.
    #[arg(long, default_value_t = 15)]
    rows: usize,
    /// Print each request the connector makes.
    #[arg(long)]
    explain: bool,
}

pub async fn run(args: Args, registry: &Registry) -> Result<ExitCode> {
    let server = ScimServer::start(ServerConfig {
        users: args.users,
        ..ServerConfig::default()
    })
    .await
    .context("cannot start the demo SCIM server on 127.0.0.1")?;
    let connector = Arc::new(registry.load("miro").map_err(|e| e.into_error())?);
    println!(
        "rollcall demo: a Miro-like SCIM server with {} users is listening on {}",
        args.users,
        server.scim_base_url()
    );
    println!(
        "Reading it with the `{}` connector ({})…\n",
        connector.name, connector.origin
    );

    let mut provided = ProvidedInputs::new();
    provided.provide(
        "base_url",
        server.scim_base_url(),
        Origin::Other("demo".into()),
    );
    provided.provide(
        "token",
        server.handle().config().token.clone(),
        Origin::Other("demo".into()),
    );
    let inputs = Inputs::resolve(&connector, provided).map_err(crate::commands::fetch::problems)?;

    let reporter = Arc::new(Reporter::new(args.explain, false));
    let started = Instant::now();
    let mut fetch = rollcall_core::fetch::start(
        connector,
        "users",
        &inputs,
        FetchOptions::default(),
        reporter.clone(),
    )?;
    let mut table = RecordWriter::new(BufWriter::new(std::io::stdout().lock()), Format::Table)
        .with_columns(&[
            "username",
            "display_name",
            "user_type",
            "role",
            "active",
            "department",
        ]);
    let mut shown = 0;
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let (mut active, mut inactive, mut admins) = (0u64, 0u64, 0u64);
    let mut skipped = Vec::new();
    while let Some(item) = fetch.items.recv().await {
        match item {
            Item::Record(r) => {
                if shown < args.rows {
                    table.write(&r)?;
                    shown += 1;
                }
                let user_type = r
                    .get("user_type")
                    .map(|v| text(v, ","))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "(none)".into());
                *by_type.entry(user_type).or_default() += 1;
                match r.get("active") {
                    Some(Value::Bool(true)) => active += 1,
                    _ => inactive += 1,
                }
                if r.get("role").and_then(Value::as_str) == Some("ORGANIZATION_INTERNAL_ADMIN") {
                    admins += 1;
                }
            }
            Item::Skipped(s) => skipped.push(s),
        }
    }
    table.finish()?;
    drop(table);
    let summary = fetch
        .task
        .await
        .context("the fetch task stopped unexpectedly")??;
    reporter.finish();
    server.shutdown().await;

    if summary.records as usize > shown {
        println!("… and {} more\n", summary.records as usize - shown);
    }
    println!("Summary");
    println!(
        "  users read      {} in {:.2}s ({} pages)",
        summary.records,
        started.elapsed().as_secs_f64(),
        summary.pages
    );
    println!("  active          {active}");
    println!("  deactivated     {inactive}");
    println!("  org admins      {admins}");
    println!("  licences (user type):");
    for (t, n) in &by_type {
        println!("    {t:<18} {n}");
    }
    if !skipped.is_empty() {
        println!("  skipped         {}", skipped.len());
        for s in &skipped {
            println!("    {}: {}", s.position, s.reason);
        }
    }
    println!(
        "\nTry it on your own tenant: ROLLCALL_MIRO_TOKEN=... rollcall fetch miro --format table"
    );
    Ok(ExitCode::SUCCESS)
}
