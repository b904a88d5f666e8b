//! `rollcall saas-users list`: the accounts in each app instance.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::lists::{ListArgs, columns_for, print_rows};
use crate::output::Format;

/// SaaS accounts.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// List SaaS accounts. Connector fields are `fields.<id>` (e.g. `fields.role`).
    List {
        /// Only this app (e.g. Miro; case-insensitive).
        #[arg(long)]
        app: Option<String>,
        /// Only this instance (e.g. "Miro EU").
        #[arg(long)]
        instance: Option<String>,
        #[command(flatten)]
        list: ListArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Columns shown when none are asked for.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "app",
    "instance",
    "username",
    "user_type",
    "active",
    "roles",
    "last_activity_at",
    "present",
    "last_seen_at",
];

pub async fn run(args: Args, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    match args.command {
        Command::List {
            app,
            instance,
            list,
            format,
        } => {
            let mut query = list.query()?;
            query.app = app;
            query.instance = instance;
            let store = crate::datadir::open_store(data_dir).await?;
            let rows = store.list_saas_users(&query).await?;
            print_rows(
                &columns_for(&list.columns, DEFAULT_COLUMNS, &rows),
                &rows,
                format,
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
