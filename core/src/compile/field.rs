//! Fields: from a raw record (a JSON object from the API) to typed values.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::path::JsonPath;
use crate::manifest::{Computed, FieldType, Transform};
use crate::raw_record::RecordView;

/// Where a field's value comes from.
#[derive(Clone, Debug)]
pub enum FieldSource {
    /// A JSONPath into the record.
    Path(JsonPath),
    /// A value rollcall computes.
    Computed(Computed),
}

/// A compiled field.
#[derive(Clone, Debug)]
pub struct Field {
    /// Field id (output key).
    pub id: String,
    /// Label for people.
    pub label: String,
    /// Value source.
    pub source: FieldSource,
    /// Type values are coerced to.
    pub field_type: FieldType,
    /// Whether a record without it is malformed.
    pub required: bool,
    /// Value when the record has none.
    pub default: Option<Value>,
    /// Transforms, in order.
    pub transforms: Vec<Transform>,
    /// A plugin field transform, applied after `transforms`.
    pub plugin: Option<crate::plugin::PluginFn>,
}

/// The ordered fields of a stream.
#[derive(Debug)]
pub struct FieldSet {
    /// Fields in manifest order.
    pub fields: Vec<Field>,
    /// Index of the primary key field.
    pub primary_key: usize,
}

/// Per-run values that computed fields read.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// The sync's start time, as an RFC 3339 string value.
    pub sync_time: Value,
}

impl RunContext {
    /// A context for a sync starting at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        RunContext {
            sync_time: Value::String(at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        }
    }
}

/// One extracted record: values in field order.
#[derive(Clone, Debug)]
pub struct Record {
    /// The primary key's value as text.
    pub key: String,
    /// Values, aligned with [`FieldSet::fields`].
    pub values: Vec<Value>,
    /// The fields (shared by all records of a stream).
    pub fields: Arc<FieldSet>,
}

impl Record {
    /// The value of a field by id.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.fields
            .fields
            .iter()
            .position(|f| f.id == id)
            .map(|i| &self.values[i])
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.values.len()))?;
        for (f, v) in self.fields.fields.iter().zip(&self.values) {
            map.serialize_entry(&f.id, v)?;
        }
        map.end()
    }
}

impl FieldSet {
    /// Extracts every field of `raw`. The error says which field and why.
    pub fn extract<'r>(
        self: &Arc<Self>,
        raw: impl Into<RecordView<'r>>,
        ctx: &RunContext,
    ) -> Result<Record, String> {
        let raw = raw.into();
        let mut values = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            values.push(field.extract(raw, ctx)?);
        }
        let key = match &values[self.primary_key] {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null => {
                return Err(format!(
                    "it has no `{}` (the primary key)",
                    self.fields[self.primary_key].id
                ));
            }
            other => {
                return Err(format!(
                    "its primary key `{}` is {}, not an identifier",
                    self.fields[self.primary_key].id,
                    describe(other)
                ));
            }
        };
        Ok(Record {
            key,
            values,
            fields: Arc::clone(self),
        })
    }
}

impl Field {
    /// Extracts, transforms and coerces this field from `raw`.
    pub fn extract<'r>(
        &self,
        raw: impl Into<RecordView<'r>>,
        ctx: &RunContext,
    ) -> Result<Value, String> {
        let raw = raw.into();
        let found: Option<Value> = match &self.source {
            // Computed once per run, already in its final form (compile checks the type).
            FieldSource::Computed(Computed::SyncTime)
                if self.transforms.is_empty() && self.plugin.is_none() =>
            {
                return Ok(ctx.sync_time.clone());
            }
            FieldSource::Computed(Computed::SyncTime) => Some(ctx.sync_time.clone()),
            FieldSource::Path(path) => {
                if self.field_type == FieldType::List {
                    let mut items = Vec::new();
                    path.for_each_in(raw, &mut |v| match v {
                        Value::Array(a) if path.is_singular() => {
                            items.extend(a.iter().filter(|x| !x.is_null()).cloned())
                        }
                        Value::Null => {}
                        other => items.push(other.clone()),
                    });
                    if items.is_empty() && path.first_in(raw).is_none() {
                        None
                    } else {
                        Some(Value::Array(items))
                    }
                } else {
                    match path.first_in(raw) {
                        None => None,
                        Some(v) if v.is_null() => None,
                        Some(v) => Some(v.into_owned()),
                    }
                }
            }
        };
        let mut value = match found {
            Some(v) => v,
            None => return self.missing(),
        };
        for t in &self.transforms {
            value = apply(t, value).map_err(|e| format!("field `{}`: {e}", self.id))?;
        }
        if let Some(p) = &self.plugin
            && !value.is_null()
        {
            value = p
                .transform(value, raw)
                .map_err(|e| format!("field `{}`: {e}", self.id))?;
        }
        if value.is_null() {
            return self.missing();
        }
        coerce(self.field_type, value).map_err(|e| format!("field `{}` {e}", self.id))
    }

    fn missing(&self) -> Result<Value, String> {
        match &self.default {
            Some(d) => Ok(d.clone()),
            None if self.required => Err(format!("the required field `{}` is missing", self.id)),
            None if self.field_type == FieldType::List => Ok(Value::Array(Vec::new())),
            None => Ok(Value::Null),
        }
    }
}

fn apply(t: &Transform, v: Value) -> Result<Value, String> {
    Ok(match t {
        Transform::Lowercase => map_str(v, |s| s.to_lowercase()),
        Transform::Uppercase => map_str(v, |s| s.to_uppercase()),
        Transform::Trim => map_str(v, |s| s.trim().to_string()),
        Transform::First => match v {
            Value::Array(a) => a.into_iter().next().unwrap_or(Value::Null),
            other => other,
        },
        Transform::Join(sep) => match v {
            Value::Array(a) => Value::String(
                a.iter()
                    .filter(|x| !x.is_null())
                    .map(text_of)
                    .collect::<Vec<_>>()
                    .join(sep),
            ),
            other => other,
        },
        Transform::ParseBool => match v {
            Value::String(s) => Value::Bool(parse_bool(&s).ok_or_else(|| {
                format!("`{s}` is not a boolean (expected true/false, yes/no or 1/0)")
            })?),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Value::Bool(n.as_i64() == Some(1))
            }
            other => other,
        },
        Transform::Not => match v {
            Value::Bool(b) => Value::Bool(!b),
            Value::String(s) => Value::Bool(
                !parse_bool(&s)
                    .ok_or_else(|| format!("`{s}` is not a boolean, so it cannot be negated"))?,
            ),
            other => {
                return Err(format!(
                    "{} is not a boolean, so it cannot be negated",
                    describe(&other)
                ));
            }
        },
        Transform::UnixTime => match v {
            Value::Number(ref n) => {
                let secs = n.as_f64().unwrap_or(f64::NAN);
                let t = (secs.is_finite() && secs.abs() < 1.0e11)
                    .then(|| DateTime::<Utc>::from_timestamp_millis((secs * 1000.0).round() as i64))
                    .flatten()
                    .ok_or_else(|| format!("{n} is not a Unix time in seconds"))?;
                Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            Value::String(ref s) if s.trim().parse::<f64>().is_ok() => {
                return apply(
                    t,
                    s.trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                        .unwrap_or(Value::Null),
                );
            }
            other => other,
        },
    })
}

fn map_str(v: Value, f: impl Fn(&str) -> String + Copy) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| map_str(x, f)).collect()),
        other => other,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A short description of a value for error messages.
pub fn describe(v: &Value) -> String {
    let text = v.to_string();
    let short = if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    };
    let kind = match v {
        Value::Null => return "null".into(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    format!("{kind} ({short})")
}

/// Coerces a value to a field type. The error completes "field `x` ...".
pub fn coerce(ty: FieldType, v: Value) -> Result<Value, String> {
    let fail = |v: &Value, want: &str| Err(format!("should be {want}, but it is {}", describe(v)));
    match ty {
        FieldType::Json => Ok(v),
        FieldType::String => match v {
            Value::String(_) => Ok(v),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => fail(&other, "text"),
        },
        FieldType::Bool => match v {
            Value::Bool(_) => Ok(v),
            Value::String(ref s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => fail(&v, "true or false"),
            },
            other => fail(&other, "true or false"),
        },
        FieldType::Integer => match v {
            Value::Number(ref n) if n.is_i64() || n.is_u64() => Ok(v),
            Value::Number(ref n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::from(f as i64)),
                _ => fail(&v, "a whole number"),
            },
            Value::String(ref s) => match s.trim().parse::<i64>() {
                Ok(i) => Ok(Value::from(i)),
                Err(_) => fail(&v, "a whole number"),
            },
            other => fail(&other, "a whole number"),
        },
        FieldType::Number => match v {
            Value::Number(_) => Ok(v),
            Value::String(ref s) => match s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Ok(Value::Number(n)),
                None => fail(&v, "a number"),
            },
            other => fail(&other, "a number"),
        },
        FieldType::Datetime => match v {
            Value::String(ref s) if s.trim().is_empty() => Ok(Value::Null),
            Value::String(ref s) => match DateTime::parse_from_rfc3339(s.trim()) {
                Ok(t) => Ok(Value::String(
                    t.with_timezone(&Utc)
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true),
                )),
                Err(_) => fail(&v, "an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z)"),
            },
            other => fail(&other, "an RFC 3339 date-time"),
        },
        FieldType::List => match v {
            Value::Array(_) => Ok(v),
            other => Ok(Value::Array(vec![other])),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(path: &str, ty: FieldType, transforms: Vec<Transform>) -> Field {
        Field {
            id: "f".into(),
            label: "F".into(),
            source: FieldSource::Path(JsonPath::parse(path).unwrap()),
            field_type: ty,
            required: false,
            default: None,
            transforms,
            plugin: None,
        }
    }

    fn ctx() -> RunContext {
        RunContext::new(
            DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    #[test]
    fn coercions() {
        let r =
            json!({"a": "TRUE", "n": "12", "x": 3.0, "d": "2026-01-02T03:04:05+02:00", "e": ""});
        assert_eq!(
            field("$.a", FieldType::Bool, vec![]).extract(&r, &ctx()),
            Ok(json!(true))
        );
        assert_eq!(
            field("$.n", FieldType::Integer, vec![]).extract(&r, &ctx()),
            Ok(json!(12))
        );
        assert_eq!(
            field("$.x", FieldType::Integer, vec![]).extract(&r, &ctx()),
            Ok(json!(3))
        );
        assert_eq!(
            field("$.x", FieldType::String, vec![]).extract(&r, &ctx()),
            Ok(json!("3.0"))
        );
        assert_eq!(
            field("$.d", FieldType::Datetime, vec![]).extract(&r, &ctx()),
            Ok(json!("2026-01-02T01:04:05Z"))
        );
        assert_eq!(
            field("$.e", FieldType::Datetime, vec![]).extract(&r, &ctx()),
            Ok(Value::Null)
        );
        let err = field("$.n", FieldType::Bool, vec![])
            .extract(&r, &ctx())
            .unwrap_err();
        assert_eq!(
            err,
            "field `f` should be true or false, but it is a string (\"12\")"
        );
    }

    #[test]
    fn transforms() {
        let r = json!({"s": "  Hello ", "l": ["a", "b"], "b": "False"});
        assert_eq!(
            field(
                "$.s",
                FieldType::String,
                vec![Transform::Trim, Transform::Lowercase]
            )
            .extract(&r, &ctx()),
            Ok(json!("hello"))
        );
        assert_eq!(
            field("$.l", FieldType::String, vec![Transform::Join(", ".into())]).extract(&r, &ctx()),
            Ok(json!("a, b"))
        );
        assert_eq!(
            field("$.l", FieldType::String, vec![Transform::First]).extract(&r, &ctx()),
            Ok(json!("a"))
        );
        assert_eq!(
            field("$.b", FieldType::Bool, vec![Transform::ParseBool]).extract(&r, &ctx()),
            Ok(json!(false))
        );
    }

    #[test]
    fn not_and_unix_time() {
        let r = json!({"deleted": false, "flag": "True", "n": 3, "t": 1700000000, "ts": "1700000000.5"});
        let not = |p: &str| field(p, FieldType::Bool, vec![Transform::Not]).extract(&r, &ctx());
        assert_eq!(not("$.deleted"), Ok(json!(true)));
        assert_eq!(not("$.flag"), Ok(json!(false)));
        assert_eq!(
            not("$.n").unwrap_err(),
            "field `f`: a number (3) is not a boolean, so it cannot be negated"
        );
        let time =
            |p: &str| field(p, FieldType::Datetime, vec![Transform::UnixTime]).extract(&r, &ctx());
        assert_eq!(time("$.t"), Ok(json!("2023-11-14T22:13:20Z")));
        assert_eq!(time("$.ts"), Ok(json!("2023-11-14T22:13:20.500Z")));
        assert_eq!(time("$.missing"), Ok(Value::Null));
    }

    #[test]
    fn lists_missing_and_defaults() {
        let r = json!({"roles": [{"v": "x"}, {"v": "y"}], "tags": ["p", "q"]});
        assert_eq!(
            field("$.roles[*].v", FieldType::List, vec![]).extract(&r, &ctx()),
            Ok(json!(["x", "y"]))
        );
        assert_eq!(
            field("$.tags", FieldType::List, vec![]).extract(&r, &ctx()),
            Ok(json!(["p", "q"]))
        );
        assert_eq!(
            field("$.nope[*].v", FieldType::List, vec![]).extract(&r, &ctx()),
            Ok(json!([]))
        );
        let mut f = field("$.nope", FieldType::String, vec![]);
        assert_eq!(f.extract(&r, &ctx()), Ok(Value::Null));
        f.default = Some(json!("none"));
        assert_eq!(f.extract(&r, &ctx()), Ok(json!("none")));
        f.default = None;
        f.required = true;
        assert_eq!(
            f.extract(&r, &ctx()).unwrap_err(),
            "the required field `f` is missing"
        );
    }
}
