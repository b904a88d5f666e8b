//! The integrations page: a tile per integration with its last run and a RUN button;
//! a run's progress page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use rollcall_core::integration::Integration;
use rollcall_store::{RunRow, Store, StoreError};

use super::{csrf_refusal, error, pairs, render, segment, store_error};
use crate::format::{relative, thousands, when};
use crate::{AppState, JobState};

/// A run as a tile shows it.
pub(crate) struct LastRun {
    pub(crate) id: i64,
    pub(crate) status: &'static str,
    pub(crate) started: String,
    pub(crate) started_iso: String,
    pub(crate) ago: String,
    pub(crate) fetched: String,
    pub(crate) created: String,
    pub(crate) updated: String,
    pub(crate) unchanged: String,
    pub(crate) skipped: String,
    pub(crate) failed: String,
    pub(crate) errors: String,
    pub(crate) message: Option<String>,
}

/// One integration's tile.
pub(crate) struct Tile {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) app: String,
    pub(crate) instance: String,
    pub(crate) connector: String,
    pub(crate) schedule: String,
    /// (absolute, relative)
    pub(crate) next_run: Option<(String, String)>,
    pub(crate) last: Option<LastRun>,
    pub(crate) job: Option<u64>,
    pub(crate) problem: Option<String>,
}

/// The tiles of every stored integration.
pub(crate) async fn tiles(state: &AppState) -> Result<Vec<Tile>, StoreError> {
    let now = Utc::now();
    let mut tiles = Vec::new();
    for stored in state.store.list_integrations().await? {
        let last = last_run(&state.store, &stored.name).await?;
        let job = state.jobs.running(&stored.name).map(|j| j.id);
        let tile = match Integration::from_json(&stored.definition) {
            Ok(i) => {
                let next = i.schedule.next_run(
                    last.as_ref().map(|r: &RunRow| r.started_at),
                    now,
                    &state.timing,
                );
                Tile {
                    path: segment(&i.name),
                    name: i.name,
                    app: i.app,
                    instance: i.instance,
                    connector: i.connector,
                    schedule: i.schedule.to_string(),
                    next_run: next.map(|t| (when(t), relative(t, now))),
                    last: None,
                    job,
                    problem: None,
                }
            }
            Err(e) => Tile {
                path: segment(&stored.name),
                name: stored.name.clone(),
                app: "?".into(),
                instance: "?".into(),
                connector: "?".into(),
                schedule: "?".into(),
                next_run: None,
                last: None,
                job,
                problem: Some(e),
            },
        };
        let last = match last {
            Some(r) => {
                let errors = state.store.run_error_count(r.id).await?;
                Some(LastRun {
                    id: r.id,
                    status: r.status.as_str(),
                    started: when(r.started_at),
                    started_iso: r.started_at.to_rfc3339(),
                    ago: relative(r.started_at, now),
                    fetched: thousands(r.counts.fetched),
                    created: thousands(r.counts.created),
                    updated: thousands(r.counts.updated),
                    unchanged: thousands(r.counts.unchanged),
                    skipped: thousands(r.counts.skipped),
                    failed: thousands(r.counts.failed),
                    errors: thousands(errors),
                    message: r.message,
                })
            }
            None => None,
        };
        tiles.push(Tile { last, ..tile });
    }
    Ok(tiles)
}

async fn last_run(store: &Store, name: &str) -> Result<Option<RunRow>, StoreError> {
    Ok(store
        .runs(Some(name))
        .await?
        .into_iter()
        .find(|r| !r.dry_run))
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    tiles: Vec<Tile>,
    csrf: String,
}

/// `GET /integrations`
pub(crate) async fn page(State(state): State<AppState>) -> Response {
    match tiles(&state).await {
        Ok(tiles) => render(&IntegrationsPage {
            tiles,
            csrf: state.secrets.csrf().to_owned(),
        }),
        Err(e) => store_error(e),
    }
}

/// `POST /integrations/{name}/run`: starts a run in the background and goes to its page.
pub(crate) async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let form = pairs(&String::from_utf8_lossy(&body));
    if let Some(refusal) = csrf_refusal(&state, &form) {
        return refusal;
    }
    match state.store.integration(&name).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("there is no integration named `{name}`"),
            );
        }
        Err(e) => return store_error(e),
    }
    let job = state
        .jobs
        .start(state.store.clone(), state.launcher.clone(), &name);
    Redirect::to(&format!("/jobs/{}", job.id)).into_response()
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    id: u64,
    integration: String,
    started: String,
    running: bool,
    read: String,
    total: Option<String>,
    run_id: Option<i64>,
    outcome: Option<String>,
    failure: Option<String>,
}

/// `GET /jobs/{id}`: a run's progress; refreshes itself until the run ends.
pub(crate) async fn job(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    let Some(job) = state.jobs.get(id) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "there is no job {id} in this server process; the integrations page shows the last runs"
            ),
        );
    };
    let (running, run_id, outcome, failure) = match job.state() {
        JobState::Running => (true, None, None, None),
        JobState::Completed {
            run_id,
            counts: c,
            marked_absent,
            errors,
        } => (
            false,
            Some(run_id),
            Some(format!(
                "fetched {}, created {}, updated {}, unchanged {}, skipped {}, failed {}; {} marked not present; {} error{} logged",
                c.fetched,
                c.created,
                c.updated,
                c.unchanged,
                c.skipped,
                c.failed,
                marked_absent,
                errors,
                if errors == 1 { "" } else { "s" }
            )),
            None,
        ),
        JobState::Failed { run_id, message } => (false, run_id, None, Some(message)),
    };
    let page = JobPage {
        id,
        integration: job.integration.clone(),
        started: when(job.started_at),
        running,
        read: thousands(job.read()),
        total: job.total().map(thousands),
        run_id,
        outcome,
        failure,
    };
    render(&page)
}
