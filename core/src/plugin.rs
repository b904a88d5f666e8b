//! Plugins as the engine sees them: two small traits that the host crate
//! (`rollcall-plugins`: plugin directories, dynamic libraries, subprocesses)
//! implements, so `core` stays free of library loading and process handling.
//!
//! A manifest names plugins under `plugins:` (optionally pinned by sha256) and uses
//! their functions as field transforms (`transform:`) and per-page record transforms
//! (`record_transforms:`). `compile` opens them through a [`PluginHost`] and checks
//! every function reference; the fetch calls them through [`PluginFn`].

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

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
        let needs: Option<Arc<[String]>> = cap.needs.as_ref().map(|n| n.as_slice().into());
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

    /// What the plugin gets of `record`: the attributes it needs, or all of it.
    pub fn project(&self, record: &Value) -> Value {
        match (&self.needs, record) {
            (Some(needs), Value::Object(all)) => Value::Object(
                needs
                    .iter()
                    .filter_map(|k| all.get(k).map(|v| (k.clone(), v.clone())))
                    .collect(),
            ),
            _ => record.clone(),
        }
    }

    /// Runs a field transform on a (non-null) value.
    pub fn transform(&self, value: Value, record: &Value) -> Result<Value, String> {
        let request = Request::Transform {
            function: self.function.clone(),
            value,
            record: self.needs_record.then(|| self.project(record)),
            config: self.config.clone(),
        };
        match blocking(self.plugin.as_ref(), &request)? {
            Response::Value { value } => Ok(value),
            other => Err(self.unexpected(other, "a value")),
        }
    }

    /// The request of a record transform for a page of raw records (each projected to
    /// what the function needs).
    pub fn batch_request(&self, records: &[&Value]) -> Request {
        Request::Batch {
            function: self.function.clone(),
            records: records.iter().map(|r| self.project(r)).collect(),
            config: self.config.clone(),
        }
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
    pub fn batch(&self, records: &[&Value]) -> Result<Vec<RecordOutcome>, String> {
        let response = self.plugin.invoke(&self.batch_request(records))?;
        self.batch_answer(response, records.len())
    }

    /// A record after one outcome of this record transform: the record to use, or
    /// why it is dropped. The record is copied only when the outcome changes it.
    pub fn apply<'a>(
        &self,
        outcome: RecordOutcome,
        record: Cow<'a, Value>,
    ) -> Result<Cow<'a, Value>, Dropped> {
        match outcome {
            RecordOutcome::Drop(reason) => Err(Dropped {
                plugin: Some(self.plugin_name().to_string()),
                reason: format!("dropped by {}: {reason}", self.who()),
            }),
            RecordOutcome::Set(set) if set.is_empty() => Ok(record),
            RecordOutcome::Set(set) => {
                let mut record = record.into_owned();
                let Some(obj) = record.as_object_mut() else {
                    return Err(self.failed("answered `set` for a record that is not an object"));
                };
                obj.extend(set);
                Ok(Cow::Owned(record))
            }
            RecordOutcome::Keep(kept) => match &self.needs {
                None => Ok(Cow::Owned(kept)),
                Some(needs) => {
                    let (Value::Object(kept), Some(_)) = (kept, record.as_object()) else {
                        return Err(self.failed(
                            "answered `keep` with something that is not an object for a record it was sent a part of",
                        ));
                    };
                    let mut record = record.into_owned();
                    if let Some(obj) = record.as_object_mut() {
                        for k in needs.iter() {
                            obj.remove(k);
                        }
                        obj.extend(kept);
                    }
                    Ok(Cow::Owned(record))
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
    let on_worker = plugin.blocks()
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if on_worker {
        tokio::task::block_in_place(|| plugin.invoke(request))
    } else {
        plugin.invoke(request)
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
