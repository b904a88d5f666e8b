//! Running a stream: requests and pages → records, streamed through a bounded
//! channel so memory stays flat however many records the app has.
//!
//! [`start`] prepares everything that can fail early (inputs rendered into the base
//! URL, headers and credentials), then spawns a task that walks the pages with the
//! stream's paginator and sends [`Item`]s. Each paginator lives in its own file.

mod cursor;
mod page;
pub(crate) mod plugin_auth;
mod plugin_pages;
mod record_transforms;
mod scim;
mod simple;

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::sync::mpsc;
use url::Url;

use crate::compile::{Auth, Connector, Paginator, Record, RunContext, Stream};
use crate::http::{AuthMaterial, EngineConfig, FetchError, HttpEngine, check_base_url};
use crate::inputs::Inputs;
use crate::observe::{Observer, PageEvent};
use crate::secret::Secret;

pub use page::Page;
pub use plugin_auth::PluginAuth;

/// Options of one fetch.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Stop after this many records.
    pub limit: Option<u64>,
    /// The sync's start time (the `sync_time` computed field).
    pub sync_time: DateTime<Utc>,
    /// Capacity of the record channel.
    pub channel_capacity: usize,
    /// Record the HTTP exchanges, or replay them from a cassette.
    pub tape: Option<crate::http::Tape>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            limit: None,
            sync_time: Utc::now(),
            channel_capacity: 1024,
            tape: None,
        }
    }
}

/// What the record channel carries.
#[derive(Debug)]
pub enum Item {
    /// A good record.
    Record(Record),
    /// A record that could not be used, with why. The run goes on.
    Skipped(Skipped),
}

/// A malformed record.
#[derive(Clone, Debug)]
pub struct Skipped {
    /// Where it was: e.g. `page at startIndex=101, record 3`.
    pub position: String,
    /// Its primary key, when it has one.
    pub key: Option<String>,
    /// Why it was skipped (a sentence fragment: "the required field `id` is missing").
    pub reason: String,
    /// The plugin whose record transform dropped it on purpose (a filter); None for
    /// a malformed record or a plugin call that failed.
    pub dropped_by: Option<String>,
}

/// How a fetch ended.
#[derive(Clone, Debug, Default)]
pub struct FetchSummary {
    /// Records sent.
    pub records: u64,
    /// Records skipped as malformed.
    pub skipped: u64,
    /// Duplicates dropped (the same primary key seen again).
    /// SCIM paging re-reads one record at each page boundary on purpose; those count here.
    pub duplicates: u64,
    /// Pages read.
    pub pages: u64,
    /// Passes over the list (more than 1 when it changed during the read).
    pub passes: u32,
    /// Whether every record of the list was read (false when `limit` stopped it,
    /// the consumer went away, or the list never settled).
    pub complete: bool,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// The records of a running fetch, in order. Pages travel through a bounded
/// channel as batches (one hand-over per page, not per record); `recv` yields the
/// items one by one.
pub struct Items {
    rx: mpsc::Receiver<Vec<Item>>,
    buffer: std::vec::IntoIter<Item>,
}

impl Items {
    /// The next item, or `None` when the fetch has ended.
    pub async fn recv(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.buffer.next() {
                return Some(item);
            }
            self.buffer = self.rx.recv().await?.into_iter();
        }
    }
}

/// A running fetch.
pub struct Fetch {
    /// Records and skipped records, in order.
    pub items: Items,
    /// The task; its result says how the fetch ended.
    pub task: tokio::task::JoinHandle<Result<FetchSummary, FetchError>>,
}

/// Starts fetching `stream`. Problems found before the first request (unknown
/// stream, a base URL that is not https) are returned at once.
pub fn start(
    connector: Arc<Connector>,
    stream: &str,
    inputs: &Inputs,
    options: FetchOptions,
    observer: Arc<dyn Observer>,
) -> Result<Fetch, FetchError> {
    let Some(s) = connector.streams.get(stream) else {
        let names = connector
            .streams
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        return Err(FetchError::Url(format!(
            "the connector `{}` has no stream `{stream}`; its streams are: {names}",
            connector.name
        )));
    };
    let prepared = prepare(
        &connector,
        s,
        inputs,
        options.tape.clone(),
        observer.clone(),
    )?;
    // Capacity in batches: about `channel_capacity` records wait for the consumer.
    let (tx, rx) = mpsc::channel((options.channel_capacity / BATCH).max(1));
    let stream_name = stream.to_string();
    let task = tokio::spawn(async move {
        let stream = connector
            .streams
            .get(&stream_name)
            .ok_or_else(|| FetchError::Url(format!("no stream `{stream_name}`")))?;
        let run = Arc::new(RunContext::new(options.sync_time));
        let mut ctx = PageCtx {
            max_pages: stream.max_pages,
            req: Requester {
                engine: Arc::new(prepared.engine),
                method: stream.method,
                records: Arc::new(stream.records.clone()),
                // A read that stops after a few records asks for no more than that.
                paginator: stream.paginator.limited_to(options.limit),
                url: prepared.url,
                query: Arc::new(prepared.query),
                body_errors: connector.http.body_errors.clone().map(Arc::new),
                extract_in_task: stream
                    .record_transforms
                    .is_empty()
                    .then(|| (stream.fields.clone(), run.clone())),
            },
            out: Emitter {
                stream,
                tx,
                seen: HashSet::default(),
                run: run.clone(),
                limit: options.limit,
                observer,
                summary: FetchSummary {
                    passes: 1,
                    ..Default::default()
                },
                stopped: false,
            },
        };
        let result = match &ctx.req.paginator {
            Paginator::Scim {
                page_size,
                concurrency,
                max_passes,
            } => {
                let (p, c, m) = (*page_size, *concurrency, *max_passes);
                scim::run(&mut ctx, p, c, m).await
            }
            Paginator::Offset { .. } | Paginator::Page { .. } => {
                simple::run_numbered(&mut ctx).await
            }
            Paginator::Cursor { .. } | Paginator::LinkHeader { .. } => cursor::run(&mut ctx).await,
            Paginator::Plugin(call) => {
                let call = call.clone();
                plugin_pages::run(&mut ctx, &call).await
            }
            Paginator::None => simple::run_single(&mut ctx).await,
        };
        match result {
            Ok(()) => {
                let mut summary = ctx.out.summary;
                if ctx.out.stopped {
                    summary.complete = false;
                }
                Ok(summary)
            }
            Err(e) => Err(e),
        }
    });
    let items = Items {
        rx,
        buffer: Vec::new().into_iter(),
    };
    Ok(Fetch { items, task })
}

struct Prepared {
    engine: HttpEngine,
    url: Url,
    query: Vec<(String, String)>,
}

fn prepare(
    connector: &Connector,
    stream: &Stream,
    inputs: &Inputs,
    tape: Option<crate::http::Tape>,
    observer: Arc<dyn Observer>,
) -> Result<Prepared, FetchError> {
    let mut parts = engine_parts(
        connector,
        inputs,
        Overrides {
            base_url: stream.base_url.as_ref(),
            auth: stream.auth.as_ref(),
        },
        &stream.headers,
        connector.http.rate_limit,
    )?;
    let ctx = inputs.context();
    let t = &connector.templates;
    let render = |tpl| t.render(tpl, &ctx).map_err(FetchError::Template);
    let path = render(&stream.path)?;
    let url = join(&parts.config.origin, &path)?;
    let mut query = Vec::new();
    for (name, tpl) in &stream.query {
        query.push((name.clone(), render(tpl)?));
    }
    parts.config.tape = tape;
    let engine = HttpEngine::new(parts.config, Arc::new(parts.redactor), observer)?;
    Ok(Prepared { engine, url, query })
}

/// What every request of a connector shares, rendered from the inputs: the base URL
/// (as `origin`), the default headers (with `extra_headers`), the credentials, the
/// retry policy and `rate_limit`; and a redactor that knows every secret.
pub(crate) struct EngineParts {
    pub config: EngineConfig,
    pub redactor: crate::secret::Redactor,
}

/// What a stream may set instead of the connector's `http.base_url` and `auth`.
#[derive(Clone, Copy, Default)]
pub(crate) struct Overrides<'a> {
    pub base_url: Option<&'a crate::compile::Template>,
    pub auth: Option<&'a Auth>,
}

pub(crate) fn engine_parts(
    connector: &Connector,
    inputs: &Inputs,
    overrides: Overrides<'_>,
    extra_headers: &[(String, crate::compile::Template)],
    rate_limit: Option<(u32, std::time::Duration)>,
) -> Result<EngineParts, FetchError> {
    let ctx = inputs.context();
    let t = &connector.templates;
    let render = |tpl| t.render(tpl, &ctx).map_err(FetchError::Template);
    let mut redactor = inputs.redactor();
    let base = render(overrides.base_url.unwrap_or(&connector.http.base_url))?;
    let base = check_base_url(&base).map_err(FetchError::Url)?;
    let mut headers = HeaderMap::new();
    for (name, tpl) in connector.http.headers.iter().chain(extra_headers.iter()) {
        let value = render(tpl)?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| FetchError::Template(format!("`{name}` is not a valid header name")))?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            FetchError::Template(format!(
                "the `{name}` header value contains characters a header cannot carry"
            ))
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let auth = match overrides.auth.unwrap_or(&connector.auth) {
        Auth::Bearer { token } => {
            let token = Secret::new(render(token)?);
            redactor.add(&token);
            let secret = Secret::new(format!("Bearer {}", token.expose()));
            redactor.add(&secret);
            AuthMaterial::Header(reqwest::header::AUTHORIZATION, secret)
        }
        Auth::Header { name, value } => {
            let secret = Secret::new(render(value)?);
            redactor.add(&secret);
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                FetchError::Template(format!("`{name}` is not a valid header name"))
            })?;
            AuthMaterial::Header(name, secret)
        }
        Auth::Basic { username, password } => {
            let user = render(username)?;
            let pass = Secret::new(render(password)?);
            redactor.add(&pass);
            let token = base64_encode(format!("{user}:{}", pass.expose()).as_bytes());
            let secret = Secret::new(format!("Basic {token}"));
            redactor.add(&Secret::new(token));
            redactor.add(&secret);
            AuthMaterial::Header(reqwest::header::AUTHORIZATION, secret)
        }
        Auth::Query { name, value } => {
            let secret = Secret::new(render(value)?);
            redactor.add(&secret);
            AuthMaterial::Query(name.clone(), secret)
        }
        Auth::Plugin(call) => {
            // Asked once now, so a failing plugin stops the fetch before any request,
            // and the first headers are known to the redactor.
            let provider = plugin_auth::PluginAuth::new(call.clone(), inputs);
            provider.headers().map_err(FetchError::Template)?;
            for s in provider.secrets() {
                redactor.add(&s);
            }
            AuthMaterial::Provider(Arc::new(provider))
        }
        Auth::Token(t) => AuthMaterial::Token(Arc::new(crate::http::TokenAuth::new(
            token_request(connector, t, inputs, &mut redactor)?,
        ))),
        Auth::None => AuthMaterial::None,
    };
    let secret_inputs = connector
        .inputs
        .iter()
        .filter(|(_, i)| i.secret)
        .map(|(n, _)| n.clone())
        .collect();
    Ok(EngineParts {
        config: EngineConfig {
            origin: base,
            headers,
            auth,
            timeout: connector.http.timeout,
            retry: connector.http.retry.clone(),
            rate_limit,
            secret_inputs,
            tape: None,
            secret_paths: Vec::new(),
        },
        redactor,
    })
}

/// Renders `auth.token_endpoint` into the token request; its credentials go to the
/// redactor.
fn token_request(
    connector: &Connector,
    t: &crate::compile::TokenEndpoint,
    inputs: &Inputs,
    redactor: &mut crate::secret::Redactor,
) -> Result<crate::http::TokenRequest, FetchError> {
    let ctx = inputs.context();
    let templates = &connector.templates;
    let render = |tpl| templates.render(tpl, &ctx).map_err(FetchError::Template);
    let url = render(&t.url)?;
    let url = check_base_url(&url)
        .map_err(|e| FetchError::Url(e.replacen("the base URL", "the token URL", 1)))?;
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: String| -> Result<(), FetchError> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| FetchError::Template(format!("`{name}` is not a valid header name")))?;
        let mut v = HeaderValue::from_str(&value).map_err(|_| {
            FetchError::Template(format!(
                "the `{name}` header of the token request contains characters a header cannot carry; check the inputs"
            ))
        })?;
        v.set_sensitive(true);
        headers.insert(n, v);
        Ok(())
    };
    put("Accept", "application/json".into())?;
    if let Some((user, pass)) = &t.basic {
        let user = render(user)?;
        let pass = Secret::new(render(pass)?);
        redactor.add(&pass);
        let encoded = Secret::new(base64_encode(
            format!("{user}:{}", pass.expose()).as_bytes(),
        ));
        redactor.add(&encoded);
        put("Authorization", format!("Basic {}", encoded.expose()))?;
    }
    let body = match &t.body {
        crate::compile::TokenBody::None => None,
        crate::compile::TokenBody::Form(fields) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                form.append_pair(k, &render(v)?);
            }
            put("Content-Type", "application/x-www-form-urlencoded".into())?;
            Some(form.finish().into_bytes())
        }
        crate::compile::TokenBody::Json(tpl) => {
            let text = render(tpl)?;
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                FetchError::Template(format!(
                    "the JSON body of the token request is not JSON once rendered ({e}); write inputs with `{{{{json NAME}}}}`"
                ))
            })?;
            put("Content-Type", "application/json".into())?;
            Some(text.into_bytes())
        }
    };
    for (name, tpl) in &t.headers {
        put(name, render(tpl)?)?;
    }
    // The header value around the token: rendered once with a marker in its place.
    const MARK: &str = "\u{1}rollcall-access-token\u{1}";
    let mut with_token = match &ctx {
        serde_json::Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    with_token.insert(
        crate::compile::token::TOKEN_VARIABLE.into(),
        serde_json::Value::String(MARK.into()),
    );
    let value = templates
        .render(&t.value, &serde_json::Value::Object(with_token))
        .map_err(FetchError::Template)?;
    let around = match value.split_once(MARK) {
        Some((before, after)) if !after.contains(MARK) => (before.to_string(), after.to_string()),
        _ => {
            return Err(FetchError::Template(format!(
                "the token header template `{}` must write `{{{{access_token}}}}` exactly once, as it is",
                t.value.source()
            )));
        }
    };
    let header = HeaderName::from_bytes(t.header.as_bytes())
        .map_err(|_| FetchError::Template(format!("`{}` is not a valid header name", t.header)))?;
    let method = match t.method {
        crate::manifest::Method::Get => reqwest::Method::GET,
        crate::manifest::Method::Post => reqwest::Method::POST,
        crate::manifest::Method::Put => reqwest::Method::PUT,
        crate::manifest::Method::Patch => reqwest::Method::PATCH,
        crate::manifest::Method::Delete => reqwest::Method::DELETE,
    };
    Ok(crate::http::TokenRequest {
        method,
        url,
        headers,
        body,
        token: t.token.clone(),
        expires_in: t.expires_in.clone(),
        header,
        around,
        refresh_margin: t.refresh_margin,
    })
}

/// Appends a path to a base URL, keeping the base's own path (`/api/v1/scim` +
/// `/Users` → `/api/v1/scim/Users`).
pub fn join(base: &Url, path: &str) -> Result<Url, FetchError> {
    if path.starts_with("http://") || path.starts_with("https://") {
        return Url::parse(path)
            .map_err(|e| FetchError::Url(format!("`{path}` is not a valid URL ({e})")));
    }
    let mut s = base
        .as_str()
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/')
        .to_string();
    if !path.is_empty() {
        s.push('/');
        s.push_str(path.trim_start_matches('/'));
    }
    Url::parse(&s).map_err(|e| FetchError::Url(format!("`{s}` is not a valid URL ({e})")))
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

type KeyHasher = BuildHasherDefault<DefaultHasher>;

/// Records handed to the consumer at once. Small enough that a batch's buffer stays
/// under glibc's 64 KiB free threshold (larger frees trigger heap consolidation).
const BATCH: usize = 256;

/// The request side of a fetch. Cheap to clone, so page requests (and the parsing of
/// their bodies) can run as their own tasks, on another worker than the extraction.
#[derive(Clone)]
pub(crate) struct Requester {
    pub engine: Arc<HttpEngine>,
    pub method: crate::manifest::Method,
    pub records: Arc<crate::compile::JsonPath>,
    pub paginator: Paginator,
    pub url: Url,
    pub query: Arc<Vec<(String, String)>>,
    pub body_errors: Option<Arc<crate::compile::BodyErrors>>,
    /// The stream's fields and the run's context, when a page's records may be
    /// extracted in the task that parsed the page (no record transforms): see
    /// [`Requester::extract_page`].
    pub extract_in_task: Option<(Arc<crate::compile::FieldSet>, Arc<RunContext>)>,
}

/// The record side of a fetch: extraction, de-duplication, the channel.
pub(crate) struct Emitter<'s> {
    stream: &'s Stream,
    tx: mpsc::Sender<Vec<Item>>,
    /// 64-bit hashes of the primary keys emitted so far (8 bytes a record).
    seen: HashSet<u64, KeyHasher>,
    run: Arc<RunContext>,
    limit: Option<u64>,
    pub observer: Arc<dyn Observer>,
    pub summary: FetchSummary,
    /// The consumer is gone or the limit is reached.
    pub stopped: bool,
}

/// State of one fetch, split so pages can be requested while records are emitted.
pub(crate) struct PageCtx<'s> {
    /// The most pages one read (one SCIM pass) may take (the stream's `max_pages`).
    pub max_pages: u64,
    pub req: Requester,
    pub out: Emitter<'s>,
}

impl PageCtx<'_> {
    /// The list ended: every record was read.
    pub fn list_ended(&mut self) -> Result<(), FetchError> {
        self.out.summary.complete = true;
        Ok(())
    }

    /// Why a paginator stops at the page limit while `who` (the API, a plugin) still
    /// had a next page after `last` (the last request): the read fails, because a
    /// list read in part must never pass for the whole one (a sync would mark everyone
    /// it did not see as gone).
    pub fn too_many_pages(&self, who: &str, last: &str) -> FetchError {
        FetchError::Protocol(format!(
            "{who} still had a next page after {} pages (the last: {last}); that is the stream's limit (`max_pages`), so rollcall stops there and fails the read rather than take part of the list for all of it (raise `max_pages` if the list really is that long)",
            self.max_pages
        ))
    }
}

/// What a page held, for the paginators' bookkeeping.
pub(crate) struct PageOutcome {
    /// Records in the page (good and malformed).
    pub count: usize,
    /// Primary key of the first and last record, when they have one.
    pub first_key: Option<String>,
    pub last_key: Option<String>,
    /// Records that were new (not seen before).
    pub new: usize,
}

/// A record as extraction left it: the record, or why it was refused.
pub(crate) type Extracted = Result<Record, Refused>;

/// A record extraction refused: its primary key if it has one, why, and the plugin that
/// dropped it, if one did.
pub(crate) struct Refused {
    key: Option<String>,
    reason: String,
    dropped_by: Option<String>,
}

/// A page whose records were extracted in the task that parsed it, so that the parsed
/// body is freed on the thread that allocated it. Freeing thousands of small values on
/// another thread made glibc's allocator contend for its arena lock: at page size 100
/// and four pages in flight, ~200 context switches a page (BENCHMARKS.md §2).
pub(crate) struct ExtractedPage {
    /// The records selected from the page, in order.
    pub records: Vec<Extracted>,
    /// The page's `totalResults`, read before the body was freed.
    pub total_results: Option<u64>,
    pub status: u16,
    pub request: String,
    pub elapsed: std::time::Duration,
}

/// A page as a page task hands it over.
pub(crate) enum FetchedPage {
    /// Its records, extracted in the task ([`Requester::extract_page`]).
    Extracted(ExtractedPage),
    /// The parsed page, for a stream whose record transforms run as records are sent.
    Raw(Page),
}

/// What the observer hears of a page.
struct PageMeta<'p> {
    request: &'p str,
    status: u16,
    elapsed: std::time::Duration,
}

impl Requester {
    /// Extracts the records `select` picks from `page` and frees the page, if this fetch
    /// extracts in page tasks; otherwise gives the page back.
    pub fn extract_page(
        &self,
        page: Page,
        select: impl for<'p> Fn(&Requester, &'p Page) -> Vec<&'p Value>,
    ) -> FetchedPage {
        let Some((fields, run)) = &self.extract_in_task else {
            return FetchedPage::Raw(page);
        };
        let records = select(self, &page)
            .into_iter()
            .map(|raw| {
                fields.extract(raw, run).map_err(|reason| Refused {
                    key: raw_key(raw, fields),
                    reason,
                    dropped_by: None,
                })
            })
            .collect();
        FetchedPage::Extracted(ExtractedPage {
            records,
            total_results: page.count_ci("totalResults"),
            status: page.status,
            request: page.request,
            elapsed: page.elapsed,
        })
    }

    /// The stream URL with the static query and `params` (which win on conflict).
    pub fn page_url(&self, params: &[(&str, String)]) -> Url {
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in self.query.iter() {
                if !params.iter().any(|(p, _)| p == k) {
                    q.append_pair(k, v);
                }
            }
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// Requests a page with the stream's method and parses it as JSON.
    pub async fn get_page(&self, url: Url) -> Result<Page, FetchError> {
        let method = match self.method {
            crate::manifest::Method::Get => reqwest::Method::GET,
            crate::manifest::Method::Post => reqwest::Method::POST,
            crate::manifest::Method::Put => reqwest::Method::PUT,
            crate::manifest::Method::Patch => reqwest::Method::PATCH,
            crate::manifest::Method::Delete => reqwest::Method::DELETE,
        };
        let shown = self.engine.describe(&method, &url);
        let resp = self
            .engine
            .send(method, url, &HeaderMap::new(), None)
            .await?;
        let body: Value = if resp.body.iter().all(|b| b.is_ascii_whitespace()) {
            Value::Null
        } else {
            serde_json::from_slice(&resp.body).map_err(|e| {
                let ct = resp
                    .headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("no content type");
                let head = String::from_utf8_lossy(&resp.body[..resp.body.len().min(4096)]);
                let start = crate::http::error::shorten(&self.engine.redactor().redact(&head), 80);
                FetchError::NotJson {
                    request: shown.clone(),
                    detail: format!(" ({ct}; {e}); it starts with: {start}"),
                }
            })?
        };
        if let Some(check) = &self.body_errors {
            check.check(&body, &shown)?;
        }
        Ok(Page {
            body,
            headers: resp.headers,
            status: resp.status,
            request: shown,
            elapsed: resp.elapsed,
        })
    }

    /// The records of a page through the stream's `records` path.
    pub fn select<'p>(&self, page: &'p Page) -> Vec<&'p Value> {
        let mut out = Vec::new();
        self.records.for_each(&page.body, &mut |v| out.push(v));
        out
    }
}

impl Emitter<'_> {
    /// Extracts and sends the records of a page. `position` names the page in
    /// messages. Stops quietly when the limit is reached or the consumer left.
    pub async fn emit(&mut self, page: &Page, records: Vec<&Value>, position: &str) -> PageOutcome {
        let transformed = if self.stream.record_transforms.is_empty() {
            Vec::new()
        } else {
            record_transforms::apply(&self.stream.record_transforms, &records).await
        };
        let (fields, run) = (self.stream.fields.clone(), self.run.clone());
        let count = records.len();
        let extracted = records.into_iter().enumerate().map(|(i, raw)| {
            let (result, dropped_by) = match transformed.get(i) {
                None => (fields.extract(raw, &run), None),
                Some(record_transforms::Outcome::Keep(v)) => (fields.extract(v.view(), &run), None),
                Some(record_transforms::Outcome::Drop(d)) => {
                    (Err(d.reason.clone()), d.plugin.clone())
                }
            };
            result.map_err(|reason| Refused {
                key: raw_key(raw, &fields),
                reason,
                dropped_by,
            })
        });
        let meta = PageMeta {
            request: &page.request,
            status: page.status,
            elapsed: page.elapsed,
        };
        self.send_records(count, extracted, position, meta).await
    }

    /// Sends the records of a page extracted where it was parsed
    /// ([`Requester::extract_page`]).
    pub async fn emit_extracted(&mut self, page: ExtractedPage, position: &str) -> PageOutcome {
        let meta = PageMeta {
            request: &page.request,
            status: page.status,
            elapsed: page.elapsed,
        };
        self.send_records(page.records.len(), page.records.into_iter(), position, meta)
            .await
    }

    /// De-duplicates and sends a page's `count` records in batches, pulling each from
    /// `extracted` only when it is wanted.
    async fn send_records(
        &mut self,
        count: usize,
        extracted: impl Iterator<Item = Extracted>,
        position: &str,
        meta: PageMeta<'_>,
    ) -> PageOutcome {
        let mut out = PageOutcome {
            count,
            first_key: None,
            last_key: None,
            new: 0,
        };
        let last_index = count.saturating_sub(1);
        let mut batch = Vec::with_capacity(count.min(BATCH));
        for (i, extracted) in extracted.enumerate() {
            if self.limit.is_some_and(|l| self.summary.records >= l) {
                self.stopped = true;
            }
            if self.stopped {
                break;
            }
            let item = match extracted {
                Ok(rec) => {
                    if i == 0 {
                        out.first_key = Some(rec.key.clone());
                    }
                    if i == last_index {
                        out.last_key = Some(rec.key.clone());
                    }
                    let h = self.seen.hasher().hash_one(rec.key.as_str());
                    if !self.seen.insert(h) {
                        self.summary.duplicates += 1;
                        continue;
                    }
                    out.new += 1;
                    self.summary.records += 1;
                    Item::Record(rec)
                }
                Err(Refused {
                    key,
                    reason,
                    dropped_by,
                }) => {
                    if i == 0 {
                        out.first_key = key.clone();
                    }
                    if i == last_index {
                        out.last_key = key.clone();
                    }
                    if let Some(k) = &key {
                        // A malformed record is reported once, however often it is seen.
                        let h = self.seen.hasher().hash_one(k.as_str());
                        if !self.seen.insert(h) {
                            continue;
                        }
                    }
                    self.summary.skipped += 1;
                    Item::Skipped(Skipped {
                        position: format!("{position}, record {}", i + 1),
                        key,
                        reason,
                        dropped_by,
                    })
                }
            };
            batch.push(item);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if self.tx.send(full).await.is_err() {
                    self.stopped = true;
                }
            }
        }
        if !batch.is_empty() && self.tx.send(batch).await.is_err() {
            self.stopped = true;
        }
        if self.limit.is_some_and(|l| self.summary.records >= l) {
            self.stopped = true;
        }
        self.summary.pages += 1;
        self.observer.page(&PageEvent {
            request: meta.request.to_owned(),
            status: meta.status,
            records: out.count,
            emitted: self.summary.records,
            total: None,
            elapsed: meta.elapsed,
        });
        out
    }

    /// Sizes the key set for a list of `total` records (no rehashing as it fills).
    pub fn expect_total(&mut self, total: u64) {
        let room = total.min(10_000_000) as usize;
        self.seen.reserve(room.saturating_sub(self.seen.len()));
    }

    /// Records a warning.
    pub fn warn(&mut self, message: String) {
        tracing::warn!(message = %message);
        self.observer.warning(&message);
        self.summary.warnings.push(message);
    }
}

fn raw_key(raw: &Value, fields: &crate::compile::FieldSet) -> Option<String> {
    let f = &fields.fields[fields.primary_key];
    match &f.source {
        crate::compile::FieldSource::Path(p) => match p.first(raw)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        },
        crate::compile::FieldSource::Computed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_the_base_path() {
        let b = Url::parse("https://miro.com/api/v1/scim/").unwrap();
        assert_eq!(
            join(&b, "/Users").unwrap().as_str(),
            "https://miro.com/api/v1/scim/Users"
        );
        let b = Url::parse("https://miro.com/api/v1/scim").unwrap();
        assert_eq!(
            join(&b, "Users").unwrap().as_str(),
            "https://miro.com/api/v1/scim/Users"
        );
    }

    #[test]
    fn base64() {
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }
}
