//! Access tokens from a token endpoint (`auth.token_endpoint`: OAuth 2 client
//! credentials, Zoom's account credentials and the like).
//!
//! The token is asked for when the first request needs it, through an engine of its
//! own (the token endpoint is often on another host than the API) that shares the
//! run's redactor, cassette and observer. It is kept, like an auth plugin's headers,
//! until shortly before it expires. The cache sits behind an async lock held while a
//! token is fetched, so concurrent page requests wait for one token instead of each
//! asking for their own. A 401 from the API drops the token it was sent with (only
//! that one: a token already replaced by another request stays) and the request is
//! sent once more with a new token.
//!
//! The token is a secret: the engine learns the values at `token_path` (and the
//! usual OAuth secrets `refresh_token` and `id_token`) before the answer is recorded
//! or shown, so cassettes, `--explain` lines and errors carry `***` instead.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

use super::{EngineConfig, FetchError, HttpEngine};
use crate::compile::JsonPath;
use crate::secret::Secret;

/// The rendered token request and how to read and send its answer.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// Method.
    pub method: reqwest::Method,
    /// URL (query included).
    pub url: Url,
    /// Headers (basic credentials, content type, the manifest's), marked sensitive.
    pub headers: HeaderMap,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Where the token is in the answer.
    pub token: JsonPath,
    /// Where its lifetime in seconds is.
    pub expires_in: JsonPath,
    /// The header that carries the token.
    pub header: HeaderName,
    /// The header value before and after the token (`Bearer ` and ``).
    pub around: (String, String),
    /// How long before expiry a token is replaced.
    pub refresh_margin: Duration,
}

/// Tokens from a token endpoint, cached until they expire.
pub struct TokenAuth {
    request: TokenRequest,
    engine: OnceLock<HttpEngine>,
    cache: tokio::sync::Mutex<Cache>,
    issued: AtomicU64,
}

#[derive(Default)]
struct Cache {
    current: Option<Cached>,
    generation: u64,
}

struct Cached {
    value: HeaderValue,
    generation: u64,
    until: Option<Instant>,
}

/// The header to send, and which token it holds (for [`TokenAuth::invalidate`]).
#[derive(Clone, Debug)]
pub struct TokenHeader {
    /// Header name.
    pub name: HeaderName,
    /// Header value (sensitive).
    pub value: HeaderValue,
    /// Which token this is (counts up with every token fetched).
    pub generation: u64,
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth")
            .field("url", &self.request.url.origin().ascii_serialization())
            .finish_non_exhaustive()
    }
}

/// Fields of a token answer that are secret besides the token itself.
const OAUTH_SECRETS: &[&str] = &["$.refresh_token", "$.id_token"];

impl TokenAuth {
    /// Tokens from `request`. Nothing is sent before the first request needs a token.
    pub fn new(request: TokenRequest) -> Self {
        TokenAuth {
            request,
            engine: OnceLock::new(),
            cache: tokio::sync::Mutex::new(Cache::default()),
            issued: AtomicU64::new(0),
        }
    }

    /// How many tokens were fetched so far.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// The header for a request sent by `via`: the cached token while it is valid, else
    /// a new one (concurrent callers wait for the one being fetched).
    pub(crate) async fn header(&self, via: &HttpEngine) -> Result<TokenHeader, FetchError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = &cache.current
            && c.until.is_none_or(|u| Instant::now() < u)
        {
            return Ok(TokenHeader {
                name: self.request.header.clone(),
                value: c.value.clone(),
                generation: c.generation,
            });
        }
        cache.current = None;
        let (value, until) = self.fetch(via).await?;
        cache.generation += 1;
        let generation = cache.generation;
        cache.current = Some(Cached {
            value: value.clone(),
            generation,
            until,
        });
        Ok(TokenHeader {
            name: self.request.header.clone(),
            value,
            generation,
        })
    }

    /// Forgets the token `generation` (the API refused it), unless it was already
    /// replaced.
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut cache = self.cache.lock().await;
        if cache
            .current
            .as_ref()
            .is_some_and(|c| c.generation == generation)
        {
            cache.current = None;
        }
    }

    fn engine(&self, via: &HttpEngine) -> Result<&HttpEngine, FetchError> {
        if let Some(e) = self.engine.get() {
            return Ok(e);
        }
        let mut secret_paths = vec![self.request.token.clone()];
        for p in OAUTH_SECRETS {
            secret_paths.push(JsonPath::parse(p).map_err(FetchError::Protocol)?);
        }
        let config = EngineConfig {
            origin: self.request.url.clone(),
            headers: self.request.headers.clone(),
            auth: super::AuthMaterial::None,
            timeout: via.config.timeout,
            retry: via.config.retry.clone(),
            rate_limit: None,
            secret_inputs: via.config.secret_inputs.clone(),
            tape: via.config.tape.clone(),
            secret_paths,
        };
        let engine = HttpEngine::new(config, Arc::clone(&via.redactor), via.observer.clone())?;
        // Only called with the cache locked, so no other engine is being built.
        Ok(self.engine.get_or_init(|| engine))
    }

    async fn fetch(&self, via: &HttpEngine) -> Result<(HeaderValue, Option<Instant>), FetchError> {
        let engine = self.engine(via)?;
        let r = &self.request;
        let shown = engine.describe(&r.method, &r.url);
        let asked = Instant::now();
        // Boxed: `send` reaches this function through the API engine's auth.
        let no_headers = HeaderMap::new();
        let sending =
            Box::pin(engine.send(r.method.clone(), r.url.clone(), &no_headers, r.body.clone()));
        let resp = sending
            .await
            .map_err(|e| refused(e, &via.config.secret_inputs))?;
        let body: Value = serde_json::from_slice(&resp.body).map_err(|e| FetchError::NotJson {
            request: format!("the token endpoint ({shown})"),
            detail: format!(" ({e})"),
        })?;
        let token = match r.token.first(&body) {
            Some(Value::String(s)) if !s.trim().is_empty() => Secret::new(s.trim()),
            _ => {
                return Err(FetchError::Protocol(format!(
                    "the token endpoint ({shown}) answered without a token at {}; check `token_path` in the manifest's `auth.token_endpoint`",
                    r.token.source()
                )));
            }
        };
        // A replayed answer already has `***` in its place: nothing to learn.
        let replayed = token.expose() == crate::secret::REDACTED;
        if !replayed {
            via.redactor.learn(&token);
        }
        let text = format!("{}{}{}", r.around.0, token.expose(), r.around.1);
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            FetchError::Protocol(format!(
                "the token from {shown} contains characters a header cannot carry"
            ))
        })?;
        value.set_sensitive(true);
        if !replayed {
            via.redactor.learn(&Secret::new(text));
        }
        let until = r.expires_in.first(&body).and_then(seconds).map(|s| {
            let life = Duration::from_secs(s);
            let keep = if life > r.refresh_margin * 2 {
                life - r.refresh_margin
            } else {
                life / 2
            };
            asked + keep
        });
        self.issued.fetch_add(1, Ordering::Relaxed);
        via.observer.request(&crate::observe::RequestEvent {
            request: shown.clone(),
            status: Some(resp.status),
            attempt: 1,
            elapsed: resp.elapsed,
            note: Some(match until {
                Some(u) => format!(
                    "a new access token (shown as ***), used for {}s",
                    u.saturating_duration_since(asked).as_secs()
                ),
                None => {
                    "a new access token (shown as ***), used until the API refuses it".to_string()
                }
            }),
        });
        tracing::debug!(message = "Fetched an access token.", request = %shown, lifetime_s = until.map(|u| u.saturating_duration_since(asked).as_secs()));
        Ok((value, until))
    }
}

fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A 4xx from the token endpoint means it will not issue a token for these
/// credentials: say so, naming the secret inputs.
fn refused(e: FetchError, secret_inputs: &[String]) -> FetchError {
    let secrets = secret_inputs
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match e {
        FetchError::Unauthorized {
            request, detail, ..
        } => FetchError::TokenRefused {
            status: 401,
            request,
            detail,
            secrets,
        },
        FetchError::Forbidden { request, detail } => FetchError::TokenRefused {
            status: 403,
            request,
            detail,
            secrets,
        },
        FetchError::Status {
            status,
            request,
            detail,
        } if (400..500).contains(&status) => FetchError::TokenRefused {
            status,
            request,
            detail,
            secrets,
        },
        other => other,
    }
}
