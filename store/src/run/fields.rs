//! An account's fields as a sync hands them over: the names shared by every account of
//! the run (the stream's field ids, in order), the values the account's own. A run of 100k
//! accounts then builds no map and copies no name per account.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// An account's fields: names (shared) and values, in the stream's order. Serialises as
/// the JSON object `serde_json` would write for a map with the same entries in the same
/// order, which is what the store keeps and what the account's digest is taken over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountFields {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl AccountFields {
    /// The fields `names[i] = values[i]`. The names must be distinct (a stream's field
    /// ids are); extra names or values beyond the shorter list are left out.
    pub fn new(mut names: Arc<[String]>, mut values: Vec<Value>) -> AccountFields {
        values.truncate(names.len());
        if names.len() > values.len() {
            names = names[..values.len()].into();
        }
        AccountFields { names, values }
    }

    /// The value of the field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Sets the field `name`: in place when there is one, else added last (which copies
    /// the shared names once for this account).
    pub fn insert(&mut self, name: &str, value: Value) {
        match self.names.iter().position(|n| n == name) {
            Some(i) => self.values[i] = value,
            None => {
                self.names = self
                    .names
                    .iter()
                    .cloned()
                    .chain([name.to_owned()])
                    .collect();
                self.values.push(value);
            }
        }
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names.iter().map(String::as_str).zip(&self.values)
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl From<Map<String, Value>> for AccountFields {
    fn from(map: Map<String, Value>) -> AccountFields {
        let (names, values): (Vec<String>, Vec<Value>) = map.into_iter().unzip();
        AccountFields::new(names.into(), values)
    }
}

impl Serialize for AccountFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn serialises_exactly_as_the_map_with_the_same_entries() {
        let Value::Object(map) = json!({"id": "1", "name": "Ada \u{e9}\"", "n": 3, "x": null, "l": [1, "2"], "o": {"b": 1, "a": 2}})
        else {
            unreachable!("a JSON object literal")
        };
        let fields = AccountFields::from(map.clone());
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(fields.get("n"), Some(&json!(3)));
        assert_eq!(fields.get("missing"), None);
        assert_eq!(fields.len(), 6);
        let empty = AccountFields::default();
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
        assert!(empty.is_empty());
    }

    #[test]
    fn names_and_values_pair_up_to_the_shorter_list() {
        let names: Arc<[String]> = vec!["a".to_owned(), "b".to_owned()].into();
        let f = AccountFields::new(names.clone(), vec![json!(1), json!(2), json!(3)]);
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"a":1,"b":2}"#);
        let mut g = AccountFields::new(names.clone(), vec![json!(1)]);
        assert_eq!(serde_json::to_string(&g).unwrap(), r#"{"a":1}"#);
        g.insert("a", json!(5));
        g.insert("c", json!(6));
        assert_eq!(serde_json::to_string(&g).unwrap(), r#"{"a":5,"c":6}"#);
        assert_eq!(names.len(), 2, "the shared names are not changed");
    }
}
