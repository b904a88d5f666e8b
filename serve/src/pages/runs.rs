//! A run's error log: which records were skipped or failed, and why; as a page and as
//! CSV.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rollcall_store::{RunErrorRow, RunRow};

use super::{error, render, store_error};
use crate::AppState;
use crate::format::{csv_cell, thousands, when};

async fn load(state: &AppState, id: i64) -> Result<(RunRow, Vec<RunErrorRow>), Box<Response>> {
    let run = match state.store.run(id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(Box::new(error(
                StatusCode::NOT_FOUND,
                &format!("there is no run {id}; the integrations page links to the last runs"),
            )));
        }
        Err(e) => return Err(Box::new(store_error(e))),
    };
    let errors = state
        .store
        .run_errors(id)
        .await
        .map_err(|e| Box::new(store_error(e)))?;
    Ok((run, errors))
}

struct ErrorLine {
    record: String,
    stage: &'static str,
    reason: String,
}

#[derive(Template)]
#[template(path = "errors.html")]
struct ErrorsPage {
    id: i64,
    integration: String,
    status: &'static str,
    started: String,
    fetched: String,
    message: Option<String>,
    errors: Vec<ErrorLine>,
}

/// `GET /runs/{id}/errors`
pub(crate) async fn errors(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    let (run, errors) = match load(&state, id).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    render(&ErrorsPage {
        id,
        integration: run.integration,
        status: run.status.as_str(),
        started: when(run.started_at),
        fetched: thousands(run.counts.fetched),
        message: run.message,
        errors: errors
            .into_iter()
            .map(|e| ErrorLine {
                record: e.record_key,
                stage: e.stage.as_str(),
                reason: e.reason,
            })
            .collect(),
    })
}

/// `GET /runs/{id}/errors.csv`: `run,record,stage,reason`, as a download.
pub(crate) async fn errors_csv(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    let (_, errors) = match load(&state, id).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let mut csv = String::from("run,record,stage,reason\r\n");
    for e in errors {
        csv.push_str(&format!(
            "{},{},{},{}\r\n",
            e.run_id,
            csv_cell(&e.record_key),
            e.stage.as_str(),
            csv_cell(&e.reason)
        ));
    }
    let mut r = csv.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"run-{id}-errors.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
