//! Plugins as the engine sees them: two small traits that the host crate
//! (`rollcall-plugins`: plugin directories, dynamic libraries, subprocesses)
//! implements, so `core` stays free of library loading and process handling.
//!
//! A manifest names plugins under `plugins:` (optionally pinned by sha256) and uses
//! their functions as field transforms (`transform:`) and per-page record transforms
//! (`record_transforms:`). `compile` opens them through a [`PluginHost`] and checks
//! every function reference; the fetch calls them through [`PluginFn`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::raw_record::{Projection, RawRecord, RecordView};

pub use rollcall_plugin_sdk::{
    Capability, CapabilityKind, Description, RecordOutcome, Request, Response,
};

/// An opened plugin. Calls may block (a subprocess answers over a pipe) but never
/// longer than the host's per-call timeout.
pub trait Plugin: Send + Sync {
    /// What the plugin said about itself.
    fn description(&self) -> &Description;
    /// The file it was loaded from.
    fn file(&self) -> &Path;
    /// Sends one request. An `Err` is a sentence naming the plugin and its file
    /// (a crash, a hang, garbage); a [`Response::Error`] is the plugin's own refusal.
    fn invoke(&self, request: &Request) -> Result<Response, String>;
    /// Sends one request already written as JSON (one message, no newline): what
    /// the fetch uses, so a page's records are written straight from the page rather
    /// than copied into a [`Request`] first. The default reads the request back and
    /// calls [`invoke`](Self::invoke); the real hosts send the bytes as they are.
    fn invoke_json(&self, request: Vec<u8>) -> Result<Response, String> {
        let request: Request = serde_json::from_slice(&request)
            .map_err(|e| format!("rollcall wrote a request it cannot read back: {e}"))?;
        self.invoke(&request)
    }
    /// Whether a call may block on I/O (a subprocess does; an in-process library only
    /// computes). Async callers keep such calls off the runtime's workers.
    fn blocks(&self) -> bool {
        true
    }
}

/// Opens plugins by name from the places the user allowed.
pub trait PluginHost: Send + Sync {
    /// Opens (or returns the already opened) plugin `name`. With `sha256`, a file
    /// with another digest is refused. The error is a sentence naming the plugin and
    /// the file, with what to do.
    fn open(&self, name: &str, sha256: Option<&str>) -> Result<Arc<dyn Plugin>, String>;
}

/// The host used when none is configured: every plugin is missing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPlugins;

impl PluginHost for NoPlugins {
    fn open(&self, name: &str, _sha256: Option<&str>) -> Result<Arc<dyn Plugin>, String> {
        Err(format!(
            "the plugin `{name}` cannot be loaded: no plugin directory is configured \
             (pass --plugins-dir DIR, set ROLLCALL_PLUGINS_DIR, or install it in the data directory's plugins/)"
        ))
    }
}

/// One use of a plugin function, as compiled from a manifest.
#[derive(Clone)]
pub struct PluginFn {
    /// The plugin.
    pub plugin: Arc<dyn Plugin>,
    /// The function's name.
    pub function: String,
    /// The manifest's `config` (null when none).
    pub config: Value,
    /// Field transforms: send the raw record along (the capability asked for it).
    pub needs_record: bool,
    /// The top-level attributes of a record the function reads (its capability's
    /// `needs`); None: the whole record.
    pub needs: Option<Arc<[String]>>,
}

impl fmt::Debug for PluginFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginFn")
            .field("plugin", &self.plugin.description().name)
            .field("file", &self.plugin.file())
            .field("function", &self.function)
            .finish()
    }
}

impl PluginFn {
    /// `function` of `plugin` as its description declares it (what it needs of a
    /// record), with the manifest's `config`. None when the plugin has no such function.
    pub fn new(plugin: Arc<dyn Plugin>, function: &str, config: Value) -> Option<Self> {
        let cap = plugin.description().function(function)?;
        // Each attribute once (a projection writes each name it lists).
        let needs: Option<Arc<[String]>> = cap.needs.as_ref().map(|n| {
            let mut seen = std::collections::HashSet::new();
            n.iter()
                .filter(|k| seen.insert(k.as_str()))
                .cloned()
                .collect()
        });
        let needs_record = cap.needs_record || needs.is_some();
        Some(PluginFn {
            function: function.to_string(),
            config,
            needs_record,
            needs,
            plugin,
        })
    }

    /// `plugin `x` (FILE), function `f``, for messages.
    pub fn who(&self) -> String {
        format!(
            "plugin `{}` ({}), function `{}`",
            self.plugin.description().name,
            self.plugin.file().display(),
            self.function
        )
    }

    /// The plugin's name.
    pub fn plugin_name(&self) -> &str {
        &self.plugin.description().name
    }

    /// What the plugin gets of `record`: the attributes it needs, or all of it,
    /// ready to be written without copying them.
    pub fn project<'a>(&'a self, record: RecordView<'a>) -> Projection<'a> {
        record.only(self.needs.as_deref())
    }

    /// Runs a field transform on a (non-null) value of `record`.
    pub fn transform<'r>(
        &self,
        value: Value,
        record: impl Into<RecordView<'r>>,
    ) -> Result<Value, String> {
        let request = Outgoing::Transform {
            function: &self.function,
            value: &value,
            record: self.needs_record.then(|| self.project(record.into())),
            config: &self.config,
        };
        match blocking_json(self.plugin.as_ref(), self.write(&request)?)? {
            Response::Value { value } => Ok(value),
            other => Err(self.unexpected(other, "a value")),
        }
    }

    /// The request of a record transform for a page of raw records (each projected to
    /// what the function needs), as JSON: written straight from the records.
    pub fn batch_request(&self, records: &[RecordView<'_>]) -> Result<Vec<u8>, String> {
        self.write(&Outgoing::Batch {
            function: &self.function,
            records: Projections {
                records,
                needs: self.needs.as_deref(),
            },
            config: &self.config,
        })
    }

    fn write(&self, request: &Outgoing<'_>) -> Result<Vec<u8>, String> {
        serde_json::to_vec(request)
            .map_err(|e| format!("cannot write the request for {}: {e}", self.who()))
    }

    /// Reads the plugin's answer to [`batch_request`](Self::batch_request) of `sent`
    /// records: one outcome per record, in order.
    pub fn batch_answer(
        &self,
        response: Response,
        sent: usize,
    ) -> Result<Vec<RecordOutcome>, String> {
        match response {
            Response::Records { records } if records.len() == sent => Ok(records),
            Response::Records { records } => Err(format!(
                "{} answered {} outcomes for {sent} records; it must answer one `keep`, `set` or `drop` per record, in order",
                self.who(),
                records.len()
            )),
            other => Err(self.unexpected(other, "records")),
        }
    }

    /// Runs a record transform on a page of raw records: one outcome per record (a
    /// blocking call; give each outcome to [`apply`](Self::apply)).
    pub fn batch(&self, records: &[RecordView<'_>]) -> Result<Vec<RecordOutcome>, String> {
        let response = self.plugin.invoke_json(self.batch_request(records)?)?;
        self.batch_answer(response, records.len())
    }

    /// A record after one outcome of this record transform: the record to use, or
    /// why it is dropped. A `set` answer is kept next to the page's record (which is
    /// never copied for it); a `keep` answer for a record sent in part copies it.
    pub fn apply<'a>(
        &self,
        outcome: RecordOutcome,
        record: RawRecord<'a>,
    ) -> Result<RawRecord<'a>, Dropped> {
        match outcome {
            RecordOutcome::Drop(reason) => Err(Dropped {
                plugin: Some(self.plugin_name().to_string()),
                reason: format!("dropped by {}: {reason}", self.who()),
            }),
            RecordOutcome::Set(set) => record
                .set(set)
                .map_err(|_| self.failed("answered `set` for a record that is not an object")),
            RecordOutcome::Keep(kept) => match &self.needs {
                None => Ok(RawRecord::Owned(kept)),
                Some(needs) => {
                    let (Value::Object(kept), true) = (kept, record.view().is_object()) else {
                        return Err(self.failed(
                            "answered `keep` with something that is not an object for a record it was sent a part of",
                        ));
                    };
                    let mut record = record.into_value().into_owned();
                    if let Some(obj) = record.as_object_mut() {
                        keep_in_place(obj, needs, kept);
                    }
                    Ok(RawRecord::Owned(record))
                }
            },
        }
    }

    fn failed(&self, what: &str) -> Dropped {
        Dropped {
            plugin: None,
            reason: format!("{} {what}", self.who()),
        }
    }

    fn unexpected(&self, got: Response, wanted: &str) -> String {
        match got {
            Response::Error { message } => format!("{} failed: {message}", self.who()),
            other => {
                let kind = serde_json::to_value(&other)
                    .ok()
                    .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                format!(
                    "{} answered a `{kind}` message where {wanted} was expected",
                    self.who()
                )
            }
        }
    }
}

/// Why a record transform did not keep a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The plugin that dropped it on purpose (a `drop` answer); None when the call
    /// failed (a crash, a hang, a wrong answer).
    pub plugin: Option<String>,
    /// Why, naming the plugin and the function.
    pub reason: String,
}

/// Calls a plugin that may block (a subprocess answers over a pipe) without holding
/// up a tokio worker: on a multi-threaded runtime the call runs in
/// `block_in_place`, which hands the worker's other tasks to another thread for the
/// duration. In-process libraries and callers outside a runtime (or on a
/// single-threaded one, which has no other worker to protect) call directly.
pub fn blocking(plugin: &dyn Plugin, request: &Request) -> Result<Response, String> {
    if on_worker(plugin) {
        tokio::task::block_in_place(|| plugin.invoke(request))
    } else {
        plugin.invoke(request)
    }
}

/// [`blocking`] for a request already written as JSON.
pub fn blocking_json(plugin: &dyn Plugin, request: Vec<u8>) -> Result<Response, String> {
    if on_worker(plugin) {
        tokio::task::block_in_place(|| plugin.invoke_json(request))
    } else {
        plugin.invoke_json(request)
    }
}

fn on_worker(plugin: &dyn Plugin) -> bool {
    plugin.blocks()
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// The requests the fetch sends, written from borrowed parts: the same JSON as
/// [`Request::Transform`] and [`Request::Batch`] (a test checks it byte for byte).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outgoing<'a> {
    Transform {
        function: &'a str,
        value: &'a Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        record: Option<Projection<'a>>,
        #[serde(skip_serializing_if = "is_null")]
        config: &'a Value,
    },
    Batch {
        function: &'a str,
        records: Projections<'a>,
        #[serde(skip_serializing_if = "is_null")]
        config: &'a Value,
    },
}

fn is_null(v: &&Value) -> bool {
    v.is_null()
}

/// A page of records, each cut to `needs`, written as a JSON array.
struct Projections<'a> {
    records: &'a [RecordView<'a>],
    needs: Option<&'a [String]>,
}

impl Serialize for Projections<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.records.iter().map(|r| r.only(self.needs)))
    }
}

/// A `keep` answer under `needs`, applied to the whole record: an attribute the function
/// was sent and kept stays where it was with its new value, one it was sent and left out
/// is removed, the others are untouched, and attributes it added come last, in its order.
fn keep_in_place(
    record: &mut serde_json::Map<String, Value>,
    needs: &[String],
    mut kept: serde_json::Map<String, Value>,
) {
    let before = std::mem::take(record);
    for (name, value) in before {
        if !needs.contains(&name) {
            record.insert(name, value);
        } else if let Some(new) = kept.shift_remove(&name) {
            record.insert(name, new);
        }
    }
    record.extend(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    /// A plugin that keeps the requests it is sent and answers `value: 1`.
    struct Spy {
        description: Description,
        sent: Mutex<Vec<Vec<u8>>>,
    }

    impl Plugin for Spy {
        fn description(&self) -> &Description {
            &self.description
        }
        fn file(&self) -> &Path {
            Path::new("spy")
        }
        fn invoke(&self, _: &Request) -> Result<Response, String> {
            Err("the fetch sends JSON".into())
        }
        fn invoke_json(&self, request: Vec<u8>) -> Result<Response, String> {
            self.sent.lock().unwrap().push(request);
            Ok(Response::Value { value: json!(1) })
        }
        fn blocks(&self) -> bool {
            false
        }
    }

    fn spy(needs: Option<&[&str]>, needs_record: bool) -> (Arc<Spy>, PluginFn, PluginFn) {
        let cap = |kind, function: &str| Capability {
            kind,
            function: function.into(),
            description: None,
            needs_record,
            needs: needs.map(|n| n.iter().map(|s| s.to_string()).collect()),
        };
        let plugin = Arc::new(Spy {
            description: Description {
                name: "spy".into(),
                version: "1.0.0".into(),
                description: None,
                capabilities: vec![
                    cap(CapabilityKind::FieldTransform, "f"),
                    cap(CapabilityKind::RecordTransform, "r"),
                ],
                config_schema: None,
            },
            sent: Mutex::new(Vec::new()),
        });
        let config = json!({"mode": "x"});
        let f = PluginFn::new(plugin.clone(), "f", Value::Null).unwrap();
        let r = PluginFn::new(plugin.clone(), "r", config).unwrap();
        (plugin, f, r)
    }

    /// What the plugin got of a record before requests were written from borrowed
    /// records: a copy with the attributes it needs.
    fn copied_projection(needs: Option<&[&str]>, record: &Value) -> Value {
        match (needs, record) {
            (Some(needs), Value::Object(all)) => Value::Object(
                needs
                    .iter()
                    .filter_map(|k| all.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect(),
            ),
            _ => record.clone(),
        }
    }

    #[test]
    fn requests_written_from_borrowed_records_are_the_requests_byte_for_byte() {
        let page = [
            json!({"id": "1", "userName": "a@x", "name": {"givenName": "Ada"}, "emails": [{"value": "a@x"}], "x": "é\"\n"}),
            json!({"id": "2", "displayName": "B"}),
            json!("not an object"),
        ];
        let patch = json!({"seatType": "full", "userName": "b@x"});
        let Value::Object(patch) = patch else {
            unreachable!()
        };
        let patched = RawRecord::from(&page[0]).set(patch).unwrap();
        let patched_copy = patched.clone().into_value().into_owned();
        let needs: &[&str] = &["name", "userName", "seatType", "name", "missing"];
        for (needs, needs_record) in [(Some(needs), false), (None, true), (None, false)] {
            let (spy, f, r) = spy(needs, needs_record);
            // A batch: the page's records and a patched one.
            let views: Vec<RecordView> = page
                .iter()
                .map(RecordView::from)
                .chain([patched.view()])
                .collect();
            r.batch(&views).unwrap_err();
            let want = Request::Batch {
                function: "r".into(),
                records: page
                    .iter()
                    .chain([&patched_copy])
                    .map(|v| copied_projection(needs, v))
                    .collect(),
                config: json!({"mode": "x"}),
            };
            // A field transform, on a page record and on the patched one.
            f.transform(json!("v"), &page[0]).unwrap();
            f.transform(json!(["v"]), patched.view()).unwrap();
            let transform = |value: Value, record: &Value| Request::Transform {
                function: "f".into(),
                value,
                record: (needs_record || needs.is_some()).then(|| copied_projection(needs, record)),
                config: Value::Null,
            };
            let sent = spy.sent.lock().unwrap();
            let wanted = [
                want,
                transform(json!("v"), &page[0]),
                transform(json!(["v"]), &patched_copy),
            ];
            assert_eq!(sent.len(), wanted.len());
            for (got, want) in sent.iter().zip(&wanted) {
                assert_eq!(
                    String::from_utf8_lossy(got),
                    serde_json::to_string(want).unwrap(),
                    "needs {needs:?}"
                );
            }
        }
    }
}

/// Where a paginator function says the next page is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextPage {
    /// This URL, absolute or relative to the URL just requested.
    Url(String),
    /// The stream's URL with these query parameters set (None: left out).
    Params(Vec<(String, Option<String>)>),
    /// No more pages.
    End,
}

impl PluginFn {
    /// Reads a paginator's answer to a [`Request::Paginate`].
    pub fn paginate_answer(&self, response: Response) -> Result<NextPage, String> {
        let (url, params) = match response {
            Response::End => return Ok(NextPage::End),
            Response::Next { url, params } => (url, params),
            other => return Err(self.unexpected(other, "`next` or `end`")),
        };
        match (url, params) {
            (Some(url), None) if !url.trim().is_empty() => Ok(NextPage::Url(url)),
            (None, Some(params)) if !params.is_empty() => {
                let mut out = Vec::with_capacity(params.len());
                for (name, value) in params {
                    let text = match value {
                        Value::Null => None,
                        Value::String(s) => Some(s),
                        Value::Number(n) => Some(n.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        other => {
                            return Err(format!(
                                "{} answered the parameter `{name}` as {}; a parameter is text, a number, a boolean or null (left out)",
                                self.who(),
                                if other.is_array() {
                                    "a list"
                                } else {
                                    "an object"
                                }
                            ));
                        }
                    };
                    out.push((name, text));
                }
                Ok(NextPage::Params(out))
            }
            (Some(_), Some(_)) => Err(format!(
                "{} answered `next` with both `url` and `params`; give one of them",
                self.who()
            )),
            _ => Err(format!(
                "{} answered `next` without a `url` or `params`; answer `end` when there are no more pages",
                self.who()
            )),
        }
    }
}
