//! Example rollcall plugin `seat_type`, as a dynamic library.
//!
//! - `seat_type` (field transform): a Miro licence name (`userType`: `Full`,
//!   `Free Restricted`, ...) to a canonical seat type: `full`, `trial`,
//!   `occasional`, `free`, `restricted` or `other`.
//! - `full_name` (field transform, needs the record): `givenName familyName` from
//!   the SCIM `name`, else the field's own value.
//! - `enrich` (record transform): adds `seatType` and `fullName` to each raw record
//!   and drops records without a `userName`.
//!
//! `full_name` and `enrich` declare the attributes they read (`needs`), so the host
//! sends only those, and `enrich` answers patches (`set`) rather than whole records.
//!
//! `examples/plugin-seat-type-py/seat_type.py` does the same as a subprocess.

use rollcall_plugin_sdk::{
    Capability, CapabilityKind, Description, RecordOutcome, Request, Response,
};
use serde_json::Value;

rollcall_plugin_sdk::export_plugin!(describe: describe, handle: handle);

/// What `full_name` and `enrich` read of a record.
const NEEDS: [&str; 4] = ["userName", "userType", "name", "displayName"];

/// What the plugin offers.
pub fn describe() -> Description {
    let cap = |kind, function: &str, description: &str, reads_record: bool| Capability {
        kind,
        function: function.into(),
        description: Some(description.into()),
        needs_record: false,
        needs: reads_record.then(|| NEEDS.iter().map(|s| s.to_string()).collect()),
    };
    Description {
        name: "seat_type".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: Some("Canonical seat types and full names for Miro users.".into()),
        capabilities: vec![
            cap(
                CapabilityKind::FieldTransform,
                "seat_type",
                "A Miro licence name to full, trial, occasional, free, restricted or other.",
                false,
            ),
            cap(
                CapabilityKind::FieldTransform,
                "full_name",
                "givenName familyName from the record's SCIM name, else the value.",
                true,
            ),
            cap(
                CapabilityKind::RecordTransform,
                "enrich",
                "Adds seatType and fullName; drops records without a userName.",
                true,
            ),
        ],
        config_schema: None,
    }
}

/// Answers one request.
pub fn handle(request: Request) -> Result<Response, String> {
    match request {
        Request::Transform {
            function,
            value,
            record,
            ..
        } => match function.as_str() {
            "seat_type" => Ok(Response::Value {
                value: match value.as_str() {
                    Some(licence) => Value::from(seat_type(licence)),
                    None => return Err(format!("a licence name should be text, not {value}")),
                },
            }),
            "full_name" => Ok(Response::Value {
                value: record
                    .as_ref()
                    .and_then(full_name)
                    .map(Value::from)
                    .unwrap_or(value),
            }),
            other => Err(format!("there is no field transform `{other}`")),
        },
        Request::Batch {
            function, records, ..
        } if function == "enrich" => Ok(Response::Records {
            records: records.into_iter().map(enrich).collect(),
        }),
        Request::Batch { function, .. } => {
            Err(format!("there is no record transform `{function}`"))
        }
        _ => Err("this plugin offers no such request".into()),
    }
}

/// A Miro licence name to a canonical seat type.
pub fn seat_type(licence: &str) -> &'static str {
    match licence.trim().to_ascii_lowercase().as_str() {
        "full" | "standard" | "advanced" | "business" | "enterprise" => "full",
        "full (trial)" => "trial",
        "basic" | "occasional" => "occasional",
        "free" => "free",
        "free restricted" => "restricted",
        _ => "other",
    }
}

fn full_name(record: &Value) -> Option<String> {
    let name = record.get("name")?;
    let part = |k: &str| {
        name.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match (part("givenName"), part("familyName")) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

fn enrich(record: Value) -> RecordOutcome {
    let has_username = record
        .get("userName")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty());
    if !has_username {
        return RecordOutcome::Drop("it has no userName".into());
    }
    let seat = record
        .get("userType")
        .and_then(Value::as_str)
        .map(seat_type);
    let full = full_name(&record).or_else(|| {
        record
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if !record.is_object() {
        return RecordOutcome::Drop("it is not an object".into());
    }
    let mut changes = serde_json::Map::new();
    if let Some(seat) = seat {
        changes.insert("seatType".into(), Value::from(seat));
    }
    if let Some(full) = full {
        changes.insert("fullName".into(), Value::String(full));
    }
    RecordOutcome::Set(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_licences_and_names() {
        assert_eq!(seat_type("Full (Trial)"), "trial");
        assert_eq!(seat_type("Free Restricted"), "restricted");
        assert_eq!(seat_type("Something new"), "other");
        let r = json!({"userName": "a@x", "userType": "Basic", "name": {"givenName": "Ada", "familyName": "Lovelace"}});
        let RecordOutcome::Set(k) = enrich(r) else {
            panic!("kept")
        };
        assert_eq!(k["seatType"], "occasional");
        assert_eq!(k["fullName"], "Ada Lovelace");
        assert_eq!(
            enrich(json!({"id": "1"})),
            RecordOutcome::Drop("it has no userName".into())
        );
    }
}
