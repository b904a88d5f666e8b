//! `rollcall schema [connector|workflow|integration|report]`

use std::process::ExitCode;

use anyhow::Result;

/// Print the JSON Schema of a file format.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which format: the connector manifest (the default), the workflow file, the
    /// integration file or the report file.
    #[arg(value_enum, default_value_t = Kind::Connector)]
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// `schemas/connector.schema.json`.
    Connector,
    /// `schemas/workflow.schema.json`.
    Workflow,
    /// `schemas/integration.schema.json`.
    Integration,
    /// `schemas/report.schema.json`.
    Report,
}

/// The schema text exactly as committed in `schemas/connector.schema.json`.
pub fn schema_text() -> Result<String> {
    pretty(rollcall_core::manifest::manifest_schema())
}

/// The schema text exactly as committed in `schemas/workflow.schema.json`.
pub fn workflow_schema_text() -> Result<String> {
    pretty(rollcall_workflow::workflow_schema())
}

fn pretty(schema: &serde_json::Value) -> Result<String> {
    let mut s = serde_json::to_string_pretty(schema)?;
    s.push('\n');
    Ok(s)
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.kind {
        Kind::Connector => print!("{}", schema_text()?),
        Kind::Workflow => print!("{}", workflow_schema_text()?),
        Kind::Integration => print!(
            "{}",
            pretty(rollcall_core::integration::integration_schema())?
        ),
        Kind::Report => print!("{}", pretty(rollcall_serve::report::report_schema())?),
    }
    Ok(ExitCode::SUCCESS)
}
