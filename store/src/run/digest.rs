//! The digest of a SaaS account's content columns, kept in `saas_users.digest`.
//!
//! A sync compares the digest of an incoming record with the stored one to decide
//! "unchanged" without reading or parsing the stored JSON. The digest is 64-bit FNV-1a over
//! a fixed encoding of the columns, so it is the same on every build and platform (std's
//! hasher makes no such promise). The incoming side hashes `roles` and `fields` while
//! serialising them, without building the JSON text; the stored side hashes the JSON text
//! as stored. Both give the same bytes because the store writes exactly what
//! `serde_json` serialises.
//!
//! A collision would make a changed account look unchanged until its next change; for one
//! account compared with its own previous state that happens with probability 2^-64.

use std::io;

use super::AccountFields;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running 64-bit FNV-1a hash; also an `io::Write` so serde can write into it.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
        self.0 = h;
    }

    /// An optional text: a tag, then the length and the bytes, so that no two different
    /// sequences of texts encode alike.
    fn text(&mut self, text: Option<&str>) {
        match text {
            None => self.bytes(&[0]),
            Some(t) => {
                self.bytes(&[1]);
                self.bytes(&(t.len() as u64).to_le_bytes());
                self.bytes(t.as_bytes());
            }
        }
    }

    fn finish(self) -> i64 {
        // Stored in an SQLite INTEGER; the bits are what matter.
        i64::from_ne_bytes(self.0.to_ne_bytes())
    }
}

impl io::Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The columns that make up an account's content, other than the two JSON ones.
pub(super) struct Columns<'a> {
    pub username: Option<&'a str>,
    pub user_type: Option<&'a str>,
    pub active: Option<bool>,
    pub last_activity_at: Option<&'a str>,
}

fn start(c: &Columns<'_>) -> Fnv {
    let mut h = Fnv::new();
    h.text(c.username);
    h.text(c.user_type);
    h.bytes(&[match c.active {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }]);
    h.text(c.last_activity_at);
    h
}

/// The digest of incoming content; `roles` and `fields` are hashed as `serde_json`
/// serialises them.
pub(super) fn incoming(c: &Columns<'_>, roles: &[String], fields: &AccountFields) -> i64 {
    let mut h = start(c);
    // Writing into the hasher cannot fail, and serialising strings and JSON values cannot
    // either; a failure would only give a digest that compares unequal (an extra update).
    let _ = serde_json::to_writer(&mut h, roles);
    let _ = serde_json::to_writer(&mut h, fields);
    h.finish()
}

/// The digest of stored content: `roles` and `fields` are the stored JSON texts.
pub(super) fn stored(c: &Columns<'_>, roles: &str, fields: &str) -> i64 {
    let mut h = start(c);
    h.bytes(roles.as_bytes());
    h.bytes(fields.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns() -> Columns<'static> {
        Columns {
            username: Some("ada@example.com"),
            user_type: Some("Full"),
            active: Some(true),
            last_activity_at: None,
        }
    }

    #[test]
    fn incoming_and_stored_agree_on_the_same_content() {
        let roles = vec!["ORGANIZATION_INTERNAL_USER".to_owned(), "a\"b".to_owned()];
        let fields = json!({"id": "1", "name": "Ada \u{e9}", "n": 3, "x": null, "l": [1, "2"]});
        let serde_json::Value::Object(fields) = fields else {
            unreachable!("a JSON object literal")
        };
        let roles_text = serde_json::to_string(&roles).unwrap_or_default();
        let fields_text = serde_json::to_string(&fields).unwrap_or_default();
        assert_eq!(
            incoming(&columns(), &roles, &AccountFields::from(fields.clone())),
            stored(&columns(), &roles_text, &fields_text)
        );
    }

    #[test]
    fn every_column_changes_the_digest() {
        let base = stored(&columns(), "[]", "{}");
        let variants = [
            Columns {
                username: None,
                ..columns()
            },
            Columns {
                user_type: Some("Free"),
                ..columns()
            },
            Columns {
                active: Some(false),
                ..columns()
            },
            Columns {
                active: None,
                ..columns()
            },
            Columns {
                last_activity_at: Some("2026-01-01T00:00:00.000000Z"),
                ..columns()
            },
        ];
        for v in &variants {
            assert_ne!(stored(v, "[]", "{}"), base);
        }
        assert_ne!(stored(&columns(), "[\"a\"]", "{}"), base);
        assert_ne!(stored(&columns(), "[]", "{\"a\":1}"), base);
        // Texts are length-prefixed: moving a character between two texts changes it.
        let a = Columns {
            username: Some("ab"),
            user_type: Some("c"),
            ..columns()
        };
        let b = Columns {
            username: Some("a"),
            user_type: Some("bc"),
            ..columns()
        };
        assert_ne!(stored(&a, "[]", "{}"), stored(&b, "[]", "{}"));
    }
}
