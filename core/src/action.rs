//! Running a connector's actions: one request on one object (look a user up,
//! deactivate them), through the same HTTP engine as the streams, so credentials,
//! retries with backoff, `Retry-After`, rate limits, same-origin redirects and
//! redaction all apply.
//!
//! An [`ActionRunner`] is built once per run from the inputs (one engine, and so one
//! rate limiter, per action) and then called as often as needed. A call returns a
//! typed [`ActionOutcome`]: done (with the answer read into a record when the action
//! declares a `result`) or "no such object" (the statuses in `not_found`), which
//! callers such as workflows need to tell "this user no longer exists" from a failure.
//! Idempotency is the caller's business: the runner sends exactly what it is asked.

use std::sync::Arc;

use chrono::Utc;
use indexmap::IndexMap;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::compile::action::method_name;
use crate::compile::{Action, Connector, Record, RunContext};
use crate::fetch::{Overrides, engine_parts, join};
use crate::http::{AuthMaterial, FetchError, HttpEngine, error::shorten};
use crate::inputs::Inputs;
use crate::observe::Observer;
use crate::secret::{REDACTED, Redactor};

/// The values of one call: the action's params, and settings that override the
/// manifest's for this call.
#[derive(Clone, Debug, Default)]
pub struct ActionCall {
    /// Param values by name.
    pub params: IndexMap<String, String>,
    /// Setting overrides by name.
    pub settings: IndexMap<String, Value>,
}

impl ActionCall {
    /// A call without values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a param value.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// Overrides a setting.
    pub fn setting(mut self, name: impl Into<String>, value: Value) -> Self {
        self.settings.insert(name.into(), value);
        self
    }
}

/// How a call ended, when the API answered as the manifest expects.
#[derive(Clone, Debug)]
pub enum ActionOutcome {
    /// A success status.
    Done {
        /// The status (e.g. 200 or 204).
        status: u16,
        /// The answer read with the action's `result` fields (None without a `result`,
        /// or when the answer had no body, e.g. 204).
        record: Option<Record>,
        /// The answer's JSON body (Null when empty).
        body: Value,
    },
    /// One of the action's `not_found` statuses: the object does not exist (any more).
    NotFound {
        /// The status (e.g. 404).
        status: u16,
        /// What the server said (secrets redacted), or "".
        detail: String,
    },
}

/// Why a call failed. Messages name the action and the request, secrets redacted.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The connector has no such action.
    #[error("the connector `{connector}` has no action `{action}`{hint}")]
    Unknown {
        /// Connector name.
        connector: String,
        /// The name asked for.
        action: String,
        /// " (did you mean ...?); its actions are: ..."
        hint: String,
    },
    /// Missing, unknown or empty params or settings.
    #[error("{0}")]
    Call(String),
    /// The request failed (after retries, for what is retried). The message carries
    /// `error`'s own, so `error` is not also given as the error's source (a chain
    /// printed cause by cause would repeat it).
    #[error("the action `{action}` failed: {error}")]
    Http {
        /// Action name.
        action: String,
        /// What went wrong.
        error: FetchError,
    },
    /// A 2xx status the manifest does not list in `success`.
    #[error(
        "the action `{action}` got HTTP {status} from {request}, but the manifest lists only {expected} as success{detail}"
    )]
    UnexpectedStatus {
        /// Action name.
        action: String,
        /// The status.
        status: u16,
        /// The request.
        request: String,
        /// The success statuses.
        expected: String,
        /// What the body said.
        detail: String,
    },
    /// The answer could not be read.
    #[error("the action `{action}` got an answer from {request} that cannot be read: {why}")]
    BadAnswer {
        /// Action name.
        action: String,
        /// The request.
        request: String,
        /// Why.
        why: String,
    },
}

impl ActionError {
    /// The HTTP status the server answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ActionError::Http { error, .. } => match error {
                FetchError::Unauthorized { .. } => Some(401),
                FetchError::Forbidden { .. } => Some(403),
                FetchError::Status { status, .. }
                | FetchError::RetryAfterTooLong { status, .. } => Some(*status),
                _ => None,
            },
            ActionError::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A request as it would be sent, secrets shown as `***` (for `--dry-run`).
#[derive(Clone, Debug)]
pub struct PlannedRequest {
    /// `GET`, `PATCH`, ...
    pub method: &'static str,
    /// The URL.
    pub url: String,
    /// Headers, in order (default headers, credentials, the action's).
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

/// Options of an [`ActionRunner`].
#[derive(Clone, Debug, Default)]
pub struct ActionOptions {
    /// Record the HTTP exchanges, or replay them from a cassette.
    pub tape: Option<crate::http::Tape>,
    /// The time computed fields (`sync_time`) of answers get (default: now). A replay
    /// uses the recording's time, so its records are stable.
    pub sync_time: Option<chrono::DateTime<Utc>>,
}

/// Runs the actions of one connector with one set of inputs.
pub struct ActionRunner {
    connector: Arc<Connector>,
    inputs: Inputs,
    engines: IndexMap<String, HttpEngine>,
    redactor: Arc<Redactor>,
    auth: AuthMaterial,
    default_headers: Vec<(String, String)>,
    sync_time: Option<chrono::DateTime<Utc>>,
}

struct Rendered {
    method: reqwest::Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

impl ActionRunner {
    /// Prepares every action (base URL, credentials, one engine and rate limiter each).
    pub fn new(
        connector: Arc<Connector>,
        inputs: &Inputs,
        observer: Arc<dyn Observer>,
    ) -> Result<ActionRunner, FetchError> {
        Self::with_options(connector, inputs, observer, ActionOptions::default())
    }

    /// [`ActionRunner::new`] with a cassette (to record or replay) and a fixed time.
    pub fn with_options(
        connector: Arc<Connector>,
        inputs: &Inputs,
        observer: Arc<dyn Observer>,
        options: ActionOptions,
    ) -> Result<ActionRunner, FetchError> {
        let mut shared = engine_parts(
            &connector,
            inputs,
            Overrides::default(),
            &[],
            connector.http.rate_limit,
        )?;
        shared.config.tape = options.tape;
        let redactor = Arc::new(shared.redactor);
        let default_headers = shared
            .config
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut engines = IndexMap::new();
        for (name, action) in &connector.actions {
            let mut config = shared.config.clone();
            config.rate_limit = action.rate_limit.or(connector.http.rate_limit);
            engines.insert(
                name.clone(),
                HttpEngine::new(config, redactor.clone(), observer.clone())?,
            );
        }
        Ok(ActionRunner {
            auth: shared.config.auth.clone(),
            connector,
            inputs: inputs.clone(),
            engines,
            redactor,
            default_headers,
            sync_time: options.sync_time,
        })
    }

    /// The connector.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    fn find(&self, name: &str) -> Result<(&Action, &HttpEngine), ActionError> {
        match (self.connector.actions.get(name), self.engines.get(name)) {
            (Some(a), Some(e)) => Ok((a, e)),
            _ => {
                let names: Vec<&str> = self.connector.actions.keys().map(String::as_str).collect();
                let hint = match rollcall_source::suggest(name, names.iter().copied()) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => String::new(),
                };
                let list = if names.is_empty() {
                    "; it declares no actions".to_string()
                } else {
                    format!("; its actions are: {}", names.join(", "))
                };
                Err(ActionError::Unknown {
                    connector: self.connector.name.clone(),
                    action: name.to_string(),
                    hint: format!("{hint}{list}"),
                })
            }
        }
    }

    /// The template context of a call: inputs, settings (overridden), params. Every
    /// problem with the call's values is reported at once.
    fn context(&self, action: &Action, call: &ActionCall) -> Result<Value, ActionError> {
        let mut problems = Vec::new();
        let Value::Object(mut ctx) = self.inputs.context() else {
            return Err(ActionError::Call(
                "internal: inputs are not an object".into(),
            ));
        };
        for (k, v) in &action.settings {
            ctx.insert(k.clone(), call.settings.get(k).unwrap_or(v).clone());
        }
        for k in call.settings.keys() {
            if !action.settings.contains_key(k) {
                problems.push(unknown(action, k, "setting"));
            }
        }
        for (k, v) in &call.params {
            if !action.params.contains_key(k) {
                problems.push(unknown(action, k, "param"));
            } else if v.trim().is_empty() {
                problems.push(format!(
                    "the param `{k}` of `{}` is empty; an empty id could address a whole collection, so rollcall refuses it",
                    action.name
                ));
            } else {
                ctx.insert(k.clone(), Value::String(v.clone()));
            }
        }
        for (k, spec) in &action.params {
            if !call.params.contains_key(k) {
                problems.push(format!(
                    "the action `{}` needs the param `{k}` ({})",
                    action.name,
                    spec.description.trim_end_matches('.')
                ));
            }
        }
        if problems.is_empty() {
            Ok(Value::Object(ctx))
        } else {
            Err(ActionError::Call(problems.join("; ")))
        }
    }

    fn render(&self, action: &Action, call: &ActionCall) -> Result<Rendered, ActionError> {
        let ctx = self.context(action, call)?;
        let t = &self.connector.templates;
        let fail = |e: String| ActionError::Call(format!("the action `{}`: {e}", action.name));
        let render = |tpl| t.render(tpl, &ctx).map_err(fail);
        let base = self.engines[&action.name].origin();
        let path = render(&action.path)?;
        let mut url = join(base, &path).map_err(|e| fail(e.to_string()))?;
        if !action.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, tpl) in &action.query {
                q.append_pair(k, &render(tpl)?);
            }
        }
        let mut headers = HeaderMap::new();
        for (name, tpl) in &action.headers {
            let value = render(tpl)?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| fail(format!("`{name}` is not a valid header name")))?;
            let value = HeaderValue::from_str(&value).map_err(|_| {
                fail(format!(
                    "the `{name}` header value contains characters a header cannot carry"
                ))
            })?;
            headers.insert(name, value);
        }
        let body = match &action.body {
            None => None,
            Some(tpl) => {
                let text = render(tpl)?;
                let value: Value = serde_json::from_str(&text).map_err(|e| {
                    fail(format!(
                        "the body rendered from these values is not JSON ({e}): {}; write values with `{{{{json NAME}}}}`",
                        shorten(&self.redactor.redact(&text), 160)
                    ))
                })?;
                let has_type = headers.contains_key(CONTENT_TYPE)
                    || self
                        .default_headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
                if !has_type {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                Some(serde_json::to_vec(&value).map_err(|e| fail(e.to_string()))?)
            }
        };
        let method = reqwest::Method::from_bytes(method_name(action.method).as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        Ok(Rendered {
            method,
            url,
            headers,
            body,
        })
    }

    /// The request a call would send, secrets shown as `***`. Sends nothing.
    pub fn plan(&self, name: &str, call: &ActionCall) -> Result<PlannedRequest, ActionError> {
        let (action, _) = self.find(name)?;
        let r = self.render(action, call)?;
        let mut url = r.url.clone();
        let mut headers = self.default_headers.clone();
        match &self.auth {
            AuthMaterial::Header(name, _) => {
                headers.push((name.as_str().to_string(), REDACTED.to_string()))
            }
            AuthMaterial::Query(name, _) => {
                url.query_pairs_mut().append_pair(name, REDACTED);
            }
            // The auth plugin makes its headers when a request is sent; a plan does not call it.
            AuthMaterial::Provider(_) => headers.push((
                "(headers from the auth plugin)".to_string(),
                REDACTED.to_string(),
            )),
            // The token is fetched when a request is sent; a plan does not fetch it.
            AuthMaterial::Token(_) => headers.push((
                "(header with the token from the token endpoint)".to_string(),
                REDACTED.to_string(),
            )),
            AuthMaterial::None => {}
        }
        for (k, v) in &r.headers {
            headers.push((
                k.as_str().to_string(),
                self.redactor.redact(&String::from_utf8_lossy(v.as_bytes())),
            ));
        }
        Ok(PlannedRequest {
            method: method_name(action.method),
            url: self.redactor.redact(url.as_str()),
            headers,
            body: r
                .body
                .map(|b| self.redactor.redact(&String::from_utf8_lossy(&b))),
        })
    }

    /// Sends the action's request and reads the answer.
    pub async fn call(&self, name: &str, call: &ActionCall) -> Result<ActionOutcome, ActionError> {
        let (action, engine) = self.find(name)?;
        let r = self.render(action, call)?;
        let shown = engine.describe(&r.method, &r.url);
        let resp = match engine.send(r.method, r.url, &r.headers, r.body).await {
            Ok(resp) => resp,
            Err(FetchError::Status { status, detail, .. })
                if action.not_found.contains(&status) =>
            {
                return Ok(ActionOutcome::NotFound {
                    status,
                    detail: detail.trim_start_matches(": ").to_string(),
                });
            }
            Err(error) => {
                return Err(ActionError::Http {
                    action: action.name.clone(),
                    error,
                });
            }
        };
        let text = String::from_utf8_lossy(&resp.body);
        if !action.success.is_empty() && !action.success.contains(&resp.status) {
            let ct = resp.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
            return Err(ActionError::UnexpectedStatus {
                action: action.name.clone(),
                status: resp.status,
                request: shown,
                expected: action
                    .success
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                detail: crate::http::error::describe_error_body(
                    ct,
                    self.redactor.redact(&text).as_bytes(),
                ),
            });
        }
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| ActionError::BadAnswer {
                action: action.name.clone(),
                request: shown.clone(),
                why: format!(
                    "the body is not JSON ({e}); it starts with: {}",
                    shorten(&self.redactor.redact(&text), 80)
                ),
            })?
        };
        if let Some(check) = &self.connector.http.body_errors
            && let Err(error) = check.check(&body, &shown)
        {
            if let FetchError::InBody { detail, .. } = &error {
                let text = detail.trim_start_matches(": ");
                if action.not_found_errors.iter().any(|m| m == text) {
                    return Ok(ActionOutcome::NotFound {
                        status: resp.status,
                        detail: text.to_string(),
                    });
                }
            }
            return Err(ActionError::Http {
                action: action.name.clone(),
                error,
            });
        }
        let record = match (&action.result, &body) {
            (Some(result), b) if !b.is_null() => match result.record.first(b) {
                None | Some(Value::Null) => None,
                Some(raw) => Some(
                    result
                        .fields
                        .extract(
                            raw,
                            &RunContext::new(self.sync_time.unwrap_or_else(Utc::now)),
                        )
                        .map_err(|why| ActionError::BadAnswer {
                            action: action.name.clone(),
                            request: shown.clone(),
                            why,
                        })?,
                ),
            },
            _ => None,
        };
        Ok(ActionOutcome::Done {
            status: resp.status,
            record,
            body,
        })
    }
}

fn unknown(action: &Action, name: &str, what: &str) -> String {
    let names: Vec<&str> = if what == "param" {
        action.params.keys().map(String::as_str).collect()
    } else {
        action.settings.keys().map(String::as_str).collect()
    };
    let hint = match rollcall_source::suggest(name, names.iter().copied()) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None if names.is_empty() => format!("; it has no {what}s"),
        None => format!("; its {what}s are: {}", names.join(", ")),
    };
    format!("the action `{}` has no {what} `{name}`{hint}", action.name)
}
