//! `rollcall validate PATH...`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::registry::{Location, Registry};

/// Check connector manifests.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Manifest files or connector names.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

pub fn run(args: Args, registry: &Registry) -> Result<ExitCode> {
    let mut failed = 0;
    for spec in &args.paths {
        let loc = if PathBuf::from(spec).is_file() {
            Location::File(PathBuf::from(spec))
        } else {
            match registry.locate(spec) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e}");
                    failed += 1;
                    continue;
                }
            }
        };
        match registry.load_at(&loc) {
            Ok(c) => {
                let streams: Vec<String> = c
                    .streams
                    .values()
                    .map(|s| format!("{} ({} fields)", s.name, s.fields.fields.len()))
                    .collect();
                let actions = if c.actions.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", actions: {}",
                        c.actions.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                println!(
                    "ok: {} — connector `{}` {}, streams: {}{actions}",
                    loc.describe(),
                    c.name,
                    c.version,
                    streams.join(", ")
                );
            }
            Err(crate::registry::LoadFailure::Manifest(e)) => {
                eprintln!("{}", e.render());
                failed += 1;
            }
            Err(crate::registry::LoadFailure::Other(e)) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
