//! Cassettes: the HTTP exchanges of a run, written to a file with every secret
//! redacted (`rollcall fetch --record`), and played back offline in place of the
//! network (`rollcall test`), so a connector is tested without the API.
//!
//! Playback happens inside the [`super::HttpEngine`], below retries, redirects and
//! error handling, so a replayed run takes exactly the code paths of a live one.
//! Requests are matched on method and URL (query included, secrets shown as `***`),
//! in recorded order; pages that a paginator fetches concurrently may arrive in
//! another order, so each request takes the first unplayed exchange that matches.
//! A recorded request body (an action's PATCH) must match too: a request that sends
//! another body fails the replay with both bodies shown.
//!
//! A cassette holds either a stream read (`stream`, from `rollcall fetch --record`) or
//! one action call (`action`, from `rollcall action --record`).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A recorded run.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cassette {
    /// The connector's name.
    pub connector: String,
    /// The stream that was read (empty for an action's cassette).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stream: String,
    /// The action that was called, for an action's cassette.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<TapedAction>,
    /// When it was recorded; replay uses it as the sync time, so output is stable.
    pub recorded_at: DateTime<Utc>,
    /// The non-secret inputs of the run (secret ones are never written).
    #[serde(default)]
    pub inputs: IndexMap<String, String>,
    /// The exchanges, in the order they happened.
    pub interactions: Vec<Interaction>,
}

/// The action call a cassette recorded.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TapedAction {
    /// The action's name (e.g. `deactivate_user`).
    pub name: String,
    /// Its params.
    #[serde(default)]
    pub params: IndexMap<String, String>,
    /// Settings given for this call instead of the manifest's.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub settings: IndexMap<String, Value>,
}

/// One request and its answer.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    /// What was sent.
    pub request: TapedRequest,
    /// What came back.
    pub response: TapedResponse,
}

/// A recorded request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TapedRequest {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The full URL, secrets as `***`.
    pub url: String,
    /// The JSON body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A recorded answer.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TapedResponse {
    /// Status.
    pub status: u16,
    /// Headers that matter for reading (content type, links, cursors, Retry-After).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A body that is not JSON, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl TapedResponse {
    /// The body's bytes as the server sent them (modulo JSON formatting).
    pub fn bytes(&self) -> Vec<u8> {
        match (&self.body, &self.text) {
            (Some(v), _) => serde_json::to_vec(v).unwrap_or_default(),
            (None, Some(t)) => t.as_bytes().to_vec(),
            (None, None) => Vec::new(),
        }
    }
}

/// Response headers left out of cassettes: they change on every call or say nothing
/// about the data.
const VOLATILE: &[&str] = &[
    "date",
    "server",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "set-cookie",
    "strict-transport-security",
    "vary",
    "x-request-id",
    "x-runtime",
    "cf-ray",
    "via",
    "age",
    "alt-svc",
];

/// Where a run's HTTP goes besides (or instead of) the network.
#[derive(Clone, Debug)]
pub enum Tape {
    /// Send to the network and keep every exchange.
    Record(Arc<Recording>),
    /// Answer from a cassette; nothing goes to the network.
    Replay(Arc<Player>),
}

/// The exchanges of a recording run.
#[derive(Debug, Default)]
pub struct Recording {
    interactions: Mutex<Vec<Interaction>>,
}

impl Recording {
    /// An empty recording.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps one exchange. Every text must already be redacted.
    pub fn push(
        &self,
        method: &str,
        url: String,
        request_body: Option<&str>,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &str,
    ) {
        let mut kept = IndexMap::new();
        for (k, v) in headers {
            let name = k.as_str().to_ascii_lowercase();
            if VOLATILE.contains(&name.as_str()) || name.starts_with("x-ratelimit") {
                continue;
            }
            if let Ok(v) = v.to_str() {
                kept.insert(name, v.to_string());
            }
        }
        let (json, text) = if body.trim().is_empty() {
            (None, None)
        } else {
            match serde_json::from_str::<Value>(body) {
                Ok(v) => (Some(v), None),
                Err(_) => (None, Some(body.to_string())),
            }
        };
        let request_body = request_body.map(body_value);
        let mut list = self.interactions.lock().unwrap_or_else(|e| e.into_inner());
        list.push(Interaction {
            request: TapedRequest {
                method: method.to_string(),
                url,
                body: request_body,
            },
            response: TapedResponse {
                status,
                headers: kept,
                body: json,
                text,
            },
        });
    }

    /// The exchanges so far.
    pub fn interactions(&self) -> Vec<Interaction> {
        self.interactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Plays a cassette back.
#[derive(Debug)]
pub struct Player {
    interactions: Vec<Interaction>,
    state: Mutex<PlayState>,
}

#[derive(Debug)]
struct PlayState {
    used: Vec<bool>,
    asked: usize,
}

impl Player {
    /// A player for these exchanges.
    pub fn new(interactions: Vec<Interaction>) -> Self {
        let used = vec![false; interactions.len()];
        Player {
            interactions,
            state: Mutex::new(PlayState { used, asked: 0 }),
        }
    }

    /// The answer to `method url` sending `body` (URL and body redacted as the recorder
    /// wrote them), or why there is none.
    pub fn answer(
        &self,
        method: &str,
        url: &str,
        body: Option<&str>,
    ) -> Result<TapedResponse, String> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.asked += 1;
        let n = st.asked;
        let found = self.interactions.iter().enumerate().position(|(i, x)| {
            !st.used[i] && x.request.method.eq_ignore_ascii_case(method) && x.request.url == url
        });
        if let Some(i) = found {
            st.used[i] = true;
            let recorded = &self.interactions[i].request.body;
            let sent = body.map(body_value);
            if recorded.is_some() && *recorded != sent {
                let show = |b: &Option<Value>| match b {
                    Some(v) => v.to_string(),
                    None => "no body".to_string(),
                };
                return Err(format!(
                    "request {n} of the replay, {method} {url}, sends {}, but the cassette has {} (did the request's body template or settings change? fix the manifest, or re-record)",
                    show(&sent),
                    show(recorded)
                ));
            }
            return Ok(self.interactions[i].response.clone());
        }
        let next = st
            .used
            .iter()
            .position(|u| !u)
            .map(|i| &self.interactions[i].request);
        Err(match next {
            Some(r) => format!(
                "request {n} of the replay, {method} {url}, is not in the cassette; the next unplayed request there is {} {} (did the manifest's paths, query or paging change? re-record, or fix the manifest)",
                r.method, r.url
            ),
            None => format!(
                "request {n} of the replay, {method} {url}, is not in the cassette: all {} recorded requests were already played (the connector asks for more pages than were recorded)",
                self.interactions.len()
            ),
        })
    }

    /// The recorded requests that were never asked for.
    pub fn unplayed(&self) -> Vec<String> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.interactions
            .iter()
            .zip(&st.used)
            .filter(|(_, u)| !**u)
            .map(|(x, _)| format!("{} {}", x.request.method, x.request.url))
            .collect()
    }
}

/// A request body as a cassette keeps it: JSON when it is JSON, else text.
fn body_value(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string()))
}
