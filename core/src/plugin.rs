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
    /// `plugin `x` (FILE), function `f``, for messages.
    pub fn who(&self) -> String {
        format!(
            "plugin `{}` ({}), function `{}`",
            self.plugin.description().name,
            self.plugin.file().display(),
            self.function
        )
    }

    /// Runs a field transform on a (non-null) value.
    pub fn transform(&self, value: Value, record: &Value) -> Result<Value, String> {
        let request = Request::Transform {
            function: self.function.clone(),
            value,
            record: self.needs_record.then(|| record.clone()),
            config: self.config.clone(),
        };
        match self.plugin.invoke(&request)? {
            Response::Value { value } => Ok(value),
            other => Err(self.unexpected(other, "a value")),
        }
    }

    /// Runs a record transform on a page of raw records: one outcome per record.
    pub fn batch(&self, records: Vec<Value>) -> Result<Vec<RecordOutcome>, String> {
        let sent = records.len();
        let request = Request::Batch {
            function: self.function.clone(),
            records,
            config: self.config.clone(),
        };
        match self.plugin.invoke(&request)? {
            Response::Records { records } if records.len() == sent => Ok(records),
            Response::Records { records } => Err(format!(
                "{} answered {} outcomes for {sent} records; it must answer one `keep` or `drop` per record, in order",
                self.who(),
                records.len()
            )),
            other => Err(self.unexpected(other, "records")),
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
