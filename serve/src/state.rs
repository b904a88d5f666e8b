//! What every handler shares.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use rollcall_core::integration::schedule::Timing;
use rollcall_store::Store;

use crate::jobs::Jobs;
use crate::security::{Secrets, UiToken};

/// Everything a run needs, gathered by a [`Launcher`] (defined in `rollcall-sync`, shared
/// with the daemon).
pub use rollcall_sync::PreparedRun;

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
    /// How schedules without their own zone or time are read (next runs on the page).
    pub(crate) timing: Timing,
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
            timing: Timing::default(),
        })
    }

    /// Reads schedules with `timing` (the daemon's `--timezone` and `--daily-at`), so the
    /// page shows the next runs the daemon will make.
    pub fn with_timing(mut self, timing: Timing) -> AppState {
        self.timing = timing;
        self
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
