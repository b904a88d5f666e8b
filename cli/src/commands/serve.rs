//! `rollcall serve [--bind ADDR]`: the local web page over the store.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use futures::future::BoxFuture;
use rollcall_serve::security::UiToken;
use rollcall_serve::{AppState, Launcher, PreparedRun};

use crate::registry::Registry;

/// Serve the dashboard, integrations (with RUN), list views and reports.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on. Anything but a loopback address needs ROLLCALL_UI_TOKEN.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    bind: SocketAddr,
    #[command(flatten)]
    timing: crate::jobs::TimingArgs,
}

/// Prepares runs started from the page the way `rollcall run` does: the stored
/// integration checked against its connector, the vault credential, the environment.
struct CliLauncher {
    registry: Registry,
    data_dir: Option<PathBuf>,
}

impl CliLauncher {
    async fn prepare_run(&self, name: &str) -> Result<PreparedRun> {
        let overrides = crate::prepare::Overrides::default();
        crate::prepare::prepare_run(&self.registry, self.data_dir.clone(), name, &overrides).await
    }
}

impl Launcher for CliLauncher {
    fn prepare<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<PreparedRun, String>> {
        Box::pin(async move {
            self.prepare_run(name)
                .await
                .map_err(|e| crate::errors::describe(&e))
        })
    }
}

pub async fn run(args: Args, registry: &Registry, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let token = match std::env::var("ROLLCALL_UI_TOKEN") {
        Ok(t) if !t.is_empty() => Some(UiToken::new(t).map_err(|e| anyhow!(e))?),
        _ => None,
    };
    let store = crate::datadir::open_store(data_dir.clone()).await?;
    let launcher = Arc::new(CliLauncher {
        registry: registry.clone(),
        data_dir,
    });
    let with_token = token.is_some();
    let state = AppState::new(store.clone(), launcher, args.bind, token)
        .map_err(|e| anyhow!(e))?
        .with_timing(args.timing.timing());
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let local = listener.local_addr().unwrap_or(args.bind);
    // Written without `println!`: a closed stdout (e.g. `rollcall serve | head -1`) must
    // not stop the server.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "rollcall is serving {} on http://{local}/{}\npress Ctrl-C to stop",
        store.path().display(),
        if with_token {
            "?token=… (the value of ROLLCALL_UI_TOKEN)"
        } else {
            ""
        }
    );
    let _ = out.flush();
    rollcall_serve::serve(listener, rollcall_serve::router(state), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("the web server stopped")?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
