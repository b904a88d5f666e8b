//! rollcall-serve: the local web page over the store (`rollcall serve`) and report
//! definitions (`rollcall report`).
//!
//! Pages are rendered on the server with askama templates (checked at compile time,
//! escaping everything they show); charts are inline SVG drawn by [`chart`]; reading
//! works with JavaScript off (a running job's page refreshes itself with a meta tag).
//!
//! - [`router`] builds the axum app over an [`AppState`]: a [`Store`], a [`Launcher`]
//!   that prepares runs (the CLI's, which knows the registry, the vault and the
//!   environment), the running jobs and the page's secrets.
//! - [`security`]: loopback binding by default; any other address requires a token,
//!   checked on every request in constant time; POSTs carry a CSRF token.
//! - [`report`]: report files (YAML), running them over the same list queries as the
//!   CLI and the list pages, and rendering them as CSV, JSON, Markdown or one
//!   self-contained HTML file.
//!
//! **Architecture invariant:** this crate never reads the environment or files other than
//! those it is handed; secrets never reach a template (integrations are shown by name,
//! app, instance, connector and schedule only; a workflow's file is shown with every
//! http(s) URL cut to its host, since webhook URLs carry secrets).

pub mod chart;
mod format;
mod jobs;
mod pages;
pub mod report;
pub mod security;
mod state;

use axum::Router;
use axum::routing::{get, post};

pub use jobs::{Job, JobState, Jobs};
pub use state::{AppState, Launcher, PreparedRun};

/// Builds the web app: every page, the token check (when a token is set) and the
/// loopback Host check (when no token is set).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::dashboard::page))
        .route("/integrations", get(pages::integrations::page))
        .route("/integrations/{name}/run", post(pages::integrations::run))
        .route("/jobs/{id}", get(pages::integrations::job))
        .route("/runs/{id}/errors", get(pages::runs::errors))
        .route("/runs/{id}/errors.csv", get(pages::runs::errors_csv))
        .route("/users", get(pages::lists::users))
        .route("/saas-users", get(pages::lists::saas_users))
        .route("/views", post(pages::lists::save_view))
        .route("/reports", get(pages::reports::list))
        .route("/reports/{name}", get(pages::reports::run))
        .route("/workflows", get(pages::workflows::page))
        .route("/workflows/{name}", get(pages::workflows::workflow))
        .route(
            "/workflows/{name}/audit.csv",
            get(pages::workflows::audit_csv),
        )
        .route("/style.css", get(pages::style))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
