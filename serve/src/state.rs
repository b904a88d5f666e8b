//! What every handler shares.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use rollcall_core::integration::Integration;
use rollcall_core::{Connector, Inputs};
use rollcall_store::Store;

use crate::jobs::Jobs;
use crate::security::{Secrets, UiToken};

/// Everything a run needs, gathered by a [`Launcher`].
pub struct PreparedRun {
    /// The integration, checked against its connector as it is now.
    pub integration: Integration,
    /// The compiled connector.
    pub connector: Arc<Connector>,
    /// The resolved inputs (secrets included, wrapped).
    pub inputs: Inputs,
}

/// Prepares the run of a stored integration: reads it, loads its connector and gathers
/// its inputs (integration file, vault, environment). The CLI implements it; tests use
/// their own. Errors are sentences for the page.
pub trait Launcher: Send + Sync + 'static {
    /// Prepares a run of the integration named `name`.
    fn prepare<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<PreparedRun, String>>;
}

/// The state shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) launcher: Arc<dyn Launcher>,
    pub(crate) jobs: Jobs,
    pub(crate) secrets: Arc<Secrets>,
}

impl AppState {
    /// The state for a server bound to `bind`. `token` is required unless `bind` is a
    /// loopback address; it is checked on every request.
    pub fn new(
        store: Store,
        launcher: Arc<dyn Launcher>,
        bind: SocketAddr,
        token: Option<UiToken>,
    ) -> Result<AppState, String> {
        if !bind.ip().is_loopback() && token.is_none() {
            return Err(format!(
                "{bind} is not a loopback address, so anyone who can reach it could read the store and start runs; set ROLLCALL_UI_TOKEN to a long random value (at least 16 characters) or bind to 127.0.0.1"
            ));
        }
        Ok(AppState {
            store,
            launcher,
            jobs: Jobs::default(),
            secrets: Arc::new(Secrets::new(token, bind.ip().is_loopback())?),
        })
    }

    /// The running and finished jobs started from the page.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The CSRF token POST forms carry (for tests that post without a page).
    pub fn csrf_token(&self) -> &str {
        self.secrets.csrf()
    }
}
