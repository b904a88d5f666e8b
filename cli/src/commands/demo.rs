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
    // The REST members list (last activity) of the same server, joined by the sync.
    let config = server.handle().config().clone();
    provided.provide("org_id", config.org_id, Origin::Other("demo".into()));
    provided.provide(
        "rest_token",
        config.rest_token,
        Origin::Other("demo".into()),
    );
    provided.provide(
        "rest_base_url",
        server.origin(),
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

    source_of_truth(&server, registry, &inputs, args.rows).await?;
    server.shutdown().await;

    println!(
        "\nTry it on your own tenant: ROLLCALL_MIRO_TOKEN=... rollcall fetch miro --format table"
    );
    Ok(ExitCode::SUCCESS)
}

/// The integration the demo applies (the same file format as `rollcall integrations apply`).
const DEMO_INTEGRATION: &str = r#"name: Miro Users
connector: miro
credential: miro-scim
users: user-plus-saas-user
saas: { app: Miro, instance: Miro EU }
preference: update-only
role: Employee
sync_key: username
mappings:
  smart: true
  fields:
    - { from: id, to: miro_id, label: "Miro ID", create: true }
schedule: daily at 02:00
"#;

/// Part two: people imported from an "HR export", the Miro integration applied, a run
/// into a throwaway store, the summary and a list view.
async fn source_of_truth(
    server: &ScimServer,
    registry: &Registry,
    inputs: &Inputs,
    rows: usize,
) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rollcall-demo-{}", std::process::id()));
    let result = source_of_truth_in(&dir, server, registry, inputs, rows).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn source_of_truth_in(
    dir: &std::path::Path,
    server: &ScimServer,
    registry: &Registry,
    inputs: &Inputs,
    rows: usize,
) -> Result<()> {
    println!(
        "\nThe source of truth (a throwaway store in {})",
        dir.display()
    );
    let store = rollcall_store::Store::open(dir)
        .await
        .context("cannot create the demo store")?;

    // Nine in ten Miro users are in the HR export; the rest will be skipped (update-only).
    let people: Vec<rollcall_store::NewUser> = server
        .handle()
        .users()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 9)
        .filter_map(|(_, u)| {
            let username = u.get("userName")?.as_str()?.to_string();
            Some(rollcall_store::NewUser {
                email: Some(username.clone()),
                username,
                first_name: u
                    .pointer("/name/givenName")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                last_name: u
                    .pointer("/name/familyName")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                role: Some("Employee".into()),
                custom: Default::default(),
                source: "csv:hr-export.csv".into(),
            })
        })
        .collect();
    let imported = store
        .import_users(people, rollcall_store::UserKey::Username)
        .await?;
    println!(
        "  1. imported {} people from the HR export",
        imported.created
    );

    let connector = Arc::new(registry.load("miro").map_err(|e| e.into_error())?);
    let find = |name: &str| (name == "miro").then(|| connector.clone());
    let integration = rollcall_core::integration::load_integration(
        rollcall_source::SourceFile::new("demo/miro-users.yaml", DEMO_INTEGRATION),
        &find,
    )
    .map_err(|e| anyhow::anyhow!("the demo integration does not load:\n{}", e.render()))?;
    store
        .put_integration(&integration.name, &integration.to_json())
        .await?;
    println!(
        "  2. applied the integration `{}` (update-only, sync key username, Miro ID as a custom field)",
        integration.name
    );

    for step in [3, 4] {
        let options = rollcall_sync::RunOptions {
            dry_run: false,
            sync_time: chrono::Utc::now(),
        };
        let silent = Arc::new(rollcall_core::observe::Silent);
        let report = rollcall_sync::run(
            &store,
            &integration,
            connector.clone(),
            inputs,
            options,
            silent,
        )
        .await?;
        let c = &report.summary.counts;
        if step == 3 {
            println!(
                "  3. run {}: fetched {}, created {}, updated {}, unchanged {}, skipped {}, failed {}",
                report.summary.id,
                c.fetched,
                c.created,
                c.updated,
                c.unchanged,
                c.skipped,
                c.failed
            );
            if let Some(e) = store.run_errors(report.summary.id).await?.first() {
                println!(
                    "     each skipped record is logged with why, e.g. \"{}\"",
                    e.reason
                );
            }
        } else {
            println!(
                "  4. run {} again with unchanged data: {} unchanged, {} updated, {} created",
                report.summary.id, c.unchanged, c.updated, c.created
            );
        }
    }

    println!("  5. a list view: deactivated Miro accounts\n");
    let query = rollcall_store::ListQuery {
        filters: vec![rollcall_store::Filter {
            field: "active".into(),
            op: rollcall_store::FilterOp::Eq,
            value: "false".into(),
            or_empty: false,
        }],
        sort: vec![("username".into(), false)],
        limit: Some(rows as u64),
        app: Some("Miro".into()),
        ..Default::default()
    };
    let list = store.list_saas_users(&query).await?;
    let columns: Vec<String> = ["username", "user_type", "active", "roles", "last_seen_at"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    super::lists::print_rows(&columns, &list, Format::Table)?;
    plan_workflow(&store, &integration, connector.clone()).await?;
    store.close().await;
    println!(
        "\nTo look at your own store in a browser: `rollcall serve` (then open http://127.0.0.1:8080)."
    );
    Ok(())
}

/// The workflow the demo plans (the same file format as `rollcall workflows apply`).
const DEMO_WORKFLOW: &str = r#"name: Deactivate inactive Miro users
integration: Miro Users
schedule: daily at 06:00
mode: plan
begin:
  rules:
    all:
      - { field: active, equals: true }
      - { field: last_activity_at, older_than: 365d, never_active: skip }
  exempt: [ "admin@example.com" ]
blocks:
  - role_retrieval: { deactivate_missing: true }
  - deactivate: {}
guard: { max_actions: "20%" }
"#;

/// Part three: a workflow planned (not applied) over the synced accounts, whose last
/// activity came from the members list.
async fn plan_workflow(
    store: &rollcall_store::Store,
    integration: &rollcall_core::integration::Integration,
    connector: Arc<rollcall_core::Connector>,
) -> Result<()> {
    let target = rollcall_workflow::Target {
        integration: integration.clone(),
        connector,
    };
    let workflow = rollcall_workflow::load_workflow(
        rollcall_source::SourceFile::new("demo/deactivate-inactive.yaml", DEMO_WORKFLOW),
        &|name| {
            if name == target.integration.name {
                Ok(target.clone())
            } else {
                Err((format!("there is no integration named `{name}`"), None))
            }
        },
    )
    .map_err(|e| anyhow::anyhow!("the demo workflow does not load:\n{}", e.render()))?;
    let shown = ShownUsers::default();
    let report = rollcall_workflow::execute(
        store,
        &workflow,
        None,
        rollcall_workflow::ExecuteOptions::new(
            rollcall_workflow::Mode::Plan,
            rollcall_workflow::Trigger::Cli,
        ),
        &shown,
    )
    .await?;
    println!(
        "\n  6. planned the workflow `{}`: active, no activity for 365 days, except admin@example.com",
        workflow.name
    );
    println!(
        "     {} of {} accounts match (guard: at most {}); each would be looked up, then deactivated:",
        report.selected(),
        report.accounts,
        report.limit.unwrap_or(report.accounts)
    );
    let users = shown.0.lock().map(|u| u.clone()).unwrap_or_default();
    for (username, rule) in &users {
        println!("       {username:<34} {rule}");
    }
    if report.selected() > users.len() as u64 {
        println!(
            "       … and {} more",
            report.selected() - users.len() as u64
        );
    }
    if let Some(why) = &report.aborted {
        println!("     the guard stopped it: {why}");
    }
    println!(
        "     nothing was changed (plan); the plan is in the audit log as run {}",
        report.run_id
    );
    Ok(())
}

/// The first few planned accounts, for the demo's output.
#[derive(Default)]
struct ShownUsers(std::sync::Mutex<Vec<(String, String)>>);

impl rollcall_workflow::Progress for ShownUsers {
    fn user(&self, outcome: &rollcall_workflow::UserOutcome) {
        if outcome.exempt.is_some() {
            return;
        }
        if let Ok(mut users) = self.0.lock()
            && users.len() < 5
        {
            users.push((
                outcome.username.clone().unwrap_or_default(),
                outcome.rule.clone(),
            ));
        }
    }
}
