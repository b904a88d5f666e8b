//! Compiling a manifest into a runnable [`Connector`]: every template and JSONPath
//! parsed once, every reference checked, every problem reported with its location.

pub mod action;
pub mod field;
pub mod path;
mod plugins;
pub mod template;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use rollcall_source::{Diagnostic, Document, suggest};

use crate::manifest::{
    AuthSpec, ConnectorManifest, CursorSource, FieldSpec, FieldType, InputSpec, Method,
    PaginatorSpec, RetrySpec, Transform,
};
pub use action::{Action, ActionResult};
pub use field::{Field, FieldSet, FieldSource, Record, RunContext};
pub use path::JsonPath;
pub use template::{Template, Templates};
pub use token::{TokenBody, TokenEndpoint};

/// A connector ready to run: the manifest with everything parsed and checked.
#[derive(Debug)]
pub struct Connector {
    /// Connector name (e.g. `miro`).
    pub name: String,
    /// Display name (e.g. `Miro`).
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Manifest version.
    pub version: String,
    /// Documentation link.
    pub docs: Option<String>,
    /// Where the manifest came from (file path or `built-in:miro`).
    pub origin: String,
    /// Declared inputs.
    pub inputs: IndexMap<String, InputSpec>,
    /// HTTP settings.
    pub http: HttpConfig,
    /// Authentication.
    pub auth: Auth,
    /// Streams by name, in manifest order.
    pub streams: IndexMap<String, Stream>,
    /// Actions by name, in manifest order.
    pub actions: IndexMap<String, Action>,
    /// The templates referenced above.
    pub templates: Templates,
}

/// Compiled HTTP settings.
#[derive(Debug)]
pub struct HttpConfig {
    /// Base URL template.
    pub base_url: Template,
    /// Default headers.
    pub headers: Vec<(String, Template)>,
    /// Request timeout.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetrySpec,
    /// Rate limit: requests per window.
    pub rate_limit: Option<(u32, Duration)>,
    /// How a 2xx answer says it is an error, for APIs that do that.
    pub body_errors: Option<BodyErrors>,
}

/// Compiled `http.body_errors`.
#[derive(Clone, Debug)]
pub struct BodyErrors {
    /// The flag that is `true` in a good answer.
    pub ok: JsonPath,
    /// The error's text.
    pub message: Option<JsonPath>,
}

impl BodyErrors {
    /// An error when `body` (the answer to `request`) reports one.
    pub fn check(&self, body: &serde_json::Value, request: &str) -> Result<(), crate::FetchError> {
        if self.ok.first(body) == Some(&serde_json::Value::Bool(true)) {
            return Ok(());
        }
        let detail = match self.message.as_ref().and_then(|m| m.first(body)) {
            Some(serde_json::Value::String(s)) => format!(": {s}"),
            Some(v) if !v.is_null() => format!(": {v}"),
            _ => String::new(),
        };
        Err(crate::FetchError::InBody {
            request: request.to_string(),
            detail,
            flag: self.ok.source().to_string(),
        })
    }
}

/// Compiled authentication.
#[derive(Debug)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// Token template.
        token: Template,
    },
    /// A header whose value is secret.
    Header {
        /// Header name.
        name: String,
        /// Value template.
        value: Template,
    },
    /// HTTP basic.
    Basic {
        /// User template.
        username: Template,
        /// Password template.
        password: Template,
    },
    /// A secret query parameter.
    Query {
        /// Parameter name.
        name: String,
        /// Value template.
        value: Template,
    },
    /// Headers from an auth-provider plugin.
    Plugin(crate::plugin::PluginFn),
    /// An access token from a token endpoint.
    Token(Box<TokenEndpoint>),
    /// None.
    None,
}

/// A compiled stream.
#[derive(Debug)]
pub struct Stream {
    /// Stream name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub path: Template,
    /// Query parameter templates.
    pub query: Vec<(String, Template)>,
    /// Header templates.
    pub headers: Vec<(String, Template)>,
    /// Pagination.
    pub paginator: Paginator,
    /// The most pages one read (one SCIM pass) may take; a list that still has a
    /// next page there fails the read (`max_pages`, default [`DEFAULT_MAX_PAGES`]).
    pub max_pages: u64,
    /// Selects the records in a page.
    pub records: JsonPath,
    /// Fields, shared with every record.
    pub fields: Arc<FieldSet>,
    /// Base URL template, when the stream has its own (else `http.base_url`).
    pub base_url: Option<Template>,
    /// Authentication, when the stream has its own (else the connector's).
    pub auth: Option<Auth>,
    /// The inputs the stream's requests use (URL, path, query, headers, auth).
    pub uses_inputs: Vec<String>,
    /// Joins: fields copied from other streams by key.
    pub enrich: Vec<Enrich>,
    /// Plugin record transforms, applied in order to each page of raw records.
    pub record_transforms: Vec<crate::plugin::PluginFn>,
}

/// A compiled join (`enrich` in a stream).
#[derive(Clone, Debug)]
pub struct Enrich {
    /// The stream the fields come from.
    pub from: String,
    /// The field of `from` matched against this stream's primary key.
    pub on: String,
    /// The fields of `from` copied.
    pub fields: Vec<String>,
}

/// The templates of an auth (for finding the inputs it uses).
fn auth_templates(auth: &Auth) -> Vec<&Template> {
    match auth {
        Auth::Bearer { token } => vec![token],
        Auth::Header { value, .. } | Auth::Query { value, .. } => vec![value],
        Auth::Basic { username, password } => vec![username, password],
        Auth::Token(t) => t.request_templates(),
        Auth::Plugin(_) | Auth::None => Vec::new(),
    }
}

/// Checks the joins of stream `sname` (at `sp`) against the manifest's other streams.
fn compile_enrich(
    m: &ConnectorManifest,
    sname: &str,
    sp: &str,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Enrich> {
    let Some(stream) = m.streams.get(sname) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, e) in stream.enrich.iter().enumerate() {
        let at = format!("{sp}/enrich/{i}");
        let from = match m.streams.get(&e.from) {
            Some(_) if e.from == sname => {
                diags.push(doc.error_at(
                    &format!("{at}/from"),
                    format!("the stream `{sname}` cannot enrich from itself"),
                    Some("name another stream of this connector".into()),
                ));
                continue;
            }
            Some(f) => f,
            None => {
                let others: Vec<&str> = m
                    .streams
                    .keys()
                    .map(String::as_str)
                    .filter(|n| *n != sname)
                    .collect();
                let hint = if others.is_empty() {
                    "declare the stream under `streams` first".to_string()
                } else {
                    format!("the other streams are: {}", others.join(", "))
                };
                diags.push(doc.error_at(
                    &format!("{at}/from"),
                    format!(
                        "the stream `{sname}` enriches from `{}`, which this connector does not declare",
                        e.from
                    ),
                    Some(hint),
                ));
                continue;
            }
        };
        let known = |field: &str| from.fields.contains_key(field);
        let fields_hint = || {
            let names: Vec<&str> = from.fields.keys().map(String::as_str).collect();
            format!("the fields of `{}` are: {}", e.from, names.join(", "))
        };
        let mut ok = true;
        if !known(&e.on) {
            diags.push(doc.error_at(
                &format!("{at}/on"),
                format!("the stream `{}` has no field `{}` to join on", e.from, e.on),
                Some(fields_hint()),
            ));
            ok = false;
        }
        if e.fields.is_empty() {
            diags.push(doc.error_at(
                &format!("{at}/fields"),
                "a join copies at least one field",
                Some(format!(
                        "e.g. `fields: [{}]`",
                        from.fields
                            .keys()
                            .last()
                            .map(String::as_str)
                            .unwrap_or("id")
                    )),
            ));
            ok = false;
        }
        for (k, f) in e.fields.iter().enumerate() {
            if !known(f) {
                diags.push(doc.error_at(
                    &format!("{at}/fields/{k}"),
                    format!("the stream `{}` has no field `{f}` to copy", e.from),
                    Some(fields_hint()),
                ));
                ok = false;
            }
        }
        if ok {
            out.push(Enrich {
                from: e.from.clone(),
                on: e.on.clone(),
                fields: e.fields.clone(),
            });
        }
    }
    out
}

/// Pages one read of a list may take when the stream does not set `max_pages`: a loop
/// guard far above any real directory.
pub const DEFAULT_MAX_PAGES: u64 = 1_000_000;

/// Compiled pagination.
#[derive(Clone, Debug)]
pub enum Paginator {
    /// SCIM startIndex/count.
    Scim {
        /// Requested page size.
        page_size: u32,
        /// Pages in flight.
        concurrency: u32,
        /// Passes allowed when the list shifts.
        max_passes: u32,
    },
    /// Offset/limit.
    Offset {
        /// Page size.
        page_size: u32,
        /// Offset parameter.
        offset_param: String,
        /// Limit parameter.
        limit_param: String,
        /// First offset.
        start: u64,
        /// Total records path.
        total: Option<JsonPath>,
    },
    /// Page numbers.
    Page {
        /// Page size.
        page_size: u32,
        /// Page parameter.
        page_param: String,
        /// Size parameter.
        size_param: String,
        /// First page.
        start_page: u64,
        /// Total pages path.
        total_pages: Option<JsonPath>,
    },
    /// Cursor.
    Cursor {
        /// Where the next cursor is.
        next: CursorFrom,
        /// Parameter name for the cursor.
        cursor_param: String,
        /// Page size parameter and value.
        size: Option<(String, u32)>,
    },
    /// Link header.
    LinkHeader {
        /// Page size parameter and value.
        size: Option<(String, u32)>,
    },
    /// A plugin's paginator function, asked for the next request after each page.
    Plugin(crate::plugin::PluginFn),
    /// One request.
    None,
}

impl Paginator {
    /// The same paging with the page size cut to `limit` records, so a read that
    /// stops after a few records (`rollcall check`, `fetch --limit 1`) asks for no
    /// more than it needs. Paginators without a page size parameter are unchanged.
    pub fn limited_to(&self, limit: Option<u64>) -> Paginator {
        let Some(limit) = limit else {
            return self.clone();
        };
        let cut = |n: u32| u64::from(n).min(limit.max(1)) as u32;
        let mut p = self.clone();
        match &mut p {
            Paginator::Scim { page_size, .. }
            | Paginator::Offset { page_size, .. }
            | Paginator::Page { page_size, .. } => *page_size = cut(*page_size),
            Paginator::Cursor {
                size: Some((_, n)), ..
            }
            | Paginator::LinkHeader { size: Some((_, n)) } => *n = cut(*n),
            Paginator::Cursor { size: None, .. }
            | Paginator::LinkHeader { size: None }
            | Paginator::Plugin(_)
            | Paginator::None => {}
        }
        p
    }
}

/// Where a cursor comes from.
#[derive(Clone, Debug)]
pub enum CursorFrom {
    /// Body path.
    Path(JsonPath),
    /// Header name.
    Header(String),
}

const JSONPATH_HINT: &str =
    "JSONPath examples: `$.Resources[*]`, `$.name.givenName`, `$.emails[?@.primary == true].value`";

const RESERVED_INPUT_NAMES: &[&str] = &["cursor", "page", "record", "response"];

/// Compiles a deserialized manifest. `doc` locates problems; every problem found is
/// returned, not just the first. Plugins cannot be loaded (see [`compile_with_plugins`]).
pub fn compile(
    m: &ConnectorManifest,
    doc: &Document,
    origin: &str,
) -> Result<Connector, Vec<Diagnostic>> {
    compile_with_plugins(m, doc, origin, &crate::plugin::NoPlugins)
}

/// [`compile`], opening the manifest's plugins through `host`.
pub fn compile_with_plugins(
    m: &ConnectorManifest,
    doc: &Document,
    origin: &str,
    host: &dyn crate::plugin::PluginHost,
) -> Result<Connector, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let opened = plugins::open_all(m, doc, host, &mut diags);
    let mut err = |pointer: &str, msg: String, hint: Option<String>| {
        diags.push(doc.error_at(pointer, msg, hint));
    };

    if m.name.is_empty()
        || !m
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        err(
            "/name",
            format!(
                "the connector name `{}` may only use lowercase letters, digits, `-` and `_`",
                m.name
            ),
            Some("e.g. `miro` or `github-emu`".into()),
        );
    }

    // Inputs.
    for (name, input) in &m.inputs {
        let ptr = format!("/inputs/{}", escape(name));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            err(
                &ptr,
                format!("the input name `{name}` may only use letters, digits and `_`"),
                None,
            );
        }
        if RESERVED_INPUT_NAMES.contains(&name.as_str()) {
            err(
                &ptr,
                format!("`{name}` is reserved and cannot be an input name"),
                None,
            );
        }
        if input.secret && input.default.is_some() {
            err(
                &format!("{ptr}/default"),
                format!("the secret input `{name}` cannot have a default"),
                Some("secrets come from the environment or the vault; remove `default`".into()),
            );
        }
    }
    let input_names: Vec<&str> = m.inputs.keys().map(String::as_str).collect();
    let secret_names: Vec<&str> = m
        .inputs
        .iter()
        .filter(|(_, i)| i.secret)
        .map(|(n, _)| n.as_str())
        .collect();

    let mut templates = Templates::new();
    let tpl = |templates: &mut Templates,
               diags: &mut Vec<Diagnostic>,
               pointer: &str,
               source: &str|
     -> Template {
        match templates.compile(source, &input_names) {
            Ok(t) => t,
            Err((msg, hint)) => {
                diags.push(doc.error_at(pointer, msg, hint));
                Template::Literal(String::new())
            }
        }
    };

    // HTTP.
    let base_url = tpl(
        &mut templates,
        &mut diags,
        "/http/base_url",
        &m.http.base_url,
    );
    if let Template::Literal(s) = &base_url
        && !s.is_empty()
        && let Err(e) = crate::http::check_base_url(s)
    {
        diags.push(doc.error_at("/http/base_url", e, None));
    }
    let mut headers = Vec::new();
    for (name, value) in &m.http.headers {
        let ptr = format!("/http/headers/{}", escape(name));
        check_header_name(name, &ptr, doc, &mut diags);
        headers.push((name.clone(), tpl(&mut templates, &mut diags, &ptr, value)));
    }
    if m.http.retry.attempts == 0 {
        diags.push(doc.error_at(
            "/http/retry/attempts",
            "`attempts` counts the first try, so it must be at least 1",
            None,
        ));
    }
    for (i, s) in m.http.retry.on_status.iter().enumerate() {
        if !(400..=599).contains(s) || (*s != 429 && *s < 500 && *s != 408) {
            diags.push(doc.error_at(
                &format!("/http/retry/on_status/{i}"),
                format!("status {s} cannot be retried: only 408, 429 and 5xx are safe to retry"),
                Some("a 4xx other than 408 and 429 means the request itself is wrong".into()),
            ));
        }
    }
    let rate_limit = match &m.http.rate_limit {
        Some(rl) if rl.requests == 0 || rl.per.get().is_zero() => {
            diags.push(doc.error_at(
                "/http/rate_limit",
                "a rate limit needs at least 1 request in a window longer than 0",
                None,
            ));
            None
        }
        Some(rl) => Some((rl.requests, rl.per.get())),
        None => None,
    };
    let body_errors = m.http.body_errors.as_ref().and_then(|b| {
        let mut path = |pointer: &str, source: &str| match JsonPath::parse(source) {
            Ok(p) => Some(p),
            Err(e) => {
                diags.push(doc.error_at(pointer, e, Some("e.g. `$.ok`".into())));
                None
            }
        };
        let ok = path("/http/body_errors/ok_path", &b.ok_path);
        let message = b
            .message_path
            .as_deref()
            .map(|m| path("/http/body_errors/message_path", m));
        match (ok, message) {
            (Some(ok), None) => Some(BodyErrors { ok, message: None }),
            (Some(ok), Some(Some(m))) => Some(BodyErrors {
                ok,
                message: Some(m),
            }),
            _ => None,
        }
    });
    let http = HttpConfig {
        base_url,
        headers,
        timeout: m.http.timeout.get(),
        retry: m.http.retry.clone(),
        rate_limit,
        body_errors,
    };

    // Auth: every auth template must draw on a secret input, and only on inputs.
    let auth_tpl = |templates: &mut Templates,
                    diags: &mut Vec<Diagnostic>,
                    pointer: &str,
                    source: &str,
                    needs_secret: bool| {
        let t = match templates.compile(source, &input_names) {
            Ok(t) => t,
            Err((msg, hint)) => {
                diags.push(doc.error_at(pointer, msg, hint));
                return Template::Literal(String::new());
            }
        };
        if needs_secret && !templates.uses_any(&t, &secret_names, &input_names) {
            let plain: Vec<&str> = input_names
                .iter()
                .copied()
                .filter(|n| templates.uses_any(&t, &[n], &input_names))
                .collect();
            let hint = match plain.first() {
                Some(n) => format!("mark the input `{n}` with `secret: true` so it is never printed or taken from the command line"),
                None => "declare the credential as an input with `secret: true` and use it here, e.g. `{{token}}`".to_string(),
            };
            diags.push(doc.error_at(
                pointer,
                format!("the auth template `{source}` uses no secret input"),
                Some(hint),
            ));
        }
        t
    };
    let compile_auth = |templates: &mut Templates,
                        diags: &mut Vec<Diagnostic>,
                        spec: &AuthSpec,
                        at: &str|
     -> Auth {
        match spec {
            AuthSpec::Bearer { token } => {
                let t = auth_tpl(templates, diags, &format!("{at}/bearer/token"), token, true);
                Auth::Bearer { token: t }
            }
            AuthSpec::Header { name, value } => {
                check_header_name(name, &format!("{at}/header/name"), doc, diags);
                let t = auth_tpl(templates, diags, &format!("{at}/header/value"), value, true);
                Auth::Header {
                    name: name.clone(),
                    value: t,
                }
            }
            AuthSpec::Basic { username, password } => {
                let u = auth_tpl(
                    templates,
                    diags,
                    &format!("{at}/basic/username"),
                    username,
                    false,
                );
                let p = auth_tpl(
                    templates,
                    diags,
                    &format!("{at}/basic/password"),
                    password,
                    true,
                );
                Auth::Basic {
                    username: u,
                    password: p,
                }
            }
            AuthSpec::Query { name, value } => {
                let t = auth_tpl(templates, diags, &format!("{at}/query/value"), value, true);
                Auth::Query {
                    name: name.clone(),
                    value: t,
                }
            }
            AuthSpec::Plugin(spec) => match opened.resolve(
                spec,
                crate::plugin::CapabilityKind::Auth,
                &format!("{at}/plugin"),
                doc,
                diags,
            ) {
                Some(p) => Auth::Plugin(p),
                None => Auth::None,
            },
            AuthSpec::TokenEndpoint(spec) => Auth::Token(Box::new(token::compile(
                spec,
                &format!("{at}/token_endpoint"),
                doc,
                templates,
                &input_names,
                &secret_names,
                diags,
            ))),
            AuthSpec::None => Auth::None,
        }
    };
    let connector_auth = compile_auth(&mut templates, &mut diags, &m.auth, "/auth");

    // Streams.
    if m.streams.is_empty() {
        diags.push(doc.error_at(
            "/streams",
            "the connector declares no stream",
            Some("add e.g. a `users` stream".into()),
        ));
    }
    let mut streams = IndexMap::new();
    for (sname, s) in &m.streams {
        let sp = format!("/streams/{}", escape(sname));
        let path = tpl(
            &mut templates,
            &mut diags,
            &format!("{sp}/request/path"),
            &s.request.path,
        );
        let mut query = Vec::new();
        for (k, v) in &s.request.query {
            query.push((
                k.clone(),
                tpl(
                    &mut templates,
                    &mut diags,
                    &format!("{sp}/request/query/{}", escape(k)),
                    v,
                ),
            ));
        }
        let mut req_headers = Vec::new();
        for (k, v) in &s.request.headers {
            let ptr = format!("{sp}/request/headers/{}", escape(k));
            check_header_name(k, &ptr, doc, &mut diags);
            req_headers.push((k.clone(), tpl(&mut templates, &mut diags, &ptr, v)));
        }
        let jp = |diags: &mut Vec<Diagnostic>, pointer: &str, source: &str| -> Option<JsonPath> {
            match JsonPath::parse(source) {
                Ok(p) => Some(p),
                Err(e) => {
                    diags.push(doc.error_at(pointer, e, Some(JSONPATH_HINT.into())));
                    None
                }
            }
        };
        let records = jp(&mut diags, &format!("{sp}/records"), &s.records);
        let paginator = match &s.paginator {
            PaginatorSpec::Scim(p) => Paginator::Scim {
                page_size: p.page_size.max(1),
                concurrency: p.concurrency.clamp(1, 32),
                max_passes: p.max_passes.clamp(1, 10),
            },
            PaginatorSpec::Offset(p) => Paginator::Offset {
                page_size: p.page_size.max(1),
                offset_param: p.offset_param.clone(),
                limit_param: p.limit_param.clone(),
                start: p.start,
                total: p
                    .total_path
                    .as_deref()
                    .and_then(|t| jp(&mut diags, &format!("{sp}/paginator/offset/total_path"), t)),
            },
            PaginatorSpec::Page(p) => Paginator::Page {
                page_size: p.page_size.max(1),
                page_param: p.page_param.clone(),
                size_param: p.size_param.clone(),
                start_page: p.start_page,
                total_pages: p.total_pages_path.as_deref().and_then(|t| {
                    jp(
                        &mut diags,
                        &format!("{sp}/paginator/page/total_pages_path"),
                        t,
                    )
                }),
            },
            PaginatorSpec::Cursor(p) => {
                let next = match &p.next {
                    CursorSource::Path(path) => CursorFrom::Path(
                        jp(
                            &mut diags,
                            &format!("{sp}/paginator/cursor/next/path"),
                            path,
                        )
                        .unwrap_or_else(|| JsonPath::parse("$").expect("`$` is a valid JSONPath")),
                    ),
                    CursorSource::Header(h) => CursorFrom::Header(h.clone()),
                };
                let size = size_param(
                    p.page_size,
                    p.size_param.as_deref(),
                    &format!("{sp}/paginator/cursor"),
                    doc,
                    &mut diags,
                );
                Paginator::Cursor {
                    next,
                    cursor_param: p.cursor_param.clone(),
                    size,
                }
            }
            PaginatorSpec::LinkHeader(p) => {
                let size = size_param(
                    p.page_size,
                    p.size_param.as_deref(),
                    &format!("{sp}/paginator/link_header"),
                    doc,
                    &mut diags,
                );
                Paginator::LinkHeader { size }
            }
            // An unresolved reference is reported; the manifest does not compile.
            PaginatorSpec::Plugin(spec) => opened
                .resolve(
                    spec,
                    crate::plugin::CapabilityKind::Paginator,
                    &format!("{sp}/paginator/plugin"),
                    doc,
                    &mut diags,
                )
                .map_or(Paginator::None, Paginator::Plugin),
            PaginatorSpec::None => Paginator::None,
        };
        if s.max_pages.is_some() && matches!(s.paginator, PaginatorSpec::None) {
            diags.push(doc.error_at(
                &format!("{sp}/max_pages"),
                format!(
                    "`max_pages` limits paging, but the stream `{sname}` has no paginator: it makes one request"
                ),
                Some("remove `max_pages`, or declare how the stream pages under `paginator`".into()),
            ));
        }

        let base_url = s.base_url.as_ref().map(|b| {
            let ptr = format!("{sp}/base_url");
            let t = tpl(&mut templates, &mut diags, &ptr, b);
            if let Template::Literal(text) = &t
                && let Err(e) = crate::http::check_base_url(text)
            {
                diags.push(doc.error_at(&ptr, e, None));
            }
            t
        });
        let auth = s
            .auth
            .as_ref()
            .map(|a| compile_auth(&mut templates, &mut diags, a, &format!("{sp}/auth")));
        // The inputs this stream's requests draw on, so a sync can tell whether the
        // inputs it has cover the stream.
        let mut used: Vec<&Template> = vec![&path, base_url.as_ref().unwrap_or(&http.base_url)];
        used.extend(query.iter().map(|(_, t)| t));
        used.extend(req_headers.iter().map(|(_, t)| t));
        used.extend(auth_templates(auth.as_ref().unwrap_or(&connector_auth)));
        let uses_inputs: Vec<String> = input_names
            .iter()
            .filter(|n| used.iter().any(|t| templates.needs(t, n, &input_names)))
            .map(|n| n.to_string())
            .collect();
        let fields = compile_fields(&s.fields, &sp, doc, &opened, &mut diags);
        let primary_key = primary_key_index(
            &s.fields,
            &s.primary_key,
            &format!("stream `{sname}`"),
            &format!("{sp}/primary_key"),
            doc,
            &mut diags,
        );
        let mut record_transforms = Vec::new();
        for (i, t) in s.record_transforms.iter().enumerate() {
            if let Some(p) = opened.resolve(
                t,
                crate::plugin::CapabilityKind::RecordTransform,
                &format!("{sp}/record_transforms/{i}"),
                doc,
                &mut diags,
            ) {
                record_transforms.push(p);
            }
        }
        if let (Some(records), true) = (records, fields.len() == s.fields.len()) {
            streams.insert(
                sname.clone(),
                Stream {
                    name: sname.clone(),
                    description: s.description.clone(),
                    method: s.request.method,
                    path,
                    query,
                    headers: req_headers,
                    paginator,
                    max_pages: s.max_pages.unwrap_or(DEFAULT_MAX_PAGES).max(1),
                    records,
                    fields: Arc::new(FieldSet {
                        fields,
                        primary_key,
                    }),
                    base_url,
                    auth,
                    uses_inputs,
                    enrich: compile_enrich(m, sname, &sp, doc, &mut diags),
                    record_transforms,
                },
            );
        }
    }

    let actions = action::compile_actions(m, doc, &mut templates, &streams, &opened, &mut diags);

    if !diags.is_empty() {
        diags.sort_by_key(|d| (d.pos.line, d.pos.column));
        diags.dedup();
        return Err(diags);
    }
    Ok(Connector {
        name: m.name.clone(),
        display_name: m.display_name.clone().unwrap_or_else(|| m.name.clone()),
        description: m.description.clone(),
        version: m.version.clone(),
        docs: m.docs.clone(),
        origin: origin.to_string(),
        inputs: m.inputs.clone(),
        http,
        auth: connector_auth,
        streams,
        actions,
        templates,
    })
}

/// Compiles the fields of a stream (or an action's result) under the JSON pointer `sp`.
fn compile_fields(
    spec: &IndexMap<String, FieldSpec>,
    sp: &str,
    doc: &Document,
    opened: &plugins::Opened,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Field> {
    let jp = |diags: &mut Vec<Diagnostic>, pointer: &str, source: &str| -> Option<JsonPath> {
        match JsonPath::parse(source) {
            Ok(p) => Some(p),
            Err(e) => {
                diags.push(doc.error_at(pointer, e, Some(JSONPATH_HINT.into())));
                None
            }
        }
    };
    let mut fields = Vec::new();
    for (fid, f) in spec {
        let fp = format!("{sp}/fields/{}", escape(fid));
        if fid.is_empty() || !fid.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            diags.push(doc.error_at(
                &fp,
                format!("the field id `{fid}` may only use letters, digits and `_`"),
                Some("field ids become column names, e.g. `family_name`".into()),
            ));
        }
        let source = match (&f.path, &f.computed) {
            (Some(p), None) => jp(diags, &format!("{fp}/path"), p).map(FieldSource::Path),
            (None, Some(c)) => {
                if !matches!(
                    f.field_type,
                    FieldType::Datetime | FieldType::String | FieldType::Json
                ) {
                    diags.push(doc.error_at(
                        &format!("{fp}/type"),
                        format!("the computed field `{fid}` is a date-time, so its type must be datetime, string or json"),
                        Some("set `type: datetime`".into()),
                    ));
                }
                Some(FieldSource::Computed(*c))
            }
            (Some(_), Some(_)) => {
                diags.push(doc.error_at(
                    &fp,
                    format!("the field `{fid}` has both `path` and `computed`"),
                    Some("keep one of them".into()),
                ));
                None
            }
            (None, None) => {
                diags.push(doc.error_at(
                    &fp,
                    format!("the field `{fid}` has neither `path` nor `computed`"),
                    Some("add e.g. `path: $.userName`".into()),
                ));
                None
            }
        };
        if let Some(d) = &f.default
            && let Err(e) = field::coerce(f.field_type, d.clone())
        {
            diags.push(doc.error_at(
                &format!("{fp}/default"),
                format!("the default of `{fid}` {e}"),
                None,
            ));
        }
        for (i, t) in f.transforms.iter().enumerate() {
            if matches!(t, Transform::ParseBool)
                && f.field_type != FieldType::Bool
                && f.field_type != FieldType::Json
            {
                diags.push(
                    doc.error_at(
                        &format!("{fp}/transforms/{i}"),
                        format!(
                            "`parse_bool` makes a boolean, but `{fid}` has type {:?}",
                            f.field_type
                        )
                        .to_lowercase(),
                        Some("set `type: bool`".into()),
                    ),
                );
            }
        }
        let plugin = f.transform.as_ref().and_then(|t| {
            opened.resolve(
                t,
                crate::plugin::CapabilityKind::FieldTransform,
                &format!("{fp}/transform"),
                doc,
                diags,
            )
        });
        if f.transform.is_some() && plugin.is_none() {
            continue;
        }
        if let Some(source) = source {
            fields.push(Field {
                id: fid.clone(),
                label: f.label.clone(),
                source,
                field_type: f.field_type,
                required: f.required,
                default: f.default.clone(),
                transforms: f.transforms.clone(),
                plugin,
            });
        }
    }
    fields
}

/// The index of the primary key `key` among `spec`'s fields (0, with a diagnostic, when
/// absent). `owner` names what the fields belong to, e.g. "stream `users`".
pub(crate) fn primary_key_index(
    spec: &IndexMap<String, FieldSpec>,
    key: &str,
    owner: &str,
    pointer: &str,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) -> usize {
    match spec.get_index_of(key) {
        Some(i) => i,
        None => {
            let hint = suggest(key, spec.keys().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| {
                    Some(format!(
                        "declare a field `{key}` or name one of: {}",
                        spec.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                });
            diags.push(doc.error_at(
                pointer,
                format!("the primary key `{key}` is not a field of {owner}"),
                hint,
            ));
            0
        }
    }
}

fn size_param(
    page_size: Option<u32>,
    param: Option<&str>,
    pointer: &str,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) -> Option<(String, u32)> {
    match (page_size, param) {
        (Some(n), Some(p)) => Some((p.to_string(), n.max(1))),
        (None, None) => None,
        (Some(_), None) => {
            diags.push(doc.error_at(
                pointer,
                "`page_size` is set but `size_param` is not, so the page size cannot be sent",
                Some("add e.g. `size_param: limit`".into()),
            ));
            None
        }
        (None, Some(_)) => {
            diags.push(doc.error_at(
                pointer,
                "`size_param` is set but `page_size` is not",
                Some("add e.g. `page_size: 100`".into()),
            ));
            None
        }
    }
}

fn check_header_name(name: &str, pointer: &str, doc: &Document, diags: &mut Vec<Diagnostic>) {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        diags.push(doc.error_at(
            pointer,
            format!("`{name}` is not a valid HTTP header name"),
            Some("header names are letters, digits and `-`".into()),
        ));
    }
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(p: &Paginator) -> Option<u32> {
        match p {
            Paginator::Scim { page_size, .. }
            | Paginator::Offset { page_size, .. }
            | Paginator::Page { page_size, .. } => Some(*page_size),
            Paginator::Cursor { size, .. } | Paginator::LinkHeader { size } => {
                size.as_ref().map(|(_, n)| *n)
            }
            Paginator::Plugin(_) | Paginator::None => None,
        }
    }

    #[test]
    fn a_limit_cuts_every_declared_page_size() {
        let all = [
            Paginator::Scim {
                page_size: 200,
                concurrency: 4,
                max_passes: 3,
            },
            Paginator::Offset {
                page_size: 100,
                offset_param: "offset".into(),
                limit_param: "limit".into(),
                start: 0,
                total: None,
            },
            Paginator::Page {
                page_size: 50,
                page_param: "page".into(),
                size_param: "per_page".into(),
                start_page: 1,
                total_pages: None,
            },
            Paginator::Cursor {
                next: CursorFrom::Header("X-Next".into()),
                cursor_param: "cursor".into(),
                size: Some(("limit".into(), 200)),
            },
            Paginator::LinkHeader {
                size: Some(("per_page".into(), 100)),
            },
        ];
        for p in &all {
            assert_eq!(sizes(&p.limited_to(Some(1))), Some(1), "{p:?}");
            assert_eq!(sizes(&p.limited_to(Some(0))), Some(1), "never a page of 0");
            assert_eq!(sizes(&p.limited_to(None)), sizes(p));
            assert_eq!(sizes(&p.limited_to(Some(100_000))), sizes(p));
        }
        let bare = Paginator::LinkHeader { size: None };
        assert_eq!(sizes(&bare.limited_to(Some(1))), None);
    }
}
