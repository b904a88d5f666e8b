//! The users and SaaS users list views: a column chooser, filters in the CLI's filter
//! language, sorting by column, paging; saved views are the store's views, the same
//! objects as `rollcall views`.
//!
//! The page's state lives in its address (`col`, `filter` and `sort` repeated, `app`,
//! `instance`, `page`, `per`, and `view` for a saved view), so every state can be
//! bookmarked and reading needs no script.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rollcall_store::{Filter, ListQuery, StoreError, ViewTarget};
use serde_json::Value;

use super::{csrf_refusal, error, pairs, render, segment};
use crate::AppState;
use crate::format::{cell, thousands};

/// Columns shown when none are chosen (as the CLI's `users list`).
pub(crate) const USER_COLUMNS: &[&str] = &[
    "username",
    "email",
    "first_name",
    "last_name",
    "role",
    "source",
    "updated_at",
];

/// Columns shown when none are chosen (as the CLI's `saas-users list`).
pub(crate) const SAAS_COLUMNS: &[&str] = &[
    "app",
    "instance",
    "username",
    "user_type",
    "active",
    "roles",
    "last_activity_at",
    "present",
    "last_seen_at",
];

const PER_PAGE: &[u64] = &[25, 50, 100, 200];
const DEFAULT_PER: u64 = 50;

#[derive(Clone, Copy)]
struct Kind {
    target: ViewTarget,
    title: &'static str,
    path: &'static str,
    name: &'static str,
    defaults: &'static [&'static str],
}

const USERS: Kind = Kind {
    target: ViewTarget::Users,
    title: "Users",
    path: "/users",
    name: "users",
    defaults: USER_COLUMNS,
};

const SAAS: Kind = Kind {
    target: ViewTarget::SaasUsers,
    title: "SaaS users",
    path: "/saas-users",
    name: "saas_users",
    defaults: SAAS_COLUMNS,
};

/// What the address asks for.
#[derive(Default, Clone)]
struct Params {
    view: Option<String>,
    columns: Vec<String>,
    filters: Vec<String>,
    sort: Vec<String>,
    app: Option<String>,
    instance: Option<String>,
    page: u64,
    per: u64,
}

fn non_empty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

impl Params {
    fn read(pairs: &[(String, String)]) -> Params {
        let mut p = Params {
            page: 1,
            per: DEFAULT_PER,
            ..Params::default()
        };
        let mut edited = false;
        for (k, v) in pairs {
            match k.as_str() {
                "view" => p.view = non_empty(v),
                "col" => p.columns.extend(non_empty(v)),
                "filter" => p.filters.extend(non_empty(v)),
                "sort" => p.sort.extend(non_empty(v)),
                "app" => p.app = non_empty(v),
                "instance" => p.instance = non_empty(v),
                "page" => p.page = v.trim().parse().unwrap_or(1).max(1),
                "per" => {
                    p.per = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| PER_PAGE.contains(n))
                        .unwrap_or(DEFAULT_PER)
                }
                "edited" => edited = true,
                _ => {}
            }
        }
        if p.view.is_some() && !edited {
            // A plain `?view=NAME`: the view decides; filled in by `apply_view`.
            p.columns.clear();
            p.filters.clear();
            p.sort.clear();
        }
        p
    }

    fn take_view(&mut self, q: &ListQuery) {
        self.columns = q.columns.clone().unwrap_or_default();
        self.filters = q.filters.iter().map(Filter::to_string).collect();
        self.sort = q
            .sort
            .iter()
            .map(|(f, desc)| if *desc { format!("-{f}") } else { f.clone() })
            .collect();
        self.app = q.app.clone();
        self.instance = q.instance.clone();
    }

    /// The list query for this state (without paging).
    fn query(&self, kind: Kind) -> Result<ListQuery, String> {
        let mut filters = Vec::new();
        for f in &self.filters {
            filters.push(Filter::parse(f).map_err(|e| e.to_string())?);
        }
        let columns = if self.columns.is_empty() {
            kind.defaults.iter().map(|c| (*c).to_owned()).collect()
        } else {
            self.columns.clone()
        };
        Ok(ListQuery {
            columns: Some(columns),
            filters,
            sort: self
                .sort
                .iter()
                .map(|s| match s.strip_prefix('-') {
                    Some(f) => (f.to_owned(), true),
                    None => (s.clone(), false),
                })
                .collect(),
            limit: None,
            offset: None,
            app: self.app.clone(),
            instance: self.instance.clone(),
        })
    }

    /// The address of this state, with `edit` applied.
    fn link(&self, kind: Kind, edit: impl FnOnce(&mut Params)) -> String {
        let mut p = self.clone();
        edit(&mut p);
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(v) = &p.view {
            q.append_pair("view", v);
        }
        q.append_pair("edited", "1");
        for c in &p.columns {
            q.append_pair("col", c);
        }
        for f in &p.filters {
            q.append_pair("filter", f);
        }
        for s in &p.sort {
            q.append_pair("sort", s);
        }
        if let Some(a) = &p.app {
            q.append_pair("app", a);
        }
        if let Some(i) = &p.instance {
            q.append_pair("instance", i);
        }
        if p.per != DEFAULT_PER {
            q.append_pair("per", &p.per.to_string());
        }
        if p.page > 1 {
            q.append_pair("page", &p.page.to_string());
        }
        format!("{}?{}", kind.path, q.finish())
    }
}

struct Header {
    name: String,
    link: String,
    arrow: &'static str,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    title: &'static str,
    path: &'static str,
    target: &'static str,
    view: Option<String>,
    views: Vec<(String, String)>,
    fields: Vec<(String, bool)>,
    headers: Vec<Header>,
    rows: Vec<Vec<String>>,
    filters: Vec<String>,
    sort: Vec<String>,
    app: String,
    instance: String,
    per: u64,
    per_choices: &'static [u64],
    summary: String,
    prev: Option<String>,
    next: Option<String>,
    problem: Option<String>,
    csrf: String,
    columns: Vec<String>,
    saved: bool,
}

/// `GET /users`
pub(crate) async fn users(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    list(state, USERS, q.unwrap_or_default()).await
}

/// `GET /saas-users`
pub(crate) async fn saas_users(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    list(state, SAAS, q.unwrap_or_default()).await
}

async fn list(state: AppState, kind: Kind, raw: String) -> Response {
    let form = pairs(&raw);
    let saved = form.iter().any(|(k, _)| k == "saved");
    let mut p = Params::read(&form);
    let store = &state.store;
    let views = match store.list_views().await {
        Ok(v) => v,
        Err(e) => return super::store_error(e),
    };
    let mut problem = None;
    if let Some(name) = p.view.clone() {
        let edited = form.iter().any(|(k, _)| k == "edited");
        match views.iter().find(|v| v.name == name) {
            Some(v) if v.target != kind.target => {
                let other = if v.target == ViewTarget::Users {
                    "/users"
                } else {
                    "/saas-users"
                };
                return Redirect::to(&format!("{other}?view={}", segment(&name))).into_response();
            }
            Some(v) => {
                if !edited {
                    match serde_json::from_value::<ListQuery>(v.definition.clone()) {
                        Ok(q) => p.take_view(&q),
                        Err(e) => {
                            problem = Some(format!(
                                "the view `{name}` is stored in a form this rollcall cannot read ({e})"
                            ))
                        }
                    }
                }
            }
            None => {
                problem = Some(format!("there is no view named `{name}`"));
                p.view = None;
            }
        }
    }
    let view_links = views
        .iter()
        .filter(|v| v.target == kind.target)
        .map(|v| {
            (
                v.name.clone(),
                format!("{}?view={}", kind.path, segment(&v.name)),
            )
        })
        .collect();
    let fields = store.list_fields(kind.target).await.unwrap_or_default();
    let query = p.query(kind);
    let shown: Vec<String> = match &query {
        Ok(q) => q.columns.clone().unwrap_or_default(),
        Err(_) => kind.defaults.iter().map(|c| (*c).to_owned()).collect(),
    };
    let mut rows = Vec::new();
    let mut total = 0;
    match query {
        Err(e) => problem = Some(e),
        Ok(mut q) => {
            let counted = match kind.target {
                ViewTarget::Users => store.count_users(&q).await,
                ViewTarget::SaasUsers => store.count_saas_users(&q).await,
            };
            q.limit = Some(p.per);
            q.offset = Some((p.page - 1).saturating_mul(p.per));
            let listed = match kind.target {
                ViewTarget::Users => store.list_users(&q).await,
                ViewTarget::SaasUsers => store.list_saas_users(&q).await,
            };
            match (counted, listed) {
                (Ok(n), Ok(list)) => {
                    total = n;
                    rows = list
                        .iter()
                        .map(|r| {
                            shown
                                .iter()
                                .map(|c| cell(r.get(c).unwrap_or(&Value::Null)))
                                .collect()
                        })
                        .collect();
                }
                (Err(e), _) | (_, Err(e)) => problem = Some(query_problem(e)),
            }
        }
    }
    let first = (p.page - 1) * p.per;
    let summary = if total == 0 {
        "no rows".to_owned()
    } else {
        format!(
            "rows {}–{} of {}",
            thousands((first + 1).min(total)),
            thousands((first + rows.len() as u64).min(total)),
            thousands(total)
        )
    };
    let prev = (p.page > 1).then(|| p.link(kind, |x| x.page -= 1));
    let next = (first + (rows.len() as u64) < total).then(|| p.link(kind, |x| x.page += 1));
    let headers = shown
        .iter()
        .map(|c| {
            let current = p.sort.first().map(String::as_str);
            let (arrow, next_sort) = if current == Some(c.as_str()) {
                (" ▲", format!("-{c}"))
            } else if current == Some(format!("-{c}").as_str()) {
                (" ▼", c.clone())
            } else {
                ("", c.clone())
            };
            Header {
                name: c.clone(),
                link: p.link(kind, |x| {
                    x.sort = vec![next_sort];
                    x.page = 1;
                }),
                arrow,
            }
        })
        .collect();
    let fields = fields
        .into_iter()
        .map(|f| {
            let on = shown.contains(&f);
            (f, on)
        })
        .collect();
    let page = ListPage {
        title: kind.title,
        path: kind.path,
        target: kind.name,
        view: p.view.clone(),
        views: view_links,
        fields,
        headers,
        rows,
        filters: p.filters.clone(),
        sort: p.sort.clone(),
        app: p.app.clone().unwrap_or_default(),
        instance: p.instance.clone().unwrap_or_default(),
        per: p.per,
        per_choices: PER_PAGE,
        summary,
        prev,
        next,
        csrf: state.secrets.csrf().to_owned(),
        columns: if p.columns.is_empty() {
            Vec::new()
        } else {
            shown
        },
        saved,
        problem: problem.clone(),
    };
    let mut r = render(&page);
    if problem.is_some() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

fn query_problem(e: StoreError) -> String {
    match e {
        StoreError::InvalidQuery(m) => m,
        other => other.to_string(),
    }
}

/// `POST /views`: saves the list's current state as a view (the same object as
/// `rollcall views save`), then shows it.
pub(crate) async fn save_view(State(state): State<AppState>, body: Bytes) -> Response {
    let form = pairs(&String::from_utf8_lossy(&body));
    if let Some(refusal) = csrf_refusal(&state, &form) {
        return refusal;
    }
    let kind = match form
        .iter()
        .find(|(k, _)| k == "target")
        .map(|(_, v)| v.as_str())
    {
        Some("users") => USERS,
        Some("saas_users") => SAAS,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "the form names no list (users or saas_users)",
            );
        }
    };
    let Some(name) = form
        .iter()
        .find(|(k, _)| k == "name")
        .and_then(|(_, v)| non_empty(v))
    else {
        return error(StatusCode::BAD_REQUEST, "give the view a name");
    };
    let mut p = Params::read(&form);
    p.view = None;
    let mut query = match p.query(kind) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    if p.columns.is_empty() {
        query.columns = None;
    }
    let mut probe = query.clone();
    probe.limit = Some(1);
    let checked = match kind.target {
        ViewTarget::Users => state.store.list_users(&probe).await.map(drop),
        ViewTarget::SaasUsers => state.store.list_saas_users(&probe).await.map(drop),
    };
    if let Err(e) = checked {
        return error(StatusCode::BAD_REQUEST, &query_problem(e));
    }
    let definition = match serde_json::to_value(&query) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    if let Err(e) = state.store.put_view(&name, kind.target, &definition).await {
        return super::store_error(e);
    }
    Redirect::to(&format!("{}?view={}&saved=1", kind.path, segment(&name))).into_response()
}
