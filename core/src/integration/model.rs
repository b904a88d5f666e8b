//! The integration file as written by people: serde + schemars types, no logic.
//!
//! Meaning (defaults that depend on the connector, smart mappings, every check) is
//! given by [`super::load_integration`], which turns a file into a checked
//! [`super::Integration`].

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A rollcall integration: which connector reads which app instance with which
/// credential, and how its records become people.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "rollcall integration")]
pub struct IntegrationFile {
    /// The integration's name, unique in the store (e.g. `Miro Users`).
    pub name: String,
    /// The connector that reads the app (e.g. `miro`); `rollcall connectors` lists them.
    pub connector: String,
    /// The connector stream to read. Defaults to the connector's first stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The stored credential holding the connector's secret inputs (e.g. `miro-scim`); made with `rollcall credentials add`. Needed when the connector has secret inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Values for the connector's non-secret inputs (e.g. `base_url`). Secrets go in the vault, never here.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, String>,
    /// What a run writes: the person and their account in the app (`user-plus-saas-user`, the default) or only the person (`user-only`).
    #[serde(default)]
    pub users: Selection,
    /// The app and its instance. Defaults to the connector's display name for both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saas: Option<SaasSpec>,
    /// Whether people are created: `update-only` (the default and the best practice: people come from HR, apps only update them) or `create-and-update`.
    #[serde(default)]
    pub preference: Preference,
    /// The role given to people this integration creates (e.g. `Employee`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The connector field that identifies a person (e.g. `username`). It must be mapped to the user field `username`, `email` or a custom field.
    pub sync_key: String,
    /// How connector fields become user fields.
    #[serde(default)]
    pub mappings: MappingsSpec,
    /// When the integration runs: `daily` (the default), `daily at HH:MM`, `every Nh`, `every Nm` or a 5-field cron expression (`MIN HOUR DAY MONTH WEEKDAY`); all but intervals may end with an IANA time zone (`daily at 06:00 Europe/Berlin`).
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Whether the stream's joins declared by the connector (`enrich`, e.g. Miro's last
    /// activity from its REST API) run when the inputs cover them. On by default.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enrich: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

fn default_schedule() -> String {
    "daily".into()
}

/// The app an integration reads, and which instance of it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaasSpec {
    /// The app as people name it (e.g. `Miro`). Defaults to the connector's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The instance (e.g. `Miro EU`), so several instances of one app can be synced. Defaults to the app's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// What a run writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// The person and their account in the app.
    #[default]
    UserPlusSaasUser,
    /// Only the person.
    UserOnly,
}

impl Selection {
    /// The spelling used in files (`user-plus-saas-user`, `user-only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::UserPlusSaasUser => "user-plus-saas-user",
            Selection::UserOnly => "user-only",
        }
    }
}

/// Whether a run may create people.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Preference {
    /// Only update people who exist; records of unknown people are skipped.
    #[default]
    UpdateOnly,
    /// Create people who do not exist, update those who do.
    CreateAndUpdate,
}

impl Preference {
    /// The spelling used in files (`update-only`, `create-and-update`).
    pub fn as_str(self) -> &'static str {
        match self {
            Preference::UpdateOnly => "update-only",
            Preference::CreateAndUpdate => "create-and-update",
        }
    }
}

/// The mapping section.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingsSpec {
    /// Map connector fields to the user fields of the same meaning automatically (`username`, `email`, `first_name`/`given_name`, `family_name`/`last_name`). Defaults to true.
    #[serde(default = "default_true")]
    pub smart: bool,
    /// Explicit mappings. A mapping to a user field that smart mapping also fills replaces the smart one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<MappingSpec>,
}

impl Default for MappingsSpec {
    fn default() -> Self {
        MappingsSpec {
            smart: true,
            fields: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}

/// One explicit mapping: a connector field into a user field.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// The connector field (an id of the stream's fields, e.g. `id`).
    pub from: String,
    /// The user field: `username`, `email`, `first_name`, `last_name` or a custom field (lowercase letters, digits and `_`, e.g. `miro_id`).
    pub to: String,
    /// The label of a custom field (e.g. `Miro ID`). Defaults to the connector field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Set to true to map into a custom user field, created if it does not exist yet. Required for custom fields, so a typo in `to` is an error, not a new field.
    #[serde(default)]
    pub create: bool,
}
