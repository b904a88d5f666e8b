//! The workflows pages: every stored workflow with its last run (`/workflows`), and one
//! workflow (`/workflows/{name}`) with its rules (the file it was applied from, webhook
//! URLs cut to their host), its last plan (who would be touched, and why) and its audit
//! log, newest first, a page at a time, also as CSV (`/workflows/{name}/audit.csv`).

use std::collections::HashMap;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rollcall_core::integration::Integration;
use rollcall_store::{
    AuditEntry, AuditQuery, Store, StoreError, StoredWorkflow, WorkflowMode, WorkflowRunRow,
};
use serde_json::Value;

use super::{error, pairs, render, segment, store_error};
use crate::AppState;
use crate::format::{csv_cell, relative, thousands, when};

/// Audit entries per page.
const PAGE: u32 = 50;
/// The most entries of the last plan the page shows.
const PLAN_ROWS: u32 = 1000;
/// Audit entries read per query when writing the CSV.
const CSV_PAGE: u32 = 1000;

/// A workflow execution as the pages show it.
struct RunView {
    id: i64,
    mode: &'static str,
    trigger: &'static str,
    status: &'static str,
    started: String,
    started_iso: String,
    ago: String,
    counts: String,
    message: Option<String>,
}

fn run_view(r: &WorkflowRunRow) -> RunView {
    RunView {
        id: r.id,
        mode: r.mode.as_str(),
        trigger: r.trigger.as_str(),
        status: r.status.as_str(),
        started: when(r.started_at),
        started_iso: r.started_at.to_rfc3339(),
        ago: relative(r.started_at, Utc::now()),
        counts: counts_line(&r.counts),
        message: r.message.clone(),
    }
}

/// A run's counters in a line: `20 accounts, 5 matched, 2 exempt; 6 planned, 1 failed`.
fn counts_line(counts: &Value) -> String {
    let number = |v: Option<&Value>| v.and_then(Value::as_u64);
    let mut head = Vec::new();
    for key in ["accounts", "matched", "exempt"] {
        if let Some(n) = number(counts.get(key)) {
            head.push(format!("{} {key}", thousands(n)));
        }
    }
    if let Some(n) = number(counts.get("limit")) {
        head.push(format!("guard limit {}", thousands(n)));
    }
    let mut line = head.join(", ");
    if let Some(Value::Object(totals)) = counts.get("totals") {
        let parts: Vec<String> = totals
            .iter()
            .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k, n)))
            .map(|(k, n)| format!("{} {k}", thousands(n)))
            .collect();
        if !parts.is_empty() {
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str(&parts.join(", "));
        }
    }
    line
}

/// One workflow as listed.
struct WorkflowView {
    name: String,
    path: String,
    integration: String,
    app: String,
    instance: String,
    schedule: String,
    mode: &'static str,
    updated: String,
    last: Option<RunView>,
}

/// The app and instance of each integration, read once per page.
#[derive(Default)]
struct Places(HashMap<String, (String, String)>);

impl Places {
    async fn of(
        &mut self,
        store: &Store,
        integration: &str,
    ) -> Result<(String, String), StoreError> {
        if let Some(p) = self.0.get(integration) {
            return Ok(p.clone());
        }
        let place = match store.integration(integration).await? {
            Some(stored) => match Integration::from_json(&stored.definition) {
                Ok(i) => (i.app, i.instance),
                Err(_) => ("?".into(), "?".into()),
            },
            None => ("(integration removed)".into(), "?".into()),
        };
        self.0.insert(integration.to_owned(), place.clone());
        Ok(place)
    }
}

async fn workflow_view(
    store: &Store,
    places: &mut Places,
    w: &StoredWorkflow,
) -> Result<WorkflowView, StoreError> {
    let (app, instance) = places.of(store, &w.integration).await?;
    let last = store.last_workflow_run(&w.name, None).await?;
    Ok(WorkflowView {
        name: w.name.clone(),
        path: segment(&w.name),
        integration: w.integration.clone(),
        app,
        instance,
        schedule: w.schedule.clone(),
        mode: w.mode.as_str(),
        updated: when(w.updated_at),
        last: last.as_ref().map(run_view),
    })
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct WorkflowsPage {
    workflows: Vec<WorkflowView>,
}

/// `GET /workflows`
pub(crate) async fn page(State(state): State<AppState>) -> Response {
    let stored = match state.store.list_workflows().await {
        Ok(w) => w,
        Err(e) => return store_error(e),
    };
    let mut places = Places::default();
    let mut workflows = Vec::with_capacity(stored.len());
    for w in &stored {
        match workflow_view(&state.store, &mut places, w).await {
            Ok(v) => workflows.push(v),
            Err(e) => return store_error(e),
        }
    }
    render(&WorkflowsPage { workflows })
}

/// An audit entry as a table row.
struct EntryView {
    at: String,
    run_id: i64,
    mode: &'static str,
    trigger: &'static str,
    user: String,
    external_id: String,
    action: String,
    result: &'static str,
    detail: String,
}

fn entry_view(e: AuditEntry) -> EntryView {
    EntryView {
        at: e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        run_id: e.run_id,
        mode: e.mode.as_str(),
        trigger: e.trigger.as_str(),
        user: e.username.unwrap_or_default(),
        external_id: e.external_id.unwrap_or_default(),
        action: e.action,
        result: e.result.as_str(),
        detail: e.detail.unwrap_or_default(),
    }
}

/// Where `http://` or `https://` starts in `text` at or after `from`.
fn next_url(text: &str, from: usize) -> Option<usize> {
    let lower = text[from..].to_ascii_lowercase();
    let at = match (lower.find("http://"), lower.find("https://")) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some(from + at)
}

/// `text` with every http(s) URL cut to its scheme and host: webhook URLs often carry a
/// secret in their path or query, and user info may hold a password.
fn hide_urls(text: &str) -> String {
    let ends_url = |c: char| c.is_whitespace() || "\"'`<>{}[],".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(start) = next_url(text, rest) {
        out.push_str(&text[rest..start]);
        let scheme_end = start + text[start..].find("://").unwrap_or(0) + 3;
        let end = text[scheme_end..]
            .find(ends_url)
            .map_or(text.len(), |i| scheme_end + i);
        let authority_end = text[scheme_end..end]
            .find(['/', '?', '#'])
            .map_or(end, |i| scheme_end + i);
        let authority = &text[scheme_end..authority_end];
        let host = authority.rsplit('@').next().unwrap_or("");
        out.push_str(&text[start..scheme_end]);
        out.push_str(host);
        if host.len() != authority.len() || authority_end < end {
            out.push_str("/…");
        }
        rest = end;
    }
    out.push_str(&text[rest..]);
    out
}

/// Every string in `v` that is an http(s) URL with more than a host.
fn secret_urls(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Ok(u) = url::Url::parse(s)
                && matches!(u.scheme(), "http" | "https")
                && (u.path().len() > 1 || u.query().is_some() || !u.username().is_empty())
            {
                out.push(s.clone());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| secret_urls(i, out)),
        Value::Object(map) => map.values().for_each(|i| secret_urls(i, out)),
        _ => {}
    }
}

/// The file a workflow was applied from, URLs cut to their host; or why it is not shown.
fn rules_text(definition: &Value) -> Result<(String, String), String> {
    let source = rollcall_workflow::stored_source(definition)?;
    let text = hide_urls(&source.text);
    let mut urls = Vec::new();
    secret_urls(definition, &mut urls);
    if urls.iter().any(|u| text.contains(u.as_str())) {
        return Err(
            "the file is not shown because a webhook URL in it could not be hidden; `rollcall workflows show NAME` prints it"
                .into(),
        );
    }
    Ok((source.file, text))
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct WorkflowPage {
    w: WorkflowView,
    file: String,
    text: Result<String, String>,
    plan: Option<RunView>,
    plan_entries: Vec<EntryView>,
    plan_more: bool,
    audit: Vec<EntryView>,
    paged: bool,
    older: Option<i64>,
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!(
            "there is no workflow named `{name}`; the workflows page lists them, and `rollcall workflows apply FILE` stores one"
        ),
    )
}

/// `GET /workflows/{name}?before=ID`
pub(crate) async fn workflow(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let before = pairs(query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "before")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    match workflow_page(&state.store, &name, before).await {
        Ok(Some(page)) => render(&page),
        Ok(None) => not_found(&name),
        Err(e) => store_error(e),
    }
}

async fn workflow_page(
    store: &Store,
    name: &str,
    before: Option<i64>,
) -> Result<Option<WorkflowPage>, StoreError> {
    let Some(stored) = store.workflow(name).await? else {
        return Ok(None);
    };
    let w = workflow_view(store, &mut Places::default(), &stored).await?;
    let (file, text) = match rules_text(&stored.definition) {
        Ok((file, text)) => (file, Ok(text)),
        Err(why) => (String::new(), Err(why)),
    };
    let plan = store
        .last_workflow_run(name, Some(WorkflowMode::Plan))
        .await?;
    let mut plan_entries = match &plan {
        Some(run) => {
            store
                .audit_entries(&AuditQuery {
                    run_id: Some(run.id),
                    limit: Some(PLAN_ROWS + 1),
                    ..AuditQuery::default()
                })
                .await?
        }
        None => Vec::new(),
    };
    let plan_more = plan_entries.len() > PLAN_ROWS as usize;
    plan_entries.truncate(PLAN_ROWS as usize);
    let mut audit = store
        .audit_entries_newest_first(name, before, PAGE + 1)
        .await?;
    let older = (audit.len() > PAGE as usize).then(|| {
        audit.truncate(PAGE as usize);
        audit.last().map_or(0, |e| e.id)
    });
    Ok(Some(WorkflowPage {
        w,
        file,
        text,
        plan: plan.as_ref().map(run_view),
        plan_entries: plan_entries.into_iter().map(entry_view).collect(),
        plan_more,
        audit: audit.into_iter().map(entry_view).collect(),
        paged: before.is_some(),
        older,
    }))
}

/// The CSV header, as `rollcall audit --format csv` writes it.
const CSV_HEADER: &str = "at,workflow,run,mode,user,external_id,action,result,detail\r\n";

fn csv_row(e: &AuditEntry) -> String {
    let cells = [
        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        e.workflow.clone(),
        e.run_id.to_string(),
        e.mode.as_str().to_owned(),
        e.username.clone().unwrap_or_default(),
        e.external_id.clone().unwrap_or_default(),
        e.action.clone(),
        e.result.as_str().to_owned(),
        e.detail.clone().unwrap_or_default(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// `GET /workflows/{name}/audit.csv`: the workflow's whole audit log, oldest first (as
/// `rollcall audit --format csv`), streamed a page of entries at a time.
pub(crate) async fn audit_csv(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.store.workflow(&name).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&name),
        Err(e) => return store_error(e),
    }
    let store = state.store.clone();
    let workflow = name.clone();
    // (after this id, header written, finished)
    let pages = futures::stream::unfold((0i64, false, false), move |(after, header, done)| {
        let store = store.clone();
        let workflow = workflow.clone();
        async move {
            if done {
                return None;
            }
            if !header {
                return Some((
                    Ok(Bytes::from_static(CSV_HEADER.as_bytes())),
                    (after, true, false),
                ));
            }
            let page = store
                .audit_entries(&AuditQuery {
                    workflow: Some(workflow),
                    after_id: after,
                    limit: Some(CSV_PAGE),
                    ..AuditQuery::default()
                })
                .await;
            match page {
                Ok(page) => {
                    let last = page.last()?.id;
                    let chunk: String = page.iter().map(csv_row).collect();
                    Some((Ok(Bytes::from(chunk)), (last, true, false)))
                }
                Err(e) => Some((
                    Err(std::io::Error::other(e.to_string())),
                    (after, true, true),
                )),
            }
        }
    });
    let mut r = Body::from_stream(pages).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}-audit.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_only_their_host() {
        let text = "notify: { url: \"https://hooks.example.com/services/T0/B1/secret?x=1\" }\n# see https://docs.example.com\nurl: http://user:pw@10.0.0.1:8080/hook\n";
        let hidden = hide_urls(text);
        assert_eq!(
            hidden,
            "notify: { url: \"https://hooks.example.com/…\" }\n# see https://docs.example.com\nurl: http://10.0.0.1:8080/…\n"
        );
        assert_eq!(hide_urls("no links"), "no links");
        assert_eq!(hide_urls("HTTPS://A.b/x"), "HTTPS://A.b/…");
    }

    #[test]
    fn counts_read_as_a_line() {
        let counts = serde_json::json!({
            "accounts": 20, "matched": 5, "exempt": 2, "limit": null,
            "totals": { "ok": 0, "planned": 6, "skipped": 2 }
        });
        assert_eq!(
            counts_line(&counts),
            "20 accounts, 5 matched, 2 exempt; 6 planned, 2 skipped"
        );
    }
}
