//! Mapping: a record of the integration's stream becomes the store's [`IncomingAccount`]:
//! person fields from the integration's resolved mappings, account columns from the
//! well-known field ids, every field kept.
//!
//! Compile once, map many: an [`AccountMapper`] looks each field id up in the stream's
//! field set once, and then maps each record by position, moving its values rather than
//! copying them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rollcall_core::Record;
use rollcall_core::compile::{FieldSet, FieldSource};
use rollcall_core::integration::Integration;
use rollcall_store::{AccountFields, IncomingAccount};
use serde_json::Value;

/// The field ids whose values become roles, in order.
const ROLE_FIELDS: [&str; 2] = ["role", "admin_roles"];

/// The integration's mapping, resolved against one field set (a stream's).
pub(crate) struct AccountMapper {
    fields: Arc<FieldSet>,
    /// Person fields: target user field, position of the source field.
    user_fields: Vec<(String, usize)>,
    sync_value: Option<usize>,
    roles: Vec<usize>,
    username: Option<usize>,
    user_type: Option<usize>,
    active: Option<usize>,
    last_activity_at: Option<usize>,
    /// The fields kept in the account's `fields`: their ids (shared by every account) and
    /// positions. Computed fields (the sync time) are left out: they change on every run,
    /// and the account's own `last_seen_at` already says when it was seen.
    kept_names: Arc<[String]>,
    kept: Vec<usize>,
}

impl AccountMapper {
    /// The mapper of `integration` for records with the field set `fields`.
    pub(crate) fn new(integration: &Integration, fields: &Arc<FieldSet>) -> AccountMapper {
        let position = |id: &str| fields.fields.iter().position(|f| f.id == id);
        let kept: Vec<usize> = fields
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !matches!(f.source, FieldSource::Computed(_)))
            .map(|(i, _)| i)
            .collect();
        AccountMapper {
            fields: fields.clone(),
            user_fields: integration
                .mappings()
                .iter()
                .filter_map(|m| Some((m.target.clone(), position(&m.source)?)))
                .collect(),
            sync_value: position(&integration.sync_mapping().source),
            roles: ROLE_FIELDS.iter().filter_map(|id| position(id)).collect(),
            username: position("username"),
            user_type: position("user_type"),
            active: position("active"),
            last_activity_at: position("last_activity_at"),
            kept_names: kept.iter().map(|&i| fields.fields[i].id.clone()).collect(),
            kept,
        }
    }

    /// Whether records with the field set `fields` are mapped by this mapper.
    pub(crate) fn is_for(&self, fields: &Arc<FieldSet>) -> bool {
        Arc::ptr_eq(&self.fields, fields)
    }

    /// Maps one record (of this mapper's field set).
    pub(crate) fn map(&self, record: Record) -> IncomingAccount {
        let Record {
            key, mut values, ..
        } = record;
        let get = |at: Option<usize>| at.and_then(|i| values.get(i)).filter(|v| !v.is_null());
        let mut user_fields = BTreeMap::new();
        for (target, at) in &self.user_fields {
            if let Some(v) = get(Some(*at)) {
                user_fields.insert(target.clone(), v.clone());
            }
        }
        let sync_value = get(self.sync_value).map(text).filter(|s| !s.is_empty());
        let mut roles = Vec::new();
        for at in &self.roles {
            match get(Some(*at)) {
                Some(Value::Array(a)) => roles.extend(a.iter().filter(|v| !v.is_null()).map(text)),
                Some(v) => roles.push(text(v)),
                None => {}
            }
        }
        let username = get(self.username).map(text);
        let user_type = get(self.user_type).map(text);
        let active = get(self.active).and_then(Value::as_bool);
        let last_activity_at = get(self.last_activity_at)
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        let kept = self
            .kept
            .iter()
            .map(|&at| {
                values
                    .get_mut(at)
                    .map(std::mem::take)
                    .unwrap_or(Value::Null)
            })
            .collect();
        let fields = AccountFields::new(self.kept_names.clone(), kept);
        IncomingAccount {
            external_id: key,
            sync_value,
            user_fields,
            username,
            user_type,
            active,
            roles,
            last_activity_at,
            fields,
        }
    }
}

/// A value as text: a string as it is, anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rollcall_core::integration::load_integration;
    use rollcall_core::manifest::load_connector;
    use rollcall_source::SourceFile;
    use serde_json::json;

    use super::*;

    /// A Miro integration that also maps the SCIM id to a custom field.
    const INTEGRATION: &str = "name: Miro Users
connector: miro
sync_key: username
preference: create-and-update
mappings:
  fields:
    - { from: id, to: miro_id, label: Miro ID, create: true }
";

    /// The mapper of [`INTEGRATION`] for the shipped Miro manifest's `users` stream.
    fn mapper() -> (AccountMapper, Arc<FieldSet>) {
        let miro = rollcall_connectors::builtin("miro").unwrap();
        let connector =
            Arc::new(load_connector(SourceFile::new("miro.yaml", miro.text), "built-in").unwrap());
        let find = {
            let c = connector.clone();
            move |n: &str| (n == "miro").then(|| c.clone())
        };
        let integration = load_integration(SourceFile::new("i.yaml", INTEGRATION), &find).unwrap();
        let fields = connector.streams["users"].fields.clone();
        (AccountMapper::new(&integration, &fields), fields)
    }

    /// A record of the stream with the given values (by field id), null elsewhere.
    fn record(fields: &Arc<FieldSet>, key: &str, given: Value) -> Record {
        let values = fields
            .fields
            .iter()
            .map(|f| given.get(&f.id).cloned().unwrap_or(Value::Null))
            .collect();
        Record {
            key: key.to_owned(),
            values,
            fields: fields.clone(),
        }
    }

    #[test]
    fn a_record_maps_to_person_fields_account_columns_and_every_field_but_computed_ones() {
        let (mapper, fields) = mapper();
        let a = mapper.map(record(
            &fields,
            "u1",
            json!({
                "id": "u1",
                "username": "Ann@Example.com",
                "email": "ann@example.com",
                "first_name": "Ann",
                "active": false,
                "user_type": "Full",
                "role": "ORGANIZATION_INTERNAL_USER",
                "admin_roles": ["CONTENT_ADMIN", null, "USER_ADMIN"],
                "employee_number": 7,
                "connector_sync_time": "2026-12-06T00:00:00Z",
            }),
        ));
        assert_eq!(a.external_id, "u1");
        assert_eq!(a.sync_value.as_deref(), Some("Ann@Example.com"));
        assert_eq!(
            a.user_fields,
            BTreeMap::from([
                ("email".to_owned(), json!("ann@example.com")),
                ("first_name".to_owned(), json!("Ann")),
                ("miro_id".to_owned(), json!("u1")),
                ("username".to_owned(), json!("Ann@Example.com")),
            ])
        );
        assert_eq!(a.username.as_deref(), Some("Ann@Example.com"));
        assert_eq!(a.user_type.as_deref(), Some("Full"));
        assert_eq!(a.active, Some(false));
        assert_eq!(
            a.roles,
            ["ORGANIZATION_INTERNAL_USER", "CONTENT_ADMIN", "USER_ADMIN"]
        );
        // Every field in the stream's order, values as they came (a number stays one),
        // the computed sync time left out.
        let ids: Vec<&str> = fields
            .fields
            .iter()
            .map(|f| f.id.as_str())
            .filter(|id| *id != "connector_sync_time")
            .collect();
        assert_eq!(a.fields.iter().map(|(n, _)| n).collect::<Vec<_>>(), ids);
        assert_eq!(a.fields.get("employee_number"), Some(&json!(7)));
        assert_eq!(
            a.fields.get("admin_roles"),
            Some(&json!(["CONTENT_ADMIN", null, "USER_ADMIN"]))
        );
        assert_eq!(a.fields.get("department"), Some(&Value::Null));
    }

    #[test]
    fn nulls_and_empty_values_map_to_nothing() {
        let (mapper, fields) = mapper();
        let a = mapper.map(record(&fields, "u2", json!({"id": "u2", "username": ""})));
        assert_eq!(a.sync_value, None, "an empty sync value is no sync value");
        assert_eq!(a.username.as_deref(), Some(""));
        assert_eq!(
            a.user_fields,
            BTreeMap::from([
                ("miro_id".to_owned(), json!("u2")),
                ("username".to_owned(), json!("")),
            ])
        );
        assert!(a.roles.is_empty());
        assert_eq!((a.active, a.user_type.as_deref()), (None, None));
        assert_eq!(a.last_activity_at, None);
    }

    #[test]
    fn the_mapper_knows_its_field_set() {
        let (mapper, fields) = mapper();
        assert!(mapper.is_for(&fields));
        let (_, other) = self::mapper();
        assert!(!mapper.is_for(&other));
    }
}
