//! A raw record as extraction and plugins read it: the API's value, possibly with
//! top-level attributes that record transforms set (`{"set": {...}}` answers).
//!
//! A patch is kept next to the page's record rather than applied to a copy of it:
//! copying a kilobyte of `preserve_order` JSON per record cost more than the plugin
//! call itself (`BENCHMARKS.md` §6.2). Reading through the patch gives exactly what
//! the copy would have held: the record's attributes in their order, each replaced
//! by the patch's value when the patch sets it, then the patch's new attributes in
//! the order they were first set.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// A raw record of a page after record transforms: the page's own value, that
/// value with a patch, or a new value (a `keep` answer).
#[derive(Clone, Debug, PartialEq)]
pub enum RawRecord<'a> {
    /// The record as the page holds it.
    Borrowed(&'a Value),
    /// The page's record (an object) with these top-level attributes set.
    Patched {
        /// The page's record.
        base: &'a Value,
        /// Attributes set on it, in the order they were first set.
        set: Map<String, Value>,
    },
    /// A record a plugin answered whole.
    Owned(Value),
}

impl<'a> From<&'a Value> for RawRecord<'a> {
    fn from(v: &'a Value) -> Self {
        RawRecord::Borrowed(v)
    }
}

impl<'a> RawRecord<'a> {
    /// A view for reading the record.
    pub fn view(&self) -> RecordView<'_> {
        match self {
            RawRecord::Borrowed(v) => RecordView::Value(v),
            RawRecord::Patched { base, set } => RecordView::Patched { base, set },
            RawRecord::Owned(v) => RecordView::Value(v),
        }
    }

    /// The record with `patch`'s attributes set (added or replaced). Without copying
    /// the page's record. Err (the record unchanged) when it is not an object.
    pub fn set(self, patch: Map<String, Value>) -> Result<Self, Self> {
        if patch.is_empty() {
            return Ok(self);
        }
        match self {
            RawRecord::Borrowed(base) if base.is_object() => {
                Ok(RawRecord::Patched { base, set: patch })
            }
            RawRecord::Patched { base, mut set } => {
                set.extend(patch);
                Ok(RawRecord::Patched { base, set })
            }
            RawRecord::Owned(Value::Object(mut obj)) => {
                obj.extend(patch);
                Ok(RawRecord::Owned(Value::Object(obj)))
            }
            other => Err(other),
        }
    }

    /// The record as one value (copied only when it is patched).
    pub fn into_value(self) -> Cow<'a, Value> {
        match self {
            RawRecord::Borrowed(v) => Cow::Borrowed(v),
            RawRecord::Patched { base, set } => {
                let mut v = base.clone();
                if let Some(obj) = v.as_object_mut() {
                    obj.extend(set);
                }
                Cow::Owned(v)
            }
            RawRecord::Owned(v) => Cow::Owned(v),
        }
    }
}

/// A raw record to read: a value, or a value with a patch over it.
#[derive(Clone, Copy, Debug)]
pub enum RecordView<'a> {
    /// A plain value.
    Value(&'a Value),
    /// An object with these top-level attributes set over it.
    Patched {
        /// The object.
        base: &'a Value,
        /// Attributes set over it.
        set: &'a Map<String, Value>,
    },
}

impl<'a> From<&'a Value> for RecordView<'a> {
    fn from(v: &'a Value) -> Self {
        RecordView::Value(v)
    }
}

impl<'a> RecordView<'a> {
    /// Whether the record is an object.
    pub fn is_object(&self) -> bool {
        match self {
            RecordView::Value(v) => v.is_object(),
            RecordView::Patched { .. } => true,
        }
    }

    /// The top-level attribute `key` (None when the record is not an object).
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        match self {
            RecordView::Value(v) => member(v.as_object()?, key),
            RecordView::Patched { base, set } => {
                member(set, key).or_else(|| member(base.as_object()?, key))
            }
        }
    }

    /// The record as one value (copied only when it is patched).
    pub fn to_value(&self) -> Cow<'a, Value> {
        match *self {
            RecordView::Value(v) => Cow::Borrowed(v),
            RecordView::Patched { base, set } => {
                let mut v = base.clone();
                if let Some(obj) = v.as_object_mut() {
                    obj.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                Cow::Owned(v)
            }
        }
    }

    /// Only the top-level attributes `keys` (in that order; those the record lacks
    /// are left out), for serializing; all of it with None.
    pub fn only(self, keys: Option<&'a [String]>) -> Projection<'a> {
        Projection { record: self, keys }
    }
}

impl Serialize for RecordView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            RecordView::Value(v) => v.serialize(s),
            RecordView::Patched { base, set } => {
                let Some(obj) = base.as_object() else {
                    return base.serialize(s);
                };
                let added = set.keys().filter(|k| !obj.contains_key(*k)).count();
                let mut map = s.serialize_map(Some(obj.len() + added))?;
                for (k, v) in obj {
                    map.serialize_entry(k, member(set, k).unwrap_or(v))?;
                }
                for (k, v) in set {
                    if !obj.contains_key(k) {
                        map.serialize_entry(k, v)?;
                    }
                }
                map.end()
            }
        }
    }
}

/// A member of an object. Records are small objects, and with serde_json's
/// `preserve_order` a hashed lookup costs more than comparing a few keys, so small
/// objects are scanned.
pub(crate) fn member<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if o.len() <= 16 {
        o.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        o.get(key)
    }
}

/// A record cut to some top-level attributes, serialized without copying them
/// (see [`RecordView::only`]).
#[derive(Clone, Copy, Debug)]
pub struct Projection<'a> {
    record: RecordView<'a>,
    keys: Option<&'a [String]>,
}

impl Serialize for Projection<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.keys {
            Some(keys) if self.record.is_object() => {
                // No length: counting the attributes present would look each up twice.
                let mut map = s.serialize_map(None)?;
                for k in keys {
                    if let Some(v) = self.record.get(k) {
                        map.serialize_entry(k, v)?;
                    }
                }
                map.end()
            }
            _ => self.record.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("a patch is an object"),
        }
    }

    /// What applying `patches` to a copy gives (the behaviour the overlay replaces).
    fn copied(base: &Value, patches: &[Value]) -> Value {
        let mut v = base.clone();
        for p in patches {
            v.as_object_mut().unwrap().extend(patch(p.clone()));
        }
        v
    }

    #[test]
    fn a_patched_record_reads_and_serializes_like_a_patched_copy() {
        let base =
            json!({"id": "1", "userName": "a@x", "name": {"givenName": "Ada"}, "active": true});
        let patches = [
            json!({"active": false, "seatType": "full"}),
            json!({}),
            json!({"fullName": "Ada L", "seatType": "trial", "id": "1b"}),
        ];
        let mut r = RawRecord::from(&base);
        for p in &patches {
            r = r.set(patch(p.clone())).unwrap();
        }
        assert!(matches!(r, RawRecord::Patched { .. }));
        let want = copied(&base, &patches);
        let view = r.view();
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
        assert_eq!(view.to_value().as_ref(), &want);
        for k in [
            "id", "userName", "name", "active", "seatType", "fullName", "nope",
        ] {
            assert_eq!(view.get(k), want.get(k), "{k}");
        }
        assert_eq!(r.into_value().into_owned(), want);
        // The page's record itself is untouched.
        assert_eq!(base["active"], json!(true));
    }

    #[test]
    fn patches_on_non_objects_are_refused_and_empty_ones_change_nothing() {
        let s = json!("text");
        assert_eq!(
            RawRecord::from(&s).set(patch(json!({"a": 1}))),
            Err(RawRecord::Borrowed(&s))
        );
        assert_eq!(
            RawRecord::from(&s).set(Map::new()),
            Ok(RawRecord::Borrowed(&s))
        );
        let owned = RawRecord::Owned(json!({"a": 1}));
        assert_eq!(
            owned.set(patch(json!({"b": 2}))),
            Ok(RawRecord::Owned(json!({"a": 1, "b": 2})))
        );
    }

    #[test]
    fn projections_serialize_like_projected_copies() {
        let base =
            json!({"id": "1", "userName": "a@x", "userType": "Full", "name": {"givenName": "Ada"}});
        let keys: Vec<String> = ["name", "seatType", "missing", "userName"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = RawRecord::from(&base)
            .set(patch(json!({"seatType": "full"})))
            .unwrap();
        let text = serde_json::to_string(&r.view().only(Some(&keys))).unwrap();
        assert_eq!(
            text,
            r#"{"name":{"givenName":"Ada"},"seatType":"full","userName":"a@x"}"#
        );
        let whole = serde_json::to_string(&r.view().only(None)).unwrap();
        assert_eq!(
            whole,
            serde_json::to_string(&copied(&base, &[json!({"seatType": "full"})])).unwrap()
        );
        // A record that is not an object is sent as it is.
        let n = json!(3);
        assert_eq!(
            serde_json::to_string(&RecordView::from(&n).only(Some(&keys))).unwrap(),
            "3"
        );
    }
}
