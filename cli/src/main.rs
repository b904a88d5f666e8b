//! `rollcall`: the command line. Thin glue: it parses arguments, reads the
//! environment and the terminal, and calls `rollcall-core`.

mod commands;
mod datadir;
mod errors;
mod jobs;
mod not_found;
mod output;
mod prepare;
mod progress;
mod registry;
mod signals;
mod unlocked;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

/// One place for the people in your SaaS apps.
#[derive(Parser, Debug)]
#[command(name = "rollcall", version, about, max_term_width = 100)]
struct Cli {
    /// Extra directory of connector manifests (a manifest there overrides a built-in one of the same name).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_CONNECTORS_DIR",
        value_name = "DIR"
    )]
    connectors_dir: Option<std::path::PathBuf>,
    /// Extra directory of plugins, searched before the data directory's `plugins/`.
    #[arg(long, global = true, env = "ROLLCALL_PLUGINS_DIR", value_name = "DIR")]
    plugins_dir: Option<std::path::PathBuf>,
    /// The longest a plugin may take to answer one call, e.g. `10s` (a subprocess is then
    /// stopped; a library call is left running and the plugin fails until it returns).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_PLUGIN_TIMEOUT",
        default_value = "10s",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    plugin_timeout: std::time::Duration,
    /// Log level for diagnostics on stderr (error, warn, info, debug, trace; default warn,
    /// info for `daemon`).
    #[arg(long, global = true, env = "ROLLCALL_LOG", value_name = "LEVEL")]
    log: Option<String>,
    /// Where rollcall keeps its database and vault key (default: ROLLCALL_HOME, else the XDG data directory).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check connector manifests and report every problem with its location.
    Validate(commands::validate::Args),
    /// Print the JSON Schema of the connector manifest format.
    Schema(commands::schema::Args),
    /// List the available connectors (built-in and from the connectors directory).
    Connectors(commands::connectors::Args),
    /// Read records from an app and print them.
    Fetch(commands::fetch::Args),
    /// Run the Miro connector against a built-in Miro-like server: no network, no setup.
    Demo(commands::demo::Args),
    /// Store, list and remove encrypted credentials.
    Credentials(commands::credentials::Args),
    /// Create, list, show and remove integrations (connector + credential + mappings).
    Integrations(commands::integrations::Args),
    /// Sync an integration into the store (fetch, map, write; all or nothing).
    Run(commands::run::Args),
    /// The people: import from CSV, list.
    Users(commands::users::Args),
    /// The accounts in each app instance.
    SaasUsers(commands::saas_users::Args),
    /// Saved list views.
    Views(commands::views::Args),
    /// Run history with counts.
    Runs(commands::runs::RunsArgs),
    /// The skipped and failed records of a run, and why.
    Errors(commands::runs::ErrorsArgs),
    /// Plugins: what is installed, its version and functions, and whether it loads.
    Plugins(commands::plugins::Args),
    /// Run a connector action by hand (e.g. get_user, deactivate_user), or list them.
    Action(commands::action::Args),
    /// Replay a recorded cassette offline and compare the records with the expected output.
    Test(commands::test::Args),
    /// Make the smallest read that proves a connector's inputs and credentials work.
    Check(commands::check::Args),
    /// Print what a connector does: inputs, requests, paging, fields, actions.
    Explain(commands::explain::Args),
    /// Start a new connector manifest from a commented template.
    Init(commands::init::Args),
    /// The local web page: dashboard, integrations with RUN, list views, reports.
    Serve(commands::serve::Args),
    /// Report definitions: apply, list, remove, run (csv, json, md, html).
    Report(commands::report::Args),
    /// Licence prices per app and user type (for the dashboard's cost of inactive seats).
    Prices(commands::prices::Args),
    /// Workflows: apply, validate, list, show, remove, run (plan, or --apply).
    Workflows(commands::workflows::Args),
    /// The workflow audit log: every planned and taken action.
    Audit(commands::audit::Args),
    /// Run integrations on their schedules until SIGINT/SIGTERM (`--once`: what is due now).
    Daemon(commands::daemon::Args),
    /// Scheduled jobs with their schedule, last run and next run.
    Schedule(commands::schedule::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let daemon = matches!(cli.command, Command::Daemon(_));
    init_logging(
        cli.log
            .as_deref()
            .unwrap_or(if daemon { "info" } else { "warn" }),
        daemon,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let plugins = Arc::new(commands::plugins::host(
        cli.plugins_dir.clone(),
        cli.data_dir.clone(),
        cli.plugin_timeout,
    ));
    let registry =
        registry::Registry::new(cli.connectors_dir.clone()).with_plugins(plugins.clone());
    let data_dir = cli.data_dir.clone();
    let result = runtime.block_on(async {
        match cli.command {
            Command::Validate(a) => commands::validate::run(a, &registry),
            Command::Schema(a) => commands::schema::run(a),
            Command::Connectors(a) => commands::connectors::run(a, &registry),
            Command::Fetch(a) => commands::fetch::run(a, &registry, data_dir).await,
            Command::Demo(a) => commands::demo::run(a, &registry).await,
            Command::Credentials(a) => commands::credentials::run(a, &registry, data_dir).await,
            Command::Integrations(a) => commands::integrations::run(a, &registry, data_dir).await,
            Command::Run(a) => commands::run::run(a, &registry, data_dir).await,
            Command::Users(a) => commands::users::run(a, data_dir).await,
            Command::SaasUsers(a) => commands::saas_users::run(a, data_dir).await,
            Command::Views(a) => commands::views::run(a, data_dir).await,
            Command::Runs(a) => commands::runs::runs(a, data_dir).await,
            Command::Errors(a) => commands::runs::errors(a, data_dir).await,
            Command::Plugins(a) => commands::plugins::run(a, &plugins),
            Command::Action(a) => commands::action::run(a, &registry, data_dir).await,
            Command::Test(a) => commands::test::run(a, &registry).await,
            Command::Check(a) => commands::check::run(a, &registry, data_dir).await,
            Command::Explain(a) => commands::explain::run(a, &registry),
            Command::Init(a) => commands::init::run(a),
            Command::Serve(a) => commands::serve::run(a, &registry, data_dir).await,
            Command::Report(a) => commands::report::run(a, data_dir).await,
            Command::Prices(a) => commands::prices::run(a, data_dir).await,
            Command::Workflows(a) => commands::workflows::run(a, &registry, data_dir).await,
            Command::Audit(a) => commands::audit::run(a, data_dir).await,
            Command::Daemon(a) => commands::daemon::run(a, &registry, data_dir).await,
            Command::Schedule(a) => commands::schedule::run(a, &registry, data_dir).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", errors::describe(&e));
            ExitCode::from(1)
        }
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    rollcall_core::duration::HumanDuration::parse(text).map(|d| d.get())
}

fn init_logging(level: &str, with_time: bool) {
    // The HTTP stack's own logs stay at warn whatever the level: at debug and trace
    // they print URLs, and a connector with query-parameter auth carries its key there.
    let directives = format!("{level},hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,rustls=warn");
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A long-running daemon's lines carry their time; one-shot commands stay terse.
    let _ = if with_time {
        logs.try_init()
    } else {
        logs.without_time().try_init()
    };
}
