//! `rollcall check CONNECTOR ...`: the smallest read that proves the inputs and the
//! credentials work (one record of the first stream, asked for as a page of one where
//! the paginator sends a page size), and a plain explanation when they do not.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use rollcall_core::fetch::{self, FetchOptions};
use rollcall_core::observe::Silent;
use rollcall_core::{FetchError, Item};

use super::fetch::InputArgs;
use crate::registry::Registry;

/// Check a connector's inputs and credentials with one small read.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Connector name or manifest path.
    connector: String,
    /// Stream to read (default: the first).
    #[arg(long)]
    stream: Option<String>,
    #[command(flatten)]
    inputs: InputArgs,
}

pub async fn run(
    args: Args,
    registry: &Registry,
    data_dir: Option<std::path::PathBuf>,
) -> Result<ExitCode> {
    let connector = registry.load(&args.connector).map_err(|e| e.into_error())?;
    let inputs = args.inputs.resolve(&connector, data_dir).await?;
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
    // One record answers the question; a first record that does not fit the manifest
    // answers it too, so the read stops there instead of paging on for a good one.
    let first = f.items.recv().await;
    drop(f.items);
    if let Some(Item::Skipped(s)) = &first {
        f.task.abort();
        println!(
            "the credentials work, but the first record does not fit the manifest: {}",
            s.reason
        );
        return Ok(ExitCode::from(1));
    }
    let got = usize::from(matches!(first, Some(Item::Record(_))));
    match f.task.await? {
        Ok(_) if got > 0 => {
            println!(
                "ok: `{name}` reads `{stream}` with these inputs and credentials (the first record was read)"
            );
            Ok(ExitCode::SUCCESS)
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
        FetchError::TokenRefused { .. } => {
            "bad client credentials: the token endpoint would not issue an access token. Check the client id and secret (and the account or tenant id the token request names), and that the app is activated."
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
