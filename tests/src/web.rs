//! A web page over a real store filled by a real sync from the in-process SCIM server,
//! for the `rollcall serve` tests (handlers and the real browser).

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use rollcall_core::Connector;
use rollcall_core::integration::{Integration, load_integration};
use rollcall_core::observe::Silent;
use rollcall_serve::security::UiToken;
use rollcall_serve::{AppState, Launcher, PreparedRun};
use rollcall_source::SourceFile;
use rollcall_store::Store;
use rollcall_testserver::ScimServer;

use crate::{TOKEN, TestManifest, inputs, server};

/// The integration the page shows.
pub const INTEGRATION: &str = "name: Miro Users
connector: miro
users: user-plus-saas-user
saas: { app: Miro, instance: Miro EU }
preference: create-and-update
role: Employee
sync_key: username
schedule: every 6h
";

/// Prepares runs against the test server, as the CLI's launcher does against the vault
/// and the environment.
pub struct TestLauncher {
    integration: Integration,
    connector: Arc<Connector>,
    base_url: String,
}

impl Launcher for TestLauncher {
    fn prepare<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<PreparedRun, String>> {
        Box::pin(async move {
            if name != self.integration.name {
                return Err(format!("there is no integration named `{name}`"));
            }
            Ok(PreparedRun {
                integration: self.integration.clone(),
                connector: self.connector.clone(),
                inputs: inputs(&self.connector, &self.base_url, TOKEN),
            })
        })
    }
}

/// A store with one integration and one completed sync, and the page's state.
pub struct Site {
    /// Keeps the data directory.
    pub dir: tempfile::TempDir,
    /// The store.
    pub store: Store,
    /// The SCIM server the integration reads.
    pub server: ScimServer,
    /// The stored integration.
    pub integration: Integration,
    /// The page's state.
    pub state: AppState,
}

/// Builds a [`Site`] whose server has `users` users, served as if bound to `bind`.
pub async fn site(users: usize, bind: SocketAddr, token: Option<UiToken>) -> Site {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path()).await.expect("the store opens");
    let server = server(users).await;
    let connector = TestManifest::default().load();
    let c = connector.clone();
    let find = move |name: &str| (name == "miro").then(|| c.clone());
    let integration = load_integration(SourceFile::new("miro-users.yaml", INTEGRATION), &find)
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .put_integration(&integration.name, &integration.to_json())
        .await
        .expect("the integration is stored");
    rollcall_sync::run(
        &store,
        &integration,
        connector.clone(),
        &inputs(&connector, &server.scim_base_url(), TOKEN),
        rollcall_sync::RunOptions {
            dry_run: false,
            sync_time: chrono::Utc::now(),
        },
        Arc::new(Silent),
    )
    .await
    .expect("the first sync completes");
    let launcher = Arc::new(TestLauncher {
        integration: integration.clone(),
        connector,
        base_url: server.scim_base_url(),
    });
    let state = AppState::new(store.clone(), launcher, bind, token).expect("the state builds");
    Site {
        dir,
        store,
        server,
        integration,
        state,
    }
}
