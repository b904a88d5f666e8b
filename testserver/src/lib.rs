//! `rollcall-testserver`: an in-process, Miro-like SCIM 2.0 server with fault injection.
//!
//! It serves, on `127.0.0.1` and a free port:
//! - SCIM 2.0 (`{scim_base_path}/Users`, `/Users/{id}` GET/PATCH/DELETE, `/ServiceProviderConfig`)
//!   the way Miro documents it (RFC 7644 paging, `userName eq`/`active eq` filters, Miro's
//!   PATCH forms, errors with `status` as a string);
//! - Miro's REST organization members endpoint (`/v2/orgs/{org_id}/members`, cursor paging),
//!   the only source of `lastActivityAt`;
//! - an OAuth 2 token endpoint (`POST /oauth/token`, client credentials) whose tokens the
//!   SCIM endpoints accept too.
//!
//! Users are generated deterministically from a seed. Tests reach into the state through
//! [`ServerHandle`]: inspect and mutate users, inject [`Fault`]s, simulate [`Drift`] while a
//! client pages, and look at the [`RecordedRequest`]s.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use rollcall_testserver::{ScimServer, ServerConfig};
//! let server = ScimServer::start(ServerConfig { users: 50, ..ServerConfig::default() }).await?;
//! println!("SCIM at {}", server.scim_base_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod faults;
pub mod generate;
mod members;
mod oauth;
mod scim;
mod store;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::generate::GenContext;
use crate::store::{Entry, Store};

/// Configuration of a [`ScimServer`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How many users to generate at start (default 300).
    pub users: usize,
    /// Seed for deterministic generation (default 7).
    pub seed: u64,
    /// SCIM bearer token accepted on the SCIM endpoints (default `"test-scim-token"`).
    pub token: String,
    /// Miro REST API token accepted on the members endpoint (default `"test-rest-token"`).
    pub rest_token: String,
    /// Organization id of the members endpoint (default `"3074457350000000001"`).
    pub org_id: String,
    /// Server page cap: a larger `count` is clamped to this (default 1000, Miro's documented max).
    pub max_results: usize,
    /// Path prefix of the SCIM endpoints (default `"/api/v1/scim"`).
    pub scim_base_path: String,
    /// PATCH answers `200` + the resource when true (Miro, the default), `204` when false.
    pub patch_returns_body: bool,
    /// Reference time (unix seconds) for generated `lastActivityAt` values (default: now).
    pub now_unix: i64,
    /// Port to bind on 127.0.0.1 (default 0: any free port).
    pub port: u16,
    /// Record every request for [`ServerHandle::requests`] (default true). Turn off for long
    /// benchmarks so memory stays flat.
    pub record_requests: bool,
    /// Client id the token endpoint accepts (default `"test-client-id"`).
    pub oauth_client_id: String,
    /// Client secret the token endpoint accepts (default `"test-client-secret"`).
    pub oauth_client_secret: String,
    /// `expires_in` of issued tokens, in seconds (default 3600).
    pub oauth_expires_in: u64,
    /// How many SCIM requests each issued token authorizes before it is refused with 401
    /// (default `None`: any number).
    pub oauth_token_uses: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self {
            users: 300,
            seed: 7,
            token: "test-scim-token".into(),
            rest_token: "test-rest-token".into(),
            org_id: "3074457350000000001".into(),
            max_results: 1000,
            scim_base_path: "/api/v1/scim".into(),
            patch_returns_body: true,
            now_unix,
            port: 0,
            record_requests: true,
            oauth_client_id: "test-client-id".into(),
            oauth_client_secret: "test-client-secret".into(),
            oauth_expires_in: 3600,
            oauth_token_uses: None,
        }
    }
}

/// Which requests a [`Fault`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every request, whatever the path.
    Any,
    /// `GET {base}/Users` (list and filter queries).
    ListUsers,
    /// `GET {base}/Users/{id}`.
    GetUser,
    /// `PATCH {base}/Users/{id}`.
    PatchUser,
    /// `GET /v2/orgs/{org_id}/members`.
    Members,
    /// `POST /oauth/token`.
    Token,
}

/// Body of a [`FaultKind::Status`] answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultBody {
    /// A SCIM error document (`application/scim+json`).
    Scim {
        /// Optional `scimType` (e.g. `"tooManyRequests"`).
        scim_type: Option<String>,
        /// The `detail` text.
        detail: String,
        /// Send `status` as a JSON number instead of the RFC's string.
        status_as_number: bool,
    },
    /// A realistic HTML "502 Bad Gateway" page from a proxy (`text/html`).
    Html,
    /// No body at all.
    Empty,
}

/// What a [`Fault`] does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status instead of handling the request.
    Status {
        /// HTTP status code (an invalid code becomes 500).
        status: u16,
        /// Value of a `Retry-After` header, if any (seconds or an HTTP date).
        retry_after: Option<String>,
        /// Response body.
        body: FaultBody,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Answer with a redirect to `location`.
    Redirect {
        /// Value of the `Location` header.
        location: String,
        /// 3xx status code.
        status: u16,
    },
    /// Answer `200` with `Content-Type: application/scim+json` and a body that is not JSON.
    Garbage,
    /// Answer `status` with the request's headers reflected back, like an API that
    /// echoes its request in errors: a JSON body `{"detail", "headers": {name: value}}`
    /// (the `detail` lists the headers too)
    /// and an `x-echo-NAME` response header for each request header.
    EchoHeaders {
        /// HTTP status code (an invalid code becomes 500).
        status: u16,
    },
}

/// A fault applied to the next `times` requests that match `matcher`.
///
/// Faults are kept in a FIFO queue; for each request the first fault that matches is used
/// (and its `times` decremented), so several faults for the same route apply one after the
/// other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Which requests it applies to.
    pub matcher: Match,
    /// How many matching requests it applies to.
    pub times: usize,
    /// What it does.
    pub kind: FaultKind,
}

impl Fault {
    /// A SCIM error answer with `status` (as a string), optional `scimType` and `detail`.
    pub fn scim_error(
        matcher: Match,
        times: usize,
        status: u16,
        scim_type: Option<&str>,
        detail: &str,
    ) -> Self {
        Fault {
            matcher,
            times,
            kind: FaultKind::Status {
                status,
                retry_after: None,
                body: FaultBody::Scim {
                    scim_type: scim_type.map(str::to_owned),
                    detail: detail.to_owned(),
                    status_as_number: false,
                },
            },
        }
    }

    /// Miro's rate-limit answer: 429 `tooManyRequests`, with an optional `Retry-After`.
    pub fn too_many_requests(matcher: Match, times: usize, retry_after: Option<&str>) -> Self {
        Fault {
            matcher,
            times,
            kind: FaultKind::Status {
                status: 429,
                retry_after: retry_after.map(str::to_owned),
                body: FaultBody::Scim {
                    scim_type: Some("tooManyRequests".into()),
                    detail: "Rate limit exceeded. Please retry later.".into(),
                    status_as_number: false,
                },
            },
        }
    }

    /// Wait `delay` before answering normally.
    pub fn delay(matcher: Match, times: usize, delay: Duration) -> Self {
        Fault {
            matcher,
            times,
            kind: FaultKind::Delay(delay),
        }
    }
}

/// Store mutation applied after a given list page was served (see
/// [`ServerHandle::drift_after_list_page`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drift {
    /// Remove this many users from the front of the server order.
    pub remove_first: usize,
    /// Append this many newly generated users.
    pub insert: usize,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `"GET"`.
    pub method: String,
    /// Path without the query string (still percent-encoded).
    pub path: String,
    /// Raw query string without `?`, if any.
    pub query: Option<String>,
    /// Whether an `Authorization` header was present.
    pub has_authorization: bool,
    /// The `Authorization` header value (lossy UTF-8), if present.
    pub authorization: Option<String>,
    /// The `Accept` header value, if present.
    pub accept: Option<String>,
    /// The `Content-Type` header value, if present.
    pub content_type: Option<String>,
    /// The request body (lossy UTF-8; empty for GET).
    pub body: String,
    /// When the request arrived.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The value of query parameter `name` (percent-decoded), if present.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        scim::parse_query(q)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// Server state shared by the handlers and every [`ServerHandle`].
struct Inner {
    config: ServerConfig,
    gen_ctx: GenContext,
    origin: String,
    /// Normalized base path: `""` or `"/x/y"` without trailing slash.
    base_path: String,
    store: RwLock<Store>,
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<RecordedRequest>>,
    drifts: Mutex<Vec<(usize, Drift)>>,
    list_pages: AtomicUsize,
    oauth: Mutex<Vec<oauth::Issued>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one application of the first fault matching `route`.
    fn take_fault(&self, route: Match) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let pos = faults
            .iter()
            .position(|f| f.times > 0 && (f.matcher == Match::Any || f.matcher == route))?;
        let fault = &mut faults[pos];
        fault.times -= 1;
        let kind = fault.kind.clone();
        if fault.times == 0 {
            faults.remove(pos);
        }
        Some(kind)
    }

    /// Counts one served list page and applies the drifts registered for it.
    fn list_page_served(&self) {
        let page = self.list_pages.fetch_add(1, Ordering::SeqCst) + 1;
        let due: Vec<Drift> = {
            let mut drifts = lock(&self.drifts);
            if drifts.is_empty() {
                return;
            }
            let mut due = Vec::new();
            drifts.retain(|(n, d)| {
                if *n == page {
                    due.push(*d);
                    false
                } else {
                    true
                }
            });
            due
        };
        if due.is_empty() {
            return;
        }
        let mut store = self.write();
        for d in due {
            store.remove_first(d.remove_first);
            store.append_generated(&self.gen_ctx, d.insert);
        }
    }
}

/// Cheap, cloneable access to a running server's state (users, faults, recorded requests).
///
/// All methods are synchronous and take short-lived locks.
#[derive(Clone)]
pub struct ServerHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The configuration the server was started with.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// `"http://127.0.0.1:PORT"`.
    pub fn origin(&self) -> String {
        self.inner.origin.clone()
    }

    /// Origin plus the SCIM base path.
    pub fn scim_base_url(&self) -> String {
        self.inner.gen_ctx.scim_base_url.clone()
    }

    /// Snapshot of all users in server order.
    pub fn users(&self) -> Vec<Value> {
        self.inner.read().entries.iter().map(Entry::value).collect()
    }

    /// The user with this `id`, if any.
    pub fn user(&self, id: &str) -> Option<Value> {
        self.inner.read().get(id).map(Entry::value)
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.inner.read().entries.len()
    }

    /// Ids of all users in server order (users without a string id are skipped).
    pub fn user_ids(&self) -> Vec<String> {
        self.inner
            .read()
            .entries
            .iter()
            .filter_map(|e| e.id.clone())
            .collect()
    }

    /// Appends a raw JSON record as-is (it may be malformed on purpose: no id, `active: "yes"`,
    /// `name: 5`, not even an object). It never logged in (no `lastActivityAt`).
    pub fn insert_user(&self, user: Value) {
        self.inner.write().push(Entry::from_value(&user, None));
    }

    /// Replaces the user with this `id` by a raw record (kept at the same position).
    /// Returns false when no user has that id.
    pub fn replace_user(&self, id: &str, user: Value) -> bool {
        let mut store = self.inner.write();
        let Some(pos) = store.position(id) else {
            return false;
        };
        store.entries[pos].set_value(&user);
        store.reindex();
        true
    }

    /// Appends `n` newly generated users (continuing the deterministic sequence).
    pub fn add_generated_users(&self, n: usize) {
        let mut store = self.inner.write();
        store.append_generated(&self.inner.gen_ctx, n);
    }

    /// Removes the user with this `id`. Returns whether one was removed.
    pub fn remove_user(&self, id: &str) -> bool {
        self.inner.write().remove(id)
    }

    /// Sets `active` of the user with this `id`. Returns false when there is no such user (or
    /// the stored record is not a JSON object).
    pub fn set_active(&self, id: &str, active: bool) -> bool {
        let mut store = self.inner.write();
        let Some(entry) = store.get_mut(id) else {
            return false;
        };
        let mut value = entry.value();
        let Some(obj) = value.as_object_mut() else {
            return false;
        };
        obj.insert("active".into(), Value::Bool(active));
        entry.set_value(&value);
        true
    }

    /// Sets the member's `lastActivityAt` (`None`: never logged in, the key is omitted;
    /// `Some("")` is sent as an empty string). Returns false when there is no such user.
    pub fn set_last_activity(&self, id: &str, last_activity: Option<String>) -> bool {
        let mut store = self.inner.write();
        match store.get_mut(id) {
            Some(entry) => {
                entry.last_activity = last_activity;
                true
            }
            None => false,
        }
    }

    /// The user's `lastActivityAt` as the members endpoint reports it (`Some(None)`: never
    /// logged in; `None`: no such user).
    pub fn last_activity(&self, id: &str) -> Option<Option<String>> {
        self.inner.read().get(id).map(|e| e.last_activity.clone())
    }

    /// The REST `OrganizationMember` document the members endpoint serves for this user.
    pub fn member(&self, id: &str) -> Option<Value> {
        self.inner.read().get(id).and_then(members::member_json)
    }

    /// Queues a fault (FIFO; the first matching fault wins). A fault with `times == 0` is
    /// ignored.
    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            lock(&self.inner.faults).push_back(fault);
        }
    }

    /// Removes all queued faults.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Faults still queued (with their remaining `times`).
    pub fn pending_faults(&self) -> Vec<Fault> {
        lock(&self.inner.faults).iter().cloned().collect()
    }

    /// After the server has answered its `page_number`-th successful `GET {base}/Users`
    /// request (counted from server start, 1-based, see [`Self::list_pages_served`]), apply
    /// `drift` to the store: remove the first `remove_first` users in server order, then
    /// append `insert` new generated users. Simulates users joining and leaving during a
    /// paging pass. Requests answered by a fault (other than a delay) do not count.
    pub fn drift_after_list_page(&self, page_number: usize, drift: Drift) {
        lock(&self.inner.drifts).push((page_number, drift));
    }

    /// How many successful `GET {base}/Users` answers were served so far.
    pub fn list_pages_served(&self) -> usize {
        self.inner.list_pages.load(Ordering::SeqCst)
    }

    /// All recorded requests, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// Number of recorded requests.
    pub fn request_count(&self) -> usize {
        lock(&self.inner.requests).len()
    }

    /// Forgets the recorded requests.
    pub fn reset_requests(&self) {
        lock(&self.inner.requests).clear();
    }

    /// The tokens the token endpoint issued, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.inner.oauth)
            .iter()
            .map(|t| t.token.clone())
            .collect()
    }

    /// How many tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.inner.oauth).len()
    }

    /// Expires every token issued so far: the SCIM endpoints answer 401 to them.
    pub fn expire_tokens(&self) {
        for t in lock(&self.inner.oauth).iter_mut() {
            t.expired = true;
        }
    }
}

/// A running server. Dropping it, or calling [`ScimServer::shutdown`], stops it.
#[derive(Debug)]
pub struct ScimServer {
    handle: ServerHandle,
    addr: SocketAddr,
    shutdown_tx: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

fn normalize_base_path(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

impl ScimServer {
    /// Generates the users, binds `127.0.0.1:{config.port}` and starts serving on the
    /// current tokio runtime.
    pub async fn start(config: ServerConfig) -> std::io::Result<ScimServer> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let base_path = normalize_base_path(&config.scim_base_path);
        let gen_ctx = GenContext {
            seed: config.seed,
            scim_base_url: format!("{origin}{base_path}"),
            now_unix: config.now_unix,
        };
        let store = Store::generate(&gen_ctx, config.users);
        let inner = Arc::new(Inner {
            config,
            gen_ctx,
            origin,
            base_path,
            store: RwLock::new(store),
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            drifts: Mutex::new(Vec::new()),
            list_pages: AtomicUsize::new(0),
            oauth: Mutex::new(Vec::new()),
        });
        let router = scim::router(inner.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "test SCIM server stopped with an error");
            }
        });
        tracing::debug!(%addr, "test SCIM server listening");
        Ok(ScimServer {
            handle: ServerHandle { inner },
            addr,
            shutdown_tx: Some(tx),
            task: Some(task),
        })
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `"http://127.0.0.1:PORT"`.
    pub fn origin(&self) -> String {
        self.handle.origin()
    }

    /// Origin plus the SCIM base path, e.g. `"http://127.0.0.1:PORT/api/v1/scim"`.
    pub fn scim_base_url(&self) -> String {
        self.handle.scim_base_url()
    }

    /// Base URL of the Miro REST API (the origin); members are under
    /// `/v2/orgs/{org_id}/members`.
    pub fn rest_base_url(&self) -> String {
        self.handle.origin()
    }

    /// Full URL of the members endpoint of the configured organization.
    pub fn members_url(&self) -> String {
        format!(
            "{}/v2/orgs/{}/members",
            self.handle.origin(),
            self.handle.config().org_id
        )
    }

    /// A handle sharing the server's state.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stops accepting connections and waits (at most one second) for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(1), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
