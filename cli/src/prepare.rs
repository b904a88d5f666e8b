//! Preparing a run of a stored integration: the one place that gathers what a sync needs,
//! used by `rollcall run`, the web page's RUN (`rollcall serve`) and `rollcall daemon`.
//!
//! The stored integration is checked again against its connector as it is now (from the
//! registry, so `--connectors-dir` is honoured); inputs come from the integration file,
//! then the vault credential, then the environment (`ROLLCALL_<CONNECTOR>_<INPUT>` and
//! `--secret-env`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use rollcall_core::{Inputs, Origin, ProvidedInputs};
use rollcall_sync::PreparedRun;

use crate::commands::{credentials, fetch, integrations};
use crate::registry::Registry;

/// What a caller may change about a run's inputs.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Use this vault credential instead of the integration's.
    pub credential: Option<String>,
    /// `INPUT=ENV_VAR` pairs: secret inputs taken from environment variables.
    pub secret_env: Vec<String>,
}

/// Loads the integration `name`, its connector and its inputs.
pub async fn prepare_run(
    registry: &Registry,
    data_dir: Option<PathBuf>,
    name: &str,
    overrides: &Overrides,
) -> Result<PreparedRun> {
    let integration = integrations::load_stored_with(registry, data_dir.clone(), name).await?;
    let connector = Arc::new(
        registry
            .load(&integration.connector)
            .map_err(|e| e.into_error())?,
    );
    let mut provided = ProvidedInputs::new();
    for (k, v) in &integration.inputs {
        provided.provide(
            k.clone(),
            v.clone(),
            Origin::Other(format!("integration `{}`", integration.name)),
        );
    }
    if let Some(cred) = overrides
        .credential
        .as_ref()
        .or(integration.credential.as_ref())
    {
        for (k, v) in credentials::credential_inputs(data_dir, cred, &connector.name).await? {
            provided.provide(k, v.expose(), Origin::Vault(cred.clone()));
        }
    }
    let provided = fetch::gather_inputs_into(provided, &connector, &[], &overrides.secret_env)?;
    let inputs = Inputs::resolve(&connector, provided).map_err(fetch::problems)?;
    Ok(PreparedRun {
        integration,
        connector,
        inputs,
    })
}
