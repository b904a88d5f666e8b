//! `rollcall check CONNECTOR ...`: the smallest read that proves the inputs and the
//! credentials work (the first page of the first stream, one record kept), and a plain
//! explanation when they do not.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use rollcall_core::fetch::{self, FetchOptions};
use rollcall_core::observe::Silent;
use rollcall_core::{FetchError, Inputs, Item, Origin, ProvidedInputs};

use super::fetch::{gather_inputs_into, problems};
use crate::registry::Registry;

/// Check a connector's inputs and credentials with one small read.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connector name or manifest path.
    connector: String,
    /// Stream to read (default: the first).
    #[arg(long)]
    stream: Option<String>,
    /// A non-secret input, e.g. `--set base_url=https://...`. Repeatable.
    #[arg(long = "set", value_name = "INPUT=VALUE")]
    set: Vec<String>,
    /// Take a secret input from an environment variable. Repeatable.
    #[arg(long = "secret-env", value_name = "INPUT=ENV_VAR")]
    secret_env: Vec<String>,
    /// Take inputs from a stored credential for this connector.
    #[arg(long, value_name = "NAME")]
    credential: Option<String>,
}

pub async fn run(
    args: Args,
    registry: &Registry,
    data_dir: Option<std::path::PathBuf>,
) -> Result<ExitCode> {
    let connector = registry.load(&args.connector).map_err(|e| e.into_error())?;
    let mut provided = ProvidedInputs::new();
    if let Some(name) = &args.credential {
        let values = super::credentials::credential_inputs(data_dir, name, &connector.name).await?;
        for (input, value) in values {
            provided.provide(input, value.expose(), Origin::Vault(name.clone()));
        }
    }
    let provided = gather_inputs_into(provided, &connector, &args.set, &args.secret_env)?;
    let inputs = Inputs::resolve(&connector, provided).map_err(problems)?;
    let stream = match &args.stream {
        Some(s) => s.clone(),
        None => connector.streams.keys().next().cloned().unwrap_or_default(),
    };
    let name = connector.name.clone();
    let options = FetchOptions {
        limit: Some(1),
        ..FetchOptions::default()
    };
    let mut f = fetch::start(
        Arc::new(connector),
        &stream,
        &inputs,
        options,
        Arc::new(Silent),
    )?;
    let mut got = 0;
    let mut skipped = Vec::new();
    while let Some(item) = f.items.recv().await {
        match item {
            Item::Record(_) => got += 1,
            Item::Skipped(s) => skipped.push(s.reason),
        }
    }
    match f.task.await? {
        Ok(_) if got > 0 => {
            println!(
                "ok: `{name}` reads `{stream}` with these inputs and credentials (the first page held records)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(_) if !skipped.is_empty() => {
            println!(
                "the credentials work, but the first record does not fit the manifest: {}",
                skipped[0]
            );
            Ok(ExitCode::from(1))
        }
        Ok(_) => {
            println!(
                "ok: the credentials work, but `{stream}` is empty (an account without users, or a token that sees none)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}", diagnose(&e));
            Ok(ExitCode::from(1))
        }
    }
}

/// A plain sentence about what is wrong, then the details.
pub fn diagnose(e: &FetchError) -> String {
    let plain = match e {
        FetchError::Unauthorized { .. } => {
            "bad token: the API does not accept the credentials (HTTP 401). Check the secret input, and that the token is not expired or revoked."
        }
        FetchError::Forbidden { .. } => {
            "the token is known but not allowed (HTTP 403): it lacks a permission or scope, or the API is switched off for this account (for SCIM: is SCIM provisioning enabled, and is the plan one that has it?)."
        }
        FetchError::Status { status: 404, .. } | FetchError::Status { status: 405, .. } => {
            "wrong base URL: the server does not know this address (HTTP 404/405). Check base_url and the other inputs in the address; for SCIM it is the address that /Users is appended to."
        }
        FetchError::NotJson { .. } => {
            "wrong base URL: the server answered with something that is not the API (a web page?). Check base_url."
        }
        FetchError::RedirectToOtherHost { .. } => {
            "wrong base URL: the server sends requests elsewhere. Set base_url to the final address."
        }
        FetchError::InBody { .. } => "the API reported an error (see below).",
        FetchError::RetriesExhausted { last, .. } if last.contains("could not connect") => {
            "cannot reach the server: check the host in base_url, and the network."
        }
        FetchError::Url(_) => "the base URL cannot be used.",
        _ => "the read failed.",
    };
    format!("{plain}\n  details: {e}")
}
