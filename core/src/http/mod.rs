//! The HTTP engine: one reqwest client per run, a client-side rate limit, retries
//! with exponential backoff and jitter that honour `Retry-After`, same-origin
//! redirects only, and readable errors with secrets redacted.

pub mod cassette;
pub mod error;
pub mod token;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

pub use error::FetchError;
use error::describe_error_body;

use crate::manifest::RetrySpec;
use crate::observe::{Observer, RequestEvent};
use crate::secret::{Redactor, Secret};
pub use cassette::Tape;
pub use token::{TokenAuth, TokenRequest};

/// Largest response body accepted (a page of users is far smaller).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Checks that a base URL is absolute, http(s), and plain http only on loopback.
pub fn check_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim())
        .map_err(|e| format!("the base URL `{text}` is not a valid URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "the base URL `{text}` uses plain http; credentials are only sent over https (plain http is allowed for loopback hosts such as 127.0.0.1)"
        )),
        other => Err(format!("the base URL `{text}` uses `{other}:`; use https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether two URLs share scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Credentials applied to every request.
#[derive(Clone, Debug)]
pub enum AuthMaterial {
    /// A header.
    Header(HeaderName, Secret),
    /// A query parameter.
    Query(String, Secret),
    /// Headers from an auth-provider plugin, asked for before each request (it
    /// caches them until they expire).
    Provider(Arc<crate::fetch::PluginAuth>),
    /// An access token from a token endpoint, fetched when needed and cached until it
    /// expires.
    Token(Arc<TokenAuth>),
    /// None.
    None,
}

/// Settings of an [`HttpEngine`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Origin that requests (and redirects) must stay on.
    pub origin: Url,
    /// Default headers (not secret).
    pub headers: HeaderMap,
    /// Credentials.
    pub auth: AuthMaterial,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetrySpec,
    /// Requests per window.
    pub rate_limit: Option<(u32, Duration)>,
    /// Names of the connector's secret inputs (for 401 messages).
    pub secret_inputs: Vec<String>,
    /// Record the exchanges, or answer from a cassette instead of the network.
    pub tape: Option<Tape>,
    /// Values in JSON answers that are secrets (an access token): the redactor learns
    /// them before the answer is recorded or shown.
    pub secret_paths: Vec<crate::compile::JsonPath>,
}

/// A response whose body was read completely.
#[derive(Debug)]
pub struct Response {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
    /// The URL finally answered (after same-origin redirects).
    pub url: Url,
    /// Time from the first attempt to the end of the body.
    pub elapsed: Duration,
}

/// The HTTP engine of one run.
pub struct HttpEngine {
    client: reqwest::Client,
    limiter: Option<DefaultDirectRateLimiter>,
    config: EngineConfig,
    redactor: Arc<Redactor>,
    observer: Arc<dyn Observer>,
}

enum Attempt {
    Done(Response),
    /// A 401 to a request that carried the fetched token `generation`.
    Reauth {
        generation: u64,
        error: FetchError,
    },
    Retry {
        why: String,
        status: Option<u16>,
        retry_after: Option<Duration>,
    },
    Fail(FetchError),
}

impl HttpEngine {
    /// Builds the engine (one connection pool for the whole run).
    pub fn new(
        config: EngineConfig,
        redactor: Arc<Redactor>,
        observer: Arc<dyn Observer>,
    ) -> Result<HttpEngine, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rollcall/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.timeout.min(Duration::from_secs(15)))
            .build()
            .map_err(|e| FetchError::Url(format!("cannot set up the HTTP client: {e}")))?;
        let limiter = match config.rate_limit {
            Some((n, per)) => {
                let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
                let period = per / n.get();
                Quota::with_period(period.max(Duration::from_nanos(1)))
                    .map(|q| RateLimiter::direct(q.allow_burst(n)))
            }
            None => None,
        };
        Ok(HttpEngine {
            client,
            limiter,
            config,
            redactor,
            observer,
        })
    }

    /// The origin requests must stay on (the rendered base URL).
    pub fn origin(&self) -> &Url {
        &self.config.origin
    }

    /// The redactor (for callers building messages).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `METHOD url` with secrets scrubbed, for messages.
    pub fn describe(&self, method: &reqwest::Method, url: &Url) -> String {
        self.redactor.redact(&format!("{method} {url}"))
    }

    /// Sends a request with retries, rate limit and redirect rules; returns a 2xx
    /// response or an error that says what went wrong.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        extra_headers: &HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<Response, FetchError> {
        let shown = self.describe(&method, &url);
        if !same_origin(&url, &self.config.origin) {
            return Err(FetchError::Url(format!(
                "{shown} is on another host than the connector's base URL ({}); rollcall only sends credentials to the base URL's host",
                self.config.origin.origin().ascii_serialization()
            )));
        }
        let retry = &self.config.retry;
        let attempts = retry.attempts.max(1);
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(retry.initial_backoff.get())
            .with_max_delay(retry.max_backoff.get())
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(attempts as usize)
            .build();
        let started = Instant::now();
        let mut last = String::new();
        for attempt in 1..=attempts {
            if let Some(l) = &self.limiter {
                l.until_ready().await;
            }
            let t0 = Instant::now();
            let mut outcome = self
                .attempt(&method, &url, extra_headers, body.clone(), &shown)
                .await;
            if let (Attempt::Reauth { generation, .. }, AuthMaterial::Token(t)) =
                (&outcome, &self.config.auth)
            {
                // The API refused the token (expired early, revoked): one new token, once.
                tracing::info!(message = "The API refused the access token; fetching a new one.", request = %shown);
                self.observer.request(&RequestEvent {
                    request: shown.clone(),
                    status: Some(401),
                    attempt,
                    elapsed: t0.elapsed(),
                    note: Some(
                        "the API refused the access token; sending again with a new one".into(),
                    ),
                });
                t.invalidate(*generation).await;
                outcome = self
                    .attempt(&method, &url, extra_headers, body.clone(), &shown)
                    .await;
            }
            if let Attempt::Reauth { error, .. } = outcome {
                outcome = Attempt::Fail(error);
            }
            match outcome {
                Attempt::Done(mut r) => {
                    r.elapsed = started.elapsed();
                    self.observer.request(&RequestEvent {
                        request: shown.clone(),
                        status: Some(r.status),
                        attempt,
                        elapsed: t0.elapsed(),
                        note: None,
                    });
                    return Ok(r);
                }
                Attempt::Fail(e) => {
                    self.observer.request(&RequestEvent {
                        request: shown.clone(),
                        status: None,
                        attempt,
                        elapsed: t0.elapsed(),
                        note: Some(self.redactor.redact(&e.to_string())),
                    });
                    return Err(e);
                }
                Attempt::Reauth { .. } => {
                    return Err(FetchError::Protocol(
                        "internal: a refused token was not handled".into(),
                    ));
                }
                Attempt::Retry {
                    why,
                    status,
                    retry_after,
                } => {
                    last = why;
                    if attempt == attempts {
                        self.observer.request(&RequestEvent {
                            request: shown.clone(),
                            status,
                            attempt,
                            elapsed: t0.elapsed(),
                            note: Some(format!("{last}; giving up after {attempts} attempts")),
                        });
                        break;
                    }
                    let cap = retry.max_retry_after.get();
                    let wait = match retry_after {
                        Some(w) if w > cap => {
                            return Err(FetchError::RetryAfterTooLong {
                                request: shown,
                                status: status.unwrap_or(429),
                                wait: w,
                                cap,
                            });
                        }
                        Some(w) => w,
                        None => backoff.next().unwrap_or(retry.max_backoff.get()),
                    };
                    let note = format!(
                        "{last}; retrying in {:.1}s{} (attempt {} of {attempts})",
                        wait.as_secs_f64(),
                        if retry_after.is_some() {
                            " as Retry-After asks"
                        } else {
                            ""
                        },
                        attempt + 1
                    );
                    tracing::warn!(message = "Retrying request.", request = %shown, reason = %last, wait_ms = wait.as_millis() as u64);
                    self.observer.request(&RequestEvent {
                        request: shown.clone(),
                        status,
                        attempt,
                        elapsed: t0.elapsed(),
                        note: Some(note),
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
        Err(FetchError::RetriesExhausted {
            request: shown,
            attempts,
            last,
        })
    }

    async fn attempt(
        &self,
        method: &reqwest::Method,
        url: &Url,
        extra_headers: &HeaderMap,
        body: Option<Vec<u8>>,
        shown: &str,
    ) -> Attempt {
        // A replay asks for the token too (the cassette answers), so the token exchange
        // is part of what a cassette checks.
        let token = match &self.config.auth {
            AuthMaterial::Token(t) => match t.header(self).await {
                Ok(h) => Some(h),
                Err(e) => return Attempt::Fail(e),
            },
            _ => None,
        };
        let mut current = url.clone();
        for _hop in 0..=5 {
            let mut target = current.clone();
            if let AuthMaterial::Query(name, value) = &self.config.auth {
                target.query_pairs_mut().append_pair(name, value.expose());
            }
            let (status, headers, body) = match &self.config.tape {
                Some(Tape::Replay(player)) => {
                    let url = self.redactor.redact(target.as_str());
                    let sent = body
                        .as_ref()
                        .map(|b| self.redactor.redact(&String::from_utf8_lossy(b)));
                    match player.answer(method.as_str(), &url, sent.as_deref()) {
                        Ok(r) => {
                            let mut headers = HeaderMap::new();
                            for (k, v) in &r.headers {
                                if let (Ok(k), Ok(v)) = (
                                    HeaderName::from_bytes(k.as_bytes()),
                                    HeaderValue::from_str(v),
                                ) {
                                    headers.append(k, v);
                                }
                            }
                            let bytes = r.bytes();
                            self.learn_secrets(&bytes);
                            (r.status, headers, Some(bytes))
                        }
                        Err(why) => return Attempt::Fail(FetchError::Protocol(why)),
                    }
                }
                _ => {
                    let recorded_url = self.redactor.redact(target.as_str());
                    match self
                        .exchange(method, target, extra_headers, token.as_ref(), body.clone())
                        .await
                    {
                        Ok((status, headers, got)) => {
                            if let Some(b) = &got {
                                self.learn_secrets(b);
                            }
                            if let (Some(Tape::Record(rec)), Some(b)) = (&self.config.tape, &got) {
                                let request_body = body
                                    .as_ref()
                                    .map(|b| self.redactor.redact(&String::from_utf8_lossy(b)));
                                rec.push(
                                    method.as_str(),
                                    recorded_url,
                                    request_body.as_deref(),
                                    status,
                                    &self.redact_headers(&headers),
                                    &self.redactor.redact(&String::from_utf8_lossy(b)),
                                );
                            }
                            (status, headers, got)
                        }
                        Err(a) => return a,
                    }
                }
            };
            if (300..400).contains(&status) && status != 304 {
                let location = headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let Some(location) = location else {
                    return Attempt::Fail(FetchError::Status {
                        status,
                        request: shown.to_string(),
                        detail: ": a redirect without a Location header".into(),
                    });
                };
                let next = match current.join(&location) {
                    Ok(u) => u,
                    Err(_) => {
                        return Attempt::Fail(FetchError::RedirectToOtherHost {
                            request: shown.to_string(),
                            location: self.redactor.redact(&location),
                        });
                    }
                };
                if !same_origin(&next, &self.config.origin) {
                    return Attempt::Fail(FetchError::RedirectToOtherHost {
                        request: shown.to_string(),
                        location: self.redactor.redact(next.as_str()),
                    });
                }
                current = next;
                continue;
            }
            let Some(body) = body else {
                return Attempt::Fail(FetchError::Protocol(format!(
                    "{shown} answered with more than {} MiB; rollcall refuses bodies that large",
                    MAX_BODY_BYTES / (1024 * 1024)
                )));
            };
            if (200..300).contains(&status) {
                return Attempt::Done(Response {
                    status,
                    headers,
                    body,
                    url: current,
                    elapsed: Duration::ZERO,
                });
            }
            let ct = headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let redacted_body = self.redactor.redact(&String::from_utf8_lossy(&body));
            let detail = describe_error_body(ct, redacted_body.as_bytes());
            if self.config.retry.on_status.contains(&status) {
                return Attempt::Retry {
                    why: format!("HTTP {status}{detail}"),
                    status: Some(status),
                    retry_after: retry_after(&headers),
                };
            }
            if let (401, Some(t)) = (status, &token) {
                return Attempt::Reauth {
                    generation: t.generation,
                    error: FetchError::Unauthorized {
                        request: shown.to_string(),
                        detail,
                        secrets: self.secret_list(),
                    },
                };
            }
            return Attempt::Fail(match status {
                401 => FetchError::Unauthorized {
                    request: shown.to_string(),
                    detail,
                    secrets: self.secret_list(),
                },
                403 => FetchError::Forbidden {
                    request: shown.to_string(),
                    detail,
                },
                _ => FetchError::Status {
                    status,
                    request: shown.to_string(),
                    detail,
                },
            });
        }
        Attempt::Fail(FetchError::Protocol(format!(
            "{shown} was redirected more than 5 times"
        )))
    }

    /// The secret inputs' names, for messages.
    fn secret_list(&self) -> String {
        self.config
            .secret_inputs
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Teaches the redactor the values at `secret_paths` in a JSON answer.
    fn learn_secrets(&self, body: &[u8]) {
        if self.config.secret_paths.is_empty() {
            return;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        for path in &self.config.secret_paths {
            path.for_each(&v, &mut |found| {
                if let serde_json::Value::String(s) = found
                    && s != crate::secret::REDACTED
                {
                    self.redactor.learn(&Secret::new(s.as_str()));
                }
            });
        }
    }

    /// One request on the network: status, headers and the body (None when too large).
    async fn exchange(
        &self,
        method: &reqwest::Method,
        target: Url,
        extra_headers: &HeaderMap,
        token: Option<&token::TokenHeader>,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, HeaderMap, Option<Vec<u8>>), Attempt> {
        let mut req = self
            .client
            .request(method.clone(), target)
            .timeout(self.config.timeout)
            .headers(self.config.headers.clone())
            .headers(extra_headers.clone());
        if let AuthMaterial::Header(name, value) = &self.config.auth {
            match HeaderValue::from_str(value.expose()) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    req = req.header(name.clone(), v);
                }
                Err(_) => {
                    return Err(Attempt::Fail(FetchError::Template(format!(
                        "the `{name}` header rendered from the credentials contains characters a header cannot carry (a line break?); check the secret inputs"
                    ))));
                }
            }
        }
        if let AuthMaterial::Provider(p) = &self.config.auth {
            let p = Arc::clone(p);
            let headers = match tokio::task::spawn_blocking(move || p.headers()).await {
                Ok(Ok(h)) => h,
                Ok(Err(e)) => {
                    return Err(Attempt::Fail(FetchError::Template(
                        self.redactor.redact(&e),
                    )));
                }
                Err(e) => {
                    return Err(Attempt::Fail(FetchError::Template(format!(
                        "the auth plugin stopped unexpectedly: {e}"
                    ))));
                }
            };
            // Refreshed headers are secrets too: known to the redactor before they are
            // sent, so an echo in an answer, an error or a cassette shows `***`.
            for secret in crate::fetch::plugin_auth::secrets_of(&headers) {
                self.redactor.learn(&secret);
            }
            for (name, value) in headers {
                req = req.header(name, value);
            }
        }
        if let Some(t) = token {
            req = req.header(t.name.clone(), t.value.clone());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(e)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        match read_body(resp).await {
            Ok(b) => Ok((status, headers, b)),
            Err(e) => Err(self.transport_error(e)),
        }
    }

    /// Response headers with known secrets scrubbed from their values (for cassettes).
    fn redact_headers(&self, headers: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let value = match value.to_str() {
                Ok(text) => match HeaderValue::from_str(&self.redactor.redact(text)) {
                    Ok(v) => v,
                    Err(_) => continue,
                },
                Err(_) => value.clone(),
            };
            out.append(name.clone(), value);
        }
        out
    }

    fn transport_error(&self, e: reqwest::Error) -> Attempt {
        let why = if e.is_timeout() {
            format!(
                "no complete answer within {:?} (timeout)",
                self.config.timeout
            )
        } else if e.is_connect() {
            format!("could not connect ({})", root_cause(&e))
        } else {
            format!("the connection failed ({})", root_cause(&e))
        };
        Attempt::Retry {
            why: self.redactor.redact(&why),
            status: None,
            retry_after: None,
        }
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

async fn read_body(mut resp: reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut out = Vec::with_capacity(
        resp.content_length()
            .unwrap_or(0)
            .min(MAX_BODY_BYTES as u64) as usize,
    );
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > MAX_BODY_BYTES {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// Parses `Retry-After`: delta seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(1.0e9)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let now = chrono::Utc::now();
    let delta = when.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert!(check_base_url("https://miro.com/api/v1/scim").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080/scim").is_ok());
        assert!(check_base_url("http://localhost/scim").is_ok());
        assert!(check_base_url("http://[::1]:9/scim").is_ok());
        assert!(
            check_base_url("http://miro.com/api")
                .unwrap_err()
                .contains("plain http")
        );
        assert!(check_base_url("ftp://x").unwrap_err().contains("ftp"));
        assert!(
            check_base_url("not a url")
                .unwrap_err()
                .contains("not a valid URL")
        );
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("soon"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn origins() {
        let a = Url::parse("https://miro.com/api/v1/scim").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://MIRO.com:443/other").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://evil.example/").unwrap()
        ));
        assert!(!same_origin(&a, &Url::parse("http://miro.com/").unwrap()));
    }
}
