//! Integrations: a connector, a credential and inputs, the app instance they read,
//! and how records become people (preference, role, sync key, mappings, schedule).
//!
//! The file format is [`model`]; [`load_integration`] checks a file against the
//! connector it names and returns an [`Integration`] with its resolved [`mapping`]
//! table. The CLI stores an integration as JSON ([`Integration::to_json`]) and reads it
//! back ([`Integration::from_json`]). `core` does not know the store: the CLI converts
//! [`Preference`], [`Selection`] and [`Integration::sync_target`] to the store's types.

pub mod load;
pub mod mapping;
pub mod model;
pub mod schedule;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use load::{integration_schema, load_integration, load_integration_with_names};
pub use mapping::{BUILTIN_USER_FIELDS, ResolvedMapping};
pub use model::{IntegrationFile, MappingSpec, MappingsSpec, Preference, SaasSpec, Selection};
pub use schedule::Schedule;

/// The version of the JSON form written by [`Integration::to_json`].
pub const JSON_FORMAT: u32 = 1;

/// A checked integration: every name resolved against its connector, defaults applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// The integration's name (e.g. `Miro Users`).
    pub name: String,
    /// The connector's name (e.g. `miro`).
    pub connector: String,
    /// The connector stream read (e.g. `users`).
    pub stream: String,
    /// The stored credential with the connector's secret inputs, if it has any.
    pub credential: Option<String>,
    /// Values of the connector's non-secret inputs, as written (never secrets).
    pub inputs: IndexMap<String, String>,
    /// What a run writes.
    pub selection: Selection,
    /// The app (e.g. `Miro`).
    pub app: String,
    /// The app instance (e.g. `Miro EU`); the app's name unless given.
    pub instance: String,
    /// Whether people may be created.
    pub preference: Preference,
    /// The role given to people created by a run.
    pub role: Option<String>,
    /// The connector field that identifies a person (e.g. `username`).
    pub sync_key: String,
    /// When it runs.
    pub schedule: Schedule,
    /// Whether the stream's joins (`enrich` in the connector) run when the inputs cover
    /// them.
    #[serde(default = "enrich_default")]
    pub enrich: bool,
    mappings: Vec<ResolvedMapping>,
    /// The file it was loaded from, as written.
    pub source: IntegrationSource,
}

fn enrich_default() -> bool {
    true
}

/// The file an integration was loaded from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSource {
    /// The file's display name (its path when applied).
    pub file: String,
    /// The file's text.
    pub text: String,
}

/// The stored JSON form: the integration plus a format version.
#[derive(Serialize, Deserialize)]
struct Stored<T> {
    format: u32,
    #[serde(flatten)]
    integration: T,
}

impl Integration {
    /// The resolved mapping table, smart mappings first (in the stream's field order),
    /// then the explicit ones that add fields.
    pub fn mappings(&self) -> &[ResolvedMapping] {
        &self.mappings
    }

    /// The mapping that carries the sync key.
    pub fn sync_mapping(&self) -> &ResolvedMapping {
        self.mappings
            .iter()
            .find(|m| m.sync_key)
            .expect("a checked integration has a sync key mapping")
    }

    /// The user field the sync key maps to (e.g. `username`, `email` or a custom field).
    pub fn sync_target(&self) -> &str {
        &self.sync_mapping().target
    }

    /// The custom user fields this integration fills, as (key, label).
    pub fn custom_fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.mappings
            .iter()
            .filter(|m| m.custom)
            .map(|m| (m.target.as_str(), m.label.as_str()))
    }

    /// The JSON form kept in the store (with a `format` version and the file text).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Stored {
            format: JSON_FORMAT,
            integration: self,
        })
        .expect("an integration serializes to JSON")
    }

    /// Reads the JSON form written by [`to_json`](Self::to_json).
    pub fn from_json(value: &serde_json::Value) -> Result<Integration, String> {
        let format = value.get("format").and_then(serde_json::Value::as_u64);
        if format != Some(u64::from(JSON_FORMAT)) {
            return Err(match format {
                Some(n) => format!(
                    "the integration was stored in format {n}, and this rollcall reads format {JSON_FORMAT}; apply its file again"
                ),
                None => "the stored integration has no format version".to_string(),
            });
        }
        let stored: Stored<Integration> = serde_json::from_value(value.clone())
            .map_err(|e| format!("the stored integration is malformed: {e}"))?;
        let i = stored.integration;
        if i.mappings.iter().filter(|m| m.sync_key).count() != 1 {
            return Err("the stored integration has no single sync key mapping".into());
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rollcall_source::SourceFile;

    use super::*;
    use crate::compile::Connector;
    use crate::manifest::load_connector;

    const CONNECTOR: &str = r#"
apiVersion: rollcall/v1
name: miro
display_name: Miro
version: 1.0.0
inputs:
  base_url: { description: Base URL., default: "https://miro.com/api/v1/scim" }
  token: { description: Token., secret: true }
http: { base_url: "{{base_url}}" }
auth: { bearer: { token: "{{token}}" } }
streams:
  users:
    request: { path: /Users }
    records: $.Resources[*]
    primary_key: id
    fields:
      id: { label: Id, path: $.id }
      username: { label: Username, path: $.userName }
      email: { label: Email, path: $.email }
      first_name: { label: First name, path: $.name.givenName }
      family_name: { label: Family name, path: $.name.familyName }
      active: { label: Active?, path: $.active, type: bool }
"#;

    const EXAMPLE: &str = r#"name: Miro Users
connector: miro
credential: miro-scim
inputs: { base_url: "https://miro.com/api/v1/scim" }
users: user-plus-saas-user
saas: { app: Miro, instance: Miro EU }
preference: update-only
role: Employee
sync_key: username
mappings:
  smart: true
  fields:
    - { from: id, to: miro_id, label: "Miro ID", create: true }
schedule: daily at 02:00
"#;

    fn connector() -> Arc<Connector> {
        Arc::new(load_connector(SourceFile::new("miro.yaml", CONNECTOR), "test").unwrap())
    }

    fn load(text: &str) -> Result<Integration, crate::manifest::LoadError> {
        let c = connector();
        let find = move |n: &str| (n == "miro").then(|| c.clone());
        load_integration_with_names(SourceFile::new("i.yaml", text), &find, &["miro".into()])
    }

    #[test]
    fn the_example_loads_with_its_smart_and_custom_mappings() {
        let i = load(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(i.name, "Miro Users");
        assert_eq!(i.stream, "users");
        assert_eq!((i.app.as_str(), i.instance.as_str()), ("Miro", "Miro EU"));
        assert_eq!(i.preference, Preference::UpdateOnly);
        assert_eq!(i.selection, Selection::UserPlusSaasUser);
        assert_eq!(
            i.schedule,
            Schedule::Daily {
                at: Some((2, 0)),
                zone: None
            }
        );
        assert_eq!(i.sync_target(), "username");
        let targets: Vec<&str> = i.mappings().iter().map(|m| m.target.as_str()).collect();
        assert_eq!(
            targets,
            ["username", "email", "first_name", "last_name", "miro_id"]
        );
        assert_eq!(
            i.custom_fields().collect::<Vec<_>>(),
            [("miro_id", "Miro ID")]
        );
    }

    #[test]
    fn defaults_come_from_the_connector() {
        let i = load("name: M\nconnector: miro\ncredential: c\nsync_key: email\n").unwrap();
        assert_eq!((i.app.as_str(), i.instance.as_str()), ("Miro", "Miro"));
        assert_eq!(i.schedule.to_string(), "daily");
        assert_eq!(i.preference, Preference::UpdateOnly);
        assert_eq!(i.sync_target(), "email");
        let i = load("name: M\nconnector: miro\ncredential: c\nsync_key: email\nsaas: { app: Miro, instance: Miro US }\n").unwrap();
        assert_eq!(i.instance, "Miro US");
    }

    #[test]
    fn json_round_trips() {
        let i = load(EXAMPLE).unwrap();
        let json = i.to_json();
        assert_eq!(json["format"], 1);
        assert_eq!(json["preference"], "update-only");
        assert_eq!(json["schedule"], "daily at 02:00");
        assert_eq!(Integration::from_json(&json).unwrap(), i);
        let mut future = json.clone();
        future["format"] = 2.into();
        assert!(
            Integration::from_json(&future)
                .unwrap_err()
                .contains("format 2")
        );
    }

    #[test]
    fn every_semantic_problem_is_reported_in_file_order() {
        let text = "name: M\nconnector: miro\ninputs: { token: x, base_ur: y }\nsync_key: usernme\nschedule: hourly\n";
        let e = load(text).unwrap_err();
        let lines: Vec<String> = e.diagnostics.iter().map(|d| d.headline()).collect();
        assert_eq!(
            lines,
            [
                "i.yaml:3:18: error: `token` is a secret input and cannot be written in an integration file",
                "i.yaml:3:21: error: the connector `miro` has no input `base_ur`",
                "i.yaml:4:11: error: the stream `users` has no field `usernme` to use as the sync key",
                "i.yaml:5:11: error: `hourly` is not a schedule",
            ]
        );
        let e = load("name: M\nconnector: mirro\nsync_key: x\n").unwrap_err();
        assert_eq!(
            e.diagnostics[0].hint.as_deref(),
            Some("did you mean `miro`? `rollcall connectors` lists the connectors")
        );
    }
}
