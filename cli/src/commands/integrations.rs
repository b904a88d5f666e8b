//! `rollcall integrations apply|list|show|remove|mappings`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::registry::Registry;

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
    List,
    /// Show one integration.
    Show {
        /// Integration name.
        name: String,
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
    },
}

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let _ = (args.command, registry, data_dir);
    bail!("`rollcall integrations` is being written")
}
