//! `rollcall init connector NAME [--scim]`: a commented starting manifest, with the
//! schema modeline and the schema file next to it, so editors complete and check it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

/// Start a new file.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// A connector manifest `NAME.yaml` (and `connector.schema.json` for editors).
    Connector {
        /// The connector's name: lowercase letters, digits, `-` and `_`.
        name: String,
        /// Start from a SCIM 2.0 connector (users, paging, get and deactivate actions).
        #[arg(long)]
        scim: bool,
        /// Where to write the files.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing manifest.
        #[arg(long)]
        force: bool,
    },
}

const SCIM: &str = include_str!("init/scim.yaml");
const REST: &str = include_str!("init/rest.yaml");

pub fn run(args: Args) -> Result<ExitCode> {
    let What::Connector {
        name,
        scim,
        dir,
        force,
    } = args.what;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        bail!(
            "the connector name `{name}` may only use lowercase letters, digits, `-` and `_` (e.g. `acme` or `acme-scim`)"
        );
    }
    let path = dir.join(format!("{name}.yaml"));
    if path.exists() && !force {
        bail!(
            "{} exists already; pass --force to overwrite it",
            path.display()
        );
    }
    let text = if scim { SCIM } else { REST }.replace("NAME", &name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    let schema = dir.join("connector.schema.json");
    if !schema.exists() {
        std::fs::write(&schema, super::schema::schema_text()?)
            .with_context(|| format!("cannot write {}", schema.display()))?;
    }
    println!(
        "wrote {} (and {} for editors)",
        path.display(),
        schema.display()
    );
    println!(
        "next: fill in the TODOs, then `rollcall validate {}`",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
