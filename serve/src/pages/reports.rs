//! Reports on the page: the stored reports, each runnable as HTML (the same
//! self-contained file as `rollcall report run NAME --format html`), CSV, JSON or
//! Markdown.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{error, pairs, render, segment, store_error};
use crate::AppState;
use crate::report::{Format, Report, render as render_report, run_report};

struct Entry {
    name: String,
    title: String,
    path: String,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    reports: Vec<Entry>,
}

/// `GET /reports`
pub(crate) async fn list(State(state): State<AppState>) -> Response {
    let stored = match state.store.list_reports().await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let reports = stored
        .into_iter()
        .map(|s| match serde_json::from_value::<Report>(s.definition) {
            Ok(r) => Entry {
                path: segment(&s.name),
                title: r.title().to_owned(),
                name: s.name,
                problem: None,
            },
            Err(e) => Entry {
                path: segment(&s.name),
                title: s.name.clone(),
                name: s.name,
                problem: Some(format!(
                    "stored in a form this rollcall cannot read ({e}); apply its file again"
                )),
            },
        })
        .collect();
    render(&ReportsPage { reports })
}

/// `GET /reports/{name}?format=html|csv|json|md`
pub(crate) async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = pairs(&q.unwrap_or_default());
    let format_name = q
        .iter()
        .find(|(k, _)| k == "format")
        .map_or("html", |(_, v)| v.as_str());
    let Some(format) = Format::parse(format_name) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("`{format_name}` is not a report format; use html, csv, json or md"),
        );
    };
    let stored = match state.store.report(&name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                &format!(
                    "there is no report named `{name}`; `rollcall report apply FILE` stores one"
                ),
            );
        }
        Err(e) => return store_error(e),
    };
    let report: Report = match serde_json::from_value(stored.definition) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!(
                    "the report `{name}` is stored in a form this rollcall cannot read ({e}); apply its file again"
                ),
            );
        }
    };
    let out = match run_report(&state.store, &report, Utc::now()).await {
        Ok(o) => o,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let mut r = render_report(&out, format).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if format != Format::Html {
        let file: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"{file}.{}\"",
            format.extension()
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    r
}
