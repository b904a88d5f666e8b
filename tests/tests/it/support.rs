//! A tiny HTTP server whose every answer is written by the test, for response
//! shapes the Miro-like test server does not produce.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use tokio::task::JoinHandle;

/// One request as the tiny server saw it.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Path without query.
    pub path: String,
    /// Raw query string (still percent-encoded).
    pub raw_query: Option<String>,
    /// The Authorization header.
    pub authorization: Option<String>,
}

impl Hit {
    /// A query parameter's raw value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.raw_query.as_deref()?.split('&').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k == name).then_some(v)
        })
    }

    /// A numeric query parameter.
    pub fn num(&self, name: &str) -> Option<usize> {
        self.param(name)?.parse().ok()
    }
}

/// What to answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// `200 application/scim+json` with this body.
    pub fn json(body: serde_json::Value) -> Reply {
        Reply {
            status: 200,
            content_type: "application/scim+json",
            body: body.to_string(),
            headers: Vec::new(),
        }
    }
}

type Handler = dyn Fn(&Hit) -> Reply + Send + Sync;

#[derive(Clone)]
struct AppState {
    handler: Arc<Handler>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

/// A running tiny server; dropping it stops it.
pub struct TinyServer {
    /// `http://127.0.0.1:PORT/scim`.
    pub base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: JoinHandle<()>,
}

impl TinyServer {
    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let hit = Hit {
        path: uri.path().to_string(),
        raw_query: uri.query().map(str::to_string),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    state.hits.lock().unwrap().push(hit.clone());
    let reply = (state.handler)(&hit);
    let mut b = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header(header::CONTENT_TYPE, reply.content_type);
    for (k, v) in reply.headers {
        b = b.header(k, v);
    }
    b.body(Body::from(reply.body)).unwrap()
}

/// Starts a server on 127.0.0.1 that answers every request with `handler`.
pub async fn tiny(handler: impl Fn(&Hit) -> Reply + Send + Sync + 'static) -> TinyServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let state = AppState {
        handler: Arc::new(handler),
        hits: hits.clone(),
    };
    let app = Router::new().fallback(handle).with_state(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TinyServer {
        base: format!("http://{addr}/scim"),
        hits,
        task,
    }
}

/// `n` minimal SCIM users `u1`..`un`.
pub fn users(n: usize) -> Vec<serde_json::Value> {
    (1..=n)
        .map(|i| serde_json::json!({"id": format!("u{i}"), "userName": format!("u{i}@example.com"), "active": true}))
        .collect()
}

/// The ids `u1`..`un`.
pub fn user_ids(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("u{i}")).collect()
}

/// The slice of `all` a SCIM server returns for `startIndex`/`count`, capped at `cap`.
pub fn page_of(all: &[serde_json::Value], hit: &Hit, cap: usize) -> Vec<serde_json::Value> {
    let start = hit.num("startIndex").unwrap_or(1).max(1);
    let count = hit.num("count").unwrap_or(100).min(cap);
    all.iter().skip(start - 1).take(count).cloned().collect()
}
