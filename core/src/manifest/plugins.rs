//! The plugin parts of the manifest format: which plugins a connector uses (with
//! an optional sha256 pin) and how a field or a stream calls one of their functions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A plugin the connector uses.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRequirement {
    /// The sha256 of the plugin file (64 hex digits). A file with another digest is
    /// refused. Print it with `rollcall plugins list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A call of a plugin function.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginCallSpec {
    /// The plugin's name, as declared under `plugins:`.
    pub plugin: String,
    /// The function, as the plugin describes it (see `rollcall plugins list`).
    pub function: String,
    /// Settings passed to the function with every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}
