//! `rollcall connectors`

use std::process::ExitCode;

use anyhow::Result;

use crate::registry::Registry;

/// List connectors.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args, registry: &Registry) -> Result<ExitCode> {
    let all = registry.list()?;
    println!("{:<16} {:<10} {:<24} SOURCE", "NAME", "VERSION", "STREAMS");
    for (name, loc) in all {
        match registry.load_at(&loc) {
            Ok(c) => {
                let streams = c.streams.keys().cloned().collect::<Vec<_>>().join(",");
                println!(
                    "{:<16} {:<10} {:<24} {}",
                    name,
                    c.version,
                    streams,
                    loc.describe()
                );
            }
            Err(_) => println!(
                "{:<16} {:<10} {:<24} {} (does not load: run `rollcall validate`)",
                name,
                "-",
                "-",
                loc.describe()
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
