//! `rollcall plugins list`, and the plugin host of an invocation.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use rollcall_plugins::{Host, HostOptions, Kind};

/// Plugins.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Every plugin in the plugin directories: version, functions, sha256, and whether it loads.
    List,
}

/// The plugin host: `--plugins-dir` (or ROLLCALL_PLUGINS_DIR) first, then the data
/// directory's `plugins/`.
pub fn host(flag: Option<PathBuf>, data_dir: Option<PathBuf>, timeout: Duration) -> Host {
    let mut dirs = Vec::new();
    dirs.extend(flag);
    if let Ok(d) = crate::datadir::resolve(data_dir) {
        dirs.push(d.join("plugins"));
    }
    Host::new(HostOptions { dirs, timeout })
}

pub fn run(args: Args, host: &Host) -> Result<ExitCode> {
    match args.command {
        Sub::List => list(host),
    }
}

fn list(host: &Host) -> Result<ExitCode> {
    let all = host.list();
    let dirs = host
        .dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if all.is_empty() {
        println!("no plugins found (looked in: {dirs})");
        return Ok(ExitCode::SUCCESS);
    }
    for p in all {
        let kind = match p.found.kind {
            Kind::Library => "dynamic library",
            Kind::Executable => "subprocess",
        };
        let version = p.loaded.as_ref().map(|d| d.version.as_str()).unwrap_or("-");
        println!(
            "{} {version} ({kind}) {}",
            p.found.name,
            p.found.file.display()
        );
        match &p.sha256 {
            Ok(h) => println!("  sha256: {h}"),
            Err(e) => println!("  sha256: unknown ({e})"),
        }
        match &p.loaded {
            Ok(d) => {
                println!("  loads: yes");
                for c in &d.capabilities {
                    let kind = serde_json::to_value(c.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let about = c
                        .description
                        .as_deref()
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default();
                    println!("  {kind} `{}`{about}", c.function);
                }
            }
            Err(e) => println!("  loads: no: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
