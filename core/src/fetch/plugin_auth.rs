//! Auth-provider plugins: the headers for every request come from a plugin, given
//! the connector's inputs and secrets, and are reused until they expire.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};

use crate::inputs::{InputValue, Inputs};
use crate::plugin::{PluginFn, Request, Response};
use crate::secret::Secret;

/// Headers from a plugin, cached until they expire.
pub struct PluginAuth {
    call: PluginFn,
    inputs: BTreeMap<String, String>,
    secrets: BTreeMap<String, Secret>,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    headers: Vec<(HeaderName, HeaderValue)>,
    until: Option<Instant>,
}

impl fmt::Debug for PluginAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginAuth")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl PluginAuth {
    /// An auth provider over the run's inputs.
    pub fn new(call: PluginFn, inputs: &Inputs) -> Self {
        let mut plain = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for (name, v) in inputs.values() {
            match v {
                InputValue::Plain(s) => {
                    plain.insert(name.clone(), s.clone());
                }
                InputValue::Secret(s) => {
                    secrets.insert(name.clone(), s.clone());
                }
            }
        }
        PluginAuth {
            call,
            inputs: plain,
            secrets,
            cache: Mutex::new(None),
        }
    }

    /// The headers to send: cached ones while they are valid, else fresh ones from
    /// the plugin (a blocking call, kept off async workers). Header values are marked
    /// sensitive (secret), except those the plugin listed in `public_headers`.
    pub fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| format!("{}: an earlier call crashed", self.call.who()))?;
        if let Some(c) = cache.as_ref()
            && c.until.is_none_or(|u| Instant::now() < u)
        {
            return Ok(c.headers.clone());
        }
        let request = Request::Auth {
            function: self.call.function.clone(),
            inputs: self.inputs.clone(),
            secrets: self
                .secrets
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
            config: self.call.config.clone(),
        };
        let asked = Instant::now();
        let (headers, expires_in, public) =
            match crate::plugin::blocking(self.call.plugin.as_ref(), &request)? {
                Response::Headers {
                    headers,
                    expires_in,
                    public_headers,
                } => (headers, expires_in, public_headers),
                Response::Error { message } => {
                    return Err(format!("{} failed: {message}", self.call.who()));
                }
                _ => {
                    return Err(format!(
                        "{} answered something other than `headers`",
                        self.call.who()
                    ));
                }
            };
        if let Some(stray) = public
            .iter()
            .find(|p| !headers.keys().any(|h| h.eq_ignore_ascii_case(p)))
        {
            return Err(format!(
                "{} lists `{stray}` in `public_headers`, but answered no such header; list only names of headers it answers",
                self.call.who()
            ));
        }
        let mut out = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let secret = !public.iter().any(|p| p.eq_ignore_ascii_case(&name));
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                format!(
                    "{} returned `{name}`, which is not a header name",
                    self.call.who()
                )
            })?;
            let mut v = HeaderValue::from_str(&value).map_err(|_| {
                format!(
                    "{} returned a value for `{name}` that a header cannot carry",
                    self.call.who()
                )
            })?;
            v.set_sensitive(secret);
            out.push((n, v));
        }
        *cache = Some(Cached {
            headers: out.clone(),
            until: expires_in.map(|s| asked + Duration::from_secs(s)),
        });
        Ok(out)
    }

    /// The current secret header values (for the redactor).
    pub fn secrets(&self) -> Vec<Secret> {
        self.cache
            .lock()
            .ok()
            .map(|c| {
                c.as_ref()
                    .map(|c| secrets_of(&c.headers))
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }
}

/// Shortest credentials part of a `Scheme credentials` value scrubbed on its own
/// (shorter ones would scrub ordinary words).
const MIN_CREDENTIALS: usize = 8;

/// The secrets in headers from an auth plugin, for the redactor: each sensitive
/// value (all but those the plugin called public), and the credentials part of a
/// `Scheme credentials` value (`Bearer abc…` → `abc…`), which an API may echo on its
/// own.
pub fn secrets_of(headers: &[(HeaderName, HeaderValue)]) -> Vec<Secret> {
    let mut out = Vec::new();
    for (_, v) in headers {
        if !v.is_sensitive() {
            continue;
        }
        let Ok(text) = v.to_str() else { continue };
        out.push(Secret::new(text));
        if let Some((_, credentials)) = text.trim().split_once(' ') {
            let credentials = credentials.trim();
            if credentials.len() >= MIN_CREDENTIALS {
                out.push(Secret::new(credentials));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &'static str, value: &str, secret: bool) -> (HeaderName, HeaderValue) {
        let mut v = HeaderValue::from_str(value).unwrap();
        v.set_sensitive(secret);
        (HeaderName::from_static(name), v)
    }

    #[test]
    fn only_sensitive_header_values_are_secrets() {
        let headers = [
            header("authorization", "Bearer abcdefgh12", true),
            header("x-session", "s3", true),
            header("accept", "application/json", false),
            header("x-api-version", "2", false),
        ];
        let secrets: Vec<String> = secrets_of(&headers)
            .iter()
            .map(|s| s.expose().to_string())
            .collect();
        assert_eq!(secrets, ["Bearer abcdefgh12", "abcdefgh12", "s3"]);
    }
}
