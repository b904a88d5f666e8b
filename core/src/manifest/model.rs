//! The connector manifest as written by people: serde + schemars types, no logic.
//!
//! These types are the file format (the JSON Schema in `schemas/` is generated from
//! them). Meaning is given by `compile`, which turns a manifest into a
//! [`crate::compile::Connector`].

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;

/// A rollcall connector manifest: how to read the people of one SaaS app.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "rollcall connector manifest")]
pub struct ConnectorManifest {
    /// The manifest format version. Always `rollcall/v1` for now.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    /// The connector's name: lowercase letters, digits, `-` and `_` (e.g. `miro`).
    pub name: String,
    /// The app's name as people write it (e.g. `Miro`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What this connector reads, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The version of this manifest (semver, e.g. `1.0.0`).
    pub version: String,
    /// A link to the vendor's API documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// The connection inputs the connector needs (base URL, token, ...).
    #[serde(default)]
    pub inputs: IndexMap<String, InputSpec>,
    /// How to talk to the API: base URL, headers, timeout, retries, rate limit.
    pub http: HttpSpec,
    /// How requests are authenticated.
    #[serde(default)]
    pub auth: AuthSpec,
    /// The record streams this connector can read (e.g. `users`).
    pub streams: IndexMap<String, StreamSpec>,
    /// Plugins used by fields and streams: plugin name → requirement (e.g. a sha256 pin).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub plugins: IndexMap<String, super::plugins::PluginRequirement>,
    /// Operations on one object at a time (e.g. `get_user`, `deactivate_user`), sent with
    /// the same auth, retries and rate limiting as the streams.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub actions: IndexMap<String, ActionSpec>,
}

/// Manifest format versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ApiVersion {
    /// The first format.
    #[serde(rename = "rollcall/v1")]
    V1,
}

/// One connection input.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// What the input is and where to find it.
    pub description: String,
    /// The value used when none is given. Not allowed on secret inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// An example value, for documentation and `rollcall explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// A secret (token, password): taken only from the environment or the vault,
    /// never from the command line, and never printed.
    #[serde(default)]
    pub secret: bool,
    /// Whether a run needs this input. Defaults to true for inputs without a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// HTTP settings shared by every request of the connector.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// Base URL template, e.g. `{{base_url}}`. Request paths are appended to it.
    /// Plain `http://` is allowed only for loopback hosts.
    pub base_url: String,
    /// Headers sent with every request (values are templates).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Time allowed for one request, from sending to the end of the body.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// When and how failed requests are retried.
    #[serde(default)]
    pub retry: RetrySpec,
    /// A client-side rate limit, so the API's limit is never hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// For APIs that report errors in the body of a 2xx answer (Slack's Web API answers
    /// `{"ok": false, "error": "invalid_auth"}` with 200): how to tell a good answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_errors: Option<BodyErrorsSpec>,
}

/// How a 2xx answer says it is an error.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyErrorsSpec {
    /// JSONPath to a flag that is `true` in every good answer, e.g. `$.ok`. An answer
    /// where it is anything else is an error.
    pub ok_path: String,
    /// JSONPath to the error's text, e.g. `$.error`, shown in the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_path: Option<String>,
}

fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

/// Retry policy: exponential backoff with jitter, honouring `Retry-After`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// How many times a request is tried in all (1 = no retry).
    #[serde(default = "default_attempts")]
    #[schemars(range(min = 1, max = 20))]
    pub attempts: u32,
    /// The first backoff delay.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: HumanDuration,
    /// The longest backoff delay.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
    /// HTTP statuses that are retried (timeouts and connection errors always are).
    /// Other 4xx statuses are never retried.
    #[serde(default = "default_retry_statuses")]
    pub on_status: Vec<u16>,
    /// The longest `Retry-After` the client will honour; a server asking for more
    /// fails the request with a clear error instead of stalling the run.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after: HumanDuration,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            attempts: default_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            on_status: default_retry_statuses(),
            max_retry_after: default_max_retry_after(),
        }
    }
}

fn default_attempts() -> u32 {
    5
}
fn default_initial_backoff() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(500))
}
fn default_max_backoff() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}
fn default_retry_statuses() -> Vec<u16> {
    vec![429, 500, 502, 503, 504]
}
fn default_max_retry_after() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(120))
}

/// At most `requests` requests per `per`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// How many requests.
    #[schemars(range(min = 1))]
    pub requests: u32,
    /// In how long a window, e.g. `30s`.
    pub per: HumanDuration,
}

/// How requests are authenticated. Values are templates over the inputs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthSpec {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token template, e.g. `{{token}}`.
        token: String,
    },
    /// Any header with a templated value, e.g. `Authorization: Bearer {{token}}`.
    Header {
        /// Header name.
        name: String,
        /// Header value template.
        value: String,
    },
    /// HTTP basic authentication.
    Basic {
        /// User name template.
        username: String,
        /// Password template.
        password: String,
    },
    /// A query parameter carrying the key (avoid when the API allows a header).
    Query {
        /// Parameter name.
        name: String,
        /// Parameter value template.
        value: String,
    },
    /// Headers from an auth-provider plugin, given the inputs and secrets; reused
    /// until they expire.
    Plugin(super::plugins::PluginCallSpec),
    /// An access token asked for at a token endpoint (OAuth 2 client credentials,
    /// Zoom's account credentials, ...) and sent on every request. It is kept until
    /// shortly before it expires, shared by concurrent requests, and asked for again
    /// once when the API answers 401. The token is a secret: never printed or recorded.
    TokenEndpoint(Box<TokenEndpointSpec>),
    /// No authentication.
    #[default]
    None,
}

/// How to get an access token, and how to send it. Templates see the inputs.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenEndpointSpec {
    /// The token endpoint's URL template, query included, e.g.
    /// `https://zoom.us/oauth/token?grant_type=account_credentials&account_id={{urlencode account_id}}`.
    /// Plain `http://` is allowed only for loopback hosts.
    pub url: String,
    /// HTTP method of the token request.
    #[serde(default = "default_token_method")]
    pub method: Method,
    /// HTTP basic authentication of the token request (the usual way to send an OAuth
    /// client id and secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicSpec>,
    /// Extra headers of the token request (values are templates).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// A form body (`application/x-www-form-urlencoded`), e.g.
    /// `{grant_type: client_credentials, client_id: "{{client_id}}"}`. Values are templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub form: IndexMap<String, String>,
    /// A JSON body template instead of `form`; `{{json NAME}}` writes an input as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// JSONPath to the token in the answer.
    #[serde(default = "default_token_path")]
    pub token_path: String,
    /// JSONPath to the token's lifetime in seconds. An answer without it gives a token
    /// that is kept until the API refuses it.
    #[serde(default = "default_expires_in_path")]
    pub expires_in_path: String,
    /// The header that carries the token.
    #[serde(default = "default_token_header")]
    pub header: String,
    /// The header's value template; `{{access_token}}` is the token.
    #[serde(default = "default_token_header_value")]
    pub value: String,
    /// How long before its expiry a token is replaced by a new one.
    #[serde(default = "default_refresh_margin")]
    pub refresh_margin: HumanDuration,
}

/// HTTP basic credentials (templates).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicSpec {
    /// User name template, e.g. `{{client_id}}`.
    pub username: String,
    /// Password template, e.g. `{{client_secret}}`.
    pub password: String,
}

fn default_token_method() -> Method {
    Method::Post
}
fn default_token_path() -> String {
    "$.access_token".into()
}
fn default_expires_in_path() -> String {
    "$.expires_in".into()
}
fn default_token_header() -> String {
    "Authorization".into()
}
fn default_token_header_value() -> String {
    "Bearer {{access_token}}".into()
}
fn default_refresh_margin() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}

/// One stream of records (e.g. the users of the app).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// What the records are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The list request.
    pub request: RequestSpec,
    /// How to walk through the pages.
    #[serde(default)]
    pub paginator: PaginatorSpec,
    /// The most pages one read of the list may take (for `scim`: one pass); 1000000
    /// when not set. A list that still has a next page at this limit fails the read,
    /// so a sync never takes part of a list for all of it. A guard against endless
    /// paging: raise it only for a list that really is that long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_pages: Option<u64>,
    /// JSONPath selecting the records in a page, e.g. `$.Resources[*]`.
    pub records: String,
    /// The field id that identifies a record (e.g. `id`). Records are never emitted twice.
    pub primary_key: String,
    /// The fields of a record, in output order: field id → definition.
    pub fields: IndexMap<String, FieldSpec>,
    /// A base URL template for this stream instead of `http.base_url`, for an API of the
    /// same app on another host (Miro's REST API next to its SCIM API). Headers, timeout,
    /// retries and the rate limit stay those of `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// How this stream's requests are authenticated, instead of the connector's `auth`
    /// (an API of the same app that takes another token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    /// Fields joined in from other streams of this connector, by key. A sync of this
    /// stream fetches each `from` stream after it and copies `fields` onto the accounts
    /// whose primary key equals the `on` field — when the integration's inputs cover the
    /// `from` stream and it does not turn enrichment off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrich: Vec<EnrichSpec>,
    /// Plugin record transforms and filters, applied in order to each page of raw
    /// records before the fields are extracted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_transforms: Vec<super::plugins::PluginCallSpec>,
}

/// A join: fields of another stream copied onto this stream's records by key.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrichSpec {
    /// The stream the fields come from (e.g. `members`).
    pub from: String,
    /// The field of `from` whose value equals this stream's primary key (e.g. `id`).
    pub on: String,
    /// The fields of `from` copied (e.g. `[last_activity_at]`).
    pub fields: Vec<String>,
}

/// A request, relative to `http.base_url`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// HTTP method.
    #[serde(default)]
    pub method: Method,
    /// Path template appended to the base URL, e.g. `/Users`.
    pub path: String,
    /// Query parameters (values are templates).
    #[serde(default)]
    pub query: IndexMap<String, String>,
    /// Extra headers (values are templates).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
}

/// HTTP methods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    #[default]
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// Pagination strategies.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaginatorSpec {
    /// SCIM 2.0 (RFC 7644): 1-based `startIndex` and `count`, `totalResults`.
    /// Handles short pages, missing fields and lists that change during a pass.
    Scim(ScimPaging),
    /// `offset` + `limit` parameters.
    Offset(OffsetPaging),
    /// Page numbers.
    Page(PageNumberPaging),
    /// A cursor from the response body or a header, sent back as a parameter.
    Cursor(CursorPaging),
    /// RFC 8288 `Link: <...>; rel="next"` headers.
    LinkHeader(LinkHeaderPaging),
    /// A plugin's paginator function: after each page it is sent the response (status,
    /// headers, record count, the body attributes it needs) and answers the next
    /// request (a URL on the base URL's host, or query parameters for the stream's
    /// URL) or the end. The first request is the stream's own.
    Plugin(super::plugins::PluginCallSpec),
    /// A single request.
    #[default]
    None,
}

/// SCIM paging settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimPaging {
    /// Records asked for per page (`count`). Servers may return fewer.
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1, max = 10000))]
    pub page_size: u32,
    /// Pages fetched at once once `totalResults` is known (1 = one after another).
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 32))]
    pub concurrency: u32,
    /// How many passes over the list are allowed when it changes while being read.
    #[serde(default = "default_max_passes")]
    #[schemars(range(min = 1, max = 10))]
    pub max_passes: u32,
}

/// Offset paging settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsetPaging {
    /// Records per page.
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Name of the offset parameter.
    #[serde(default = "default_offset_param")]
    pub offset_param: String,
    /// Name of the page size parameter.
    #[serde(default = "default_limit_param")]
    pub limit_param: String,
    /// The first offset (0 for most APIs, 1 for some).
    #[serde(default)]
    pub start: u64,
    /// JSONPath to the total number of records, when the API gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_path: Option<String>,
}

/// Page-number paging settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageNumberPaging {
    /// Records per page.
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Name of the page number parameter.
    #[serde(default = "default_page_param")]
    pub page_param: String,
    /// Name of the page size parameter.
    #[serde(default = "default_per_page_param")]
    pub size_param: String,
    /// The first page number.
    #[serde(default = "default_start_page")]
    pub start_page: u64,
    /// JSONPath to the total number of pages, when the API gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages_path: Option<String>,
}

/// Cursor paging settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CursorPaging {
    /// Where the next cursor is found. An empty or missing cursor ends the list.
    pub next: CursorSource,
    /// Name of the parameter the cursor is sent back in.
    #[serde(default = "default_cursor_param")]
    pub cursor_param: String,
    /// Records per page, sent as `size_param` when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Name of the page size parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_param: Option<String>,
}

/// Where a cursor comes from.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CursorSource {
    /// A JSONPath into the response body, e.g. `$.cursor`.
    Path(String),
    /// A response header.
    Header(String),
}

/// Link-header paging settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkHeaderPaging {
    /// Records per page, sent as `size_param` on the first request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Name of the page size parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_param: Option<String>,
}

fn default_page_size() -> u32 {
    100
}
fn default_concurrency() -> u32 {
    4
}
fn default_max_passes() -> u32 {
    3
}
fn default_offset_param() -> String {
    "offset".into()
}
fn default_limit_param() -> String {
    "limit".into()
}
fn default_page_param() -> String {
    "page".into()
}
fn default_per_page_param() -> String {
    "per_page".into()
}
fn default_start_page() -> u64 {
    1
}
fn default_cursor_param() -> String {
    "cursor".into()
}

/// One field of a record.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The field's label for people, e.g. `Active?`.
    pub label: String,
    /// JSONPath into the record, e.g. `$.name.givenName`. Give `path` or `computed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A value computed by rollcall instead of read from the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed: Option<Computed>,
    /// The field's type; values are coerced to it.
    #[serde(default, rename = "type")]
    pub field_type: FieldType,
    /// A record without this field is skipped and reported.
    #[serde(default)]
    pub required: bool,
    /// The value used when the record has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// Built-in transforms applied in order, before the type coercion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
    /// A plugin field transform, applied after `transforms` and before the type coercion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<super::plugins::PluginCallSpec>,
}

/// Values rollcall computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Computed {
    /// The time the sync started (RFC 3339, UTC), the same for every record of a run.
    SyncTime,
}

/// Field types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text. Numbers and booleans are turned into text.
    #[default]
    String,
    /// true/false. The strings "true"/"false" (any case) are accepted.
    Bool,
    /// A whole number. Numeric strings are accepted.
    Integer,
    /// A number. Numeric strings are accepted.
    Number,
    /// A date and time (RFC 3339), normalised to UTC.
    Datetime,
    /// A list. Several matches of the path form the list; a single value becomes a list of one.
    List,
    /// Any JSON value, kept as is.
    Json,
}

/// Built-in transforms.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Lowercase text.
    Lowercase,
    /// Uppercase text.
    Uppercase,
    /// Remove leading and trailing whitespace.
    Trim,
    /// The first element of a list (or the first of several matches).
    First,
    /// Join a list of values into text with this separator.
    Join(String),
    /// Read a boolean from text such as "true", "False", "1", "0", "yes", "no".
    ParseBool,
    /// Negate a boolean, e.g. an API's `deleted` flag into `active`.
    Not,
    /// A Unix time in seconds (number or numeric text) into an RFC 3339 date-time.
    UnixTime,
}

/// One action: a single request on one object (look it up, deactivate it, ...).
///
/// Templates (path, query, headers, body) see the connector's inputs, the action's
/// `params` (given on each call) and its `settings` (fixed in the manifest).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// What the action does, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Values given on each call, e.g. `id` (the object's id). All are required.
    #[serde(default)]
    pub params: IndexMap<String, ActionParamSpec>,
    /// Fixed values the templates use (any JSON value), e.g. the PATCH `op` spelling an
    /// API expects, or whether `active` is sent as a boolean or a string. Write
    /// `{{json NAME}}` in a body to insert one as JSON.
    #[serde(default)]
    pub settings: IndexMap<String, serde_json::Value>,
    /// The request, relative to `http.base_url`.
    pub request: RequestSpec,
    /// The JSON body template (handlebars). It must render to JSON; `{{json NAME}}`
    /// writes a value as JSON (quoted and escaped for strings, bare for booleans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The statuses that mean success, e.g. `[200, 204]`. Default: any 2xx.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success: Vec<u16>,
    /// The statuses that mean "no such object" (a typed outcome, not an error).
    #[serde(default = "default_not_found")]
    pub not_found: Vec<u16>,
    /// Error texts (read with `http.body_errors.message_path`) that also mean "no such
    /// object", for APIs that say it in a 200 answer (Slack: `user_not_found`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_found_errors: Vec<String>,
    /// A rate limit for this action's requests (instead of `http.rate_limit`), e.g.
    /// Miro's 100 PATCH requests per 30 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// How to read the answer into a record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ActionResultSpec>,
}

fn default_not_found() -> Vec<u16> {
    vec![404]
}

/// One parameter of an action.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionParamSpec {
    /// What the value is, e.g. `The user's SCIM id`.
    pub description: String,
    /// An example value, for documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

/// How an action's answer becomes a record.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionResultSpec {
    /// JSONPath selecting the object in the answer (default `$`, the whole body).
    #[serde(default = "default_result_record")]
    pub record: String,
    /// Read the object with the fields of this stream (e.g. `users`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields_from: Option<String>,
    /// Or with these fields (field id → definition), as in a stream.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fields: IndexMap<String, FieldSpec>,
    /// The field id that identifies the object (with `fields`; default `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<String>,
}

fn default_result_record() -> String {
    "$".into()
}
