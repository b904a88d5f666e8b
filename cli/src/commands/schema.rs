//! `rollcall schema`

use std::process::ExitCode;

use anyhow::Result;

/// Print the manifest JSON Schema.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// The schema text exactly as committed in `schemas/connector.schema.json`.
pub fn schema_text() -> Result<String> {
    let mut s = serde_json::to_string_pretty(rollcall_core::manifest::manifest_schema())?;
    s.push('\n');
    Ok(s)
}

pub fn run(_args: Args) -> Result<ExitCode> {
    print!("{}", schema_text()?);
    Ok(ExitCode::SUCCESS)
}
