//! The workflows page. Workflows, their plans and their audit log do not exist yet
//! (they arrive with the workflows milestone); the page says so instead of showing
//! anything made up.

use askama::Template;
use axum::response::Response;

use super::render;

#[derive(Template)]
#[template(path = "workflows.html")]
struct WorkflowsPage;

/// `GET /workflows`
pub(crate) async fn page() -> Response {
    render(&WorkflowsPage)
}
