//! `rollcall views save|show|list|remove`: named list views, the same objects the
//! web page will use.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use rollcall_store::{ListQuery, ViewTarget};

use super::lists::{ListArgs, columns_for, print_rows};
use crate::output::Format;

/// Saved list views.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Target {
    Users,
    SaasUsers,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Save (or replace) a view.
    Save {
        /// View name.
        name: String,
        /// What the view lists.
        #[arg(long, value_enum)]
        target: Target,
        /// Only this app (SaaS users).
        #[arg(long)]
        app: Option<String>,
        /// Only this instance (SaaS users).
        #[arg(long)]
        instance: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Run a saved view.
    Show {
        /// View name.
        name: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// List saved views.
    List,
    /// Remove a view.
    Remove {
        /// View name.
        name: String,
    },
}

pub async fn run(args: Args, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let store = crate::datadir::open_store(data_dir).await?;
    match args.command {
        Command::Save {
            name,
            target,
            app,
            instance,
            list,
        } => {
            let mut query = list.query()?;
            query.app = app;
            query.instance = instance;
            let target = match target {
                Target::Users => ViewTarget::Users,
                Target::SaasUsers => ViewTarget::SaasUsers,
            };
            // Run it once so a view with an unknown field is refused now, not later.
            let mut probe = query.clone();
            probe.limit = Some(1);
            match target {
                ViewTarget::Users => store.list_users(&probe).await.map(|_| ())?,
                ViewTarget::SaasUsers => store.list_saas_users(&probe).await.map(|_| ())?,
            }
            let created = store
                .put_view(&name, target, &serde_json::to_value(&query)?)
                .await?;
            println!(
                "{} view `{name}`",
                if matches!(created, rollcall_store::Created::Created) {
                    "created"
                } else {
                    "updated"
                }
            );
        }
        Command::Show { name, format } => {
            let views = store.list_views().await?;
            let Some(view) = views.into_iter().find(|v| v.name == name) else {
                bail!(
                    "there is no view named `{name}`; `rollcall views list` shows the saved ones"
                );
            };
            let query: ListQuery = serde_json::from_value(view.definition).map_err(|e| {
                anyhow!("the view `{name}` is stored in a form this rollcall cannot read ({e})")
            })?;
            let (rows, default) = match view.target {
                ViewTarget::Users => (
                    store.list_users(&query).await?,
                    super::users::DEFAULT_COLUMNS,
                ),
                ViewTarget::SaasUsers => (
                    store.list_saas_users(&query).await?,
                    super::saas_users::DEFAULT_COLUMNS,
                ),
            };
            let asked = query.columns.clone().unwrap_or_default();
            print_rows(&columns_for(&asked, default, &rows), &rows, format)?;
        }
        Command::List => {
            for v in store.list_views().await? {
                let target = serde_json::to_value(v.target)?
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                println!("{:<32} {target}", v.name);
            }
        }
        Command::Remove { name } => {
            if !store.remove_view(&name).await? {
                bail!("there is no view named `{name}`");
            }
            println!("removed view `{name}`");
        }
    }
    Ok(ExitCode::SUCCESS)
}
