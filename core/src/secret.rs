//! Secrets that cannot be printed by accident.
//!
//! A [`Secret`] has no `Display`, its `Debug` prints `[redacted]`, and it is not
//! `Serialize`: the only way to the bytes is [`Secret::expose`], which is easy to grep
//! for. A [`Redactor`] knows every secret of a run and scrubs them out of any text
//! that leaves the engine (error messages, `--explain` lines, logs).

use std::fmt;
use std::sync::{Arc, RwLock};

/// A secret string (a token, a password, a rendered auth header).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The secret itself. Call this only where the value goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The text that replaces a secret in anything shown to people.
pub const REDACTED: &str = "***";

/// Scrubs known secret values out of text.
///
/// Secrets are taught before a run with [`Redactor::add`], and during it with
/// [`Redactor::learn`] (an access token fetched from a token endpoint), so a redactor
/// shared by the engines of a run knows every secret the run has seen.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<Secret>>,
}

impl Clone for Redactor {
    fn clone(&self) -> Self {
        Redactor {
            secrets: RwLock::new(self.read().clone()),
        }
    }
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Secret>> {
        self.secrets.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Teaches the redactor one more secret. Very short secrets (under 4 characters)
    /// are still scrubbed; empty ones are ignored.
    pub fn add(&mut self, secret: &Secret) {
        let list = self.secrets.get_mut().unwrap_or_else(|e| e.into_inner());
        insert(list, secret);
    }

    /// [`Redactor::add`] on a shared redactor, for secrets that appear during a run.
    pub fn learn(&self, secret: &Secret) {
        if secret.is_empty() || self.read().iter().any(|s| s == secret) {
            return;
        }
        let mut list = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        insert(&mut list, secret);
    }

    /// `text` with every known secret (and its percent-encoded form) replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.read().iter() {
            let raw = secret.expose();
            if out.contains(raw) {
                out = out.replace(raw, REDACTED);
            }
            let encoded: String =
                percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC)
                    .collect();
            if encoded != raw && out.contains(&encoded) {
                out = out.replace(&encoded, REDACTED);
            }
            // The form encoding used in query strings (`/` → %2F, space → +).
            let form: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
            if form != raw && out.contains(&form) {
                out = out.replace(&form, REDACTED);
            }
        }
        out
    }
}

fn insert(list: &mut Vec<Secret>, secret: &Secret) {
    if secret.is_empty() || list.iter().any(|s| s == secret) {
        return;
    }
    list.push(secret.clone());
    // Longest first, so a secret that contains another is scrubbed whole.
    list.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-token");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
    }

    #[test]
    fn redactor_scrubs_plain_and_encoded_forms() {
        let mut r = Redactor::new();
        r.add(&Secret::new("a b/c"));
        r.add(&Secret::new("tok"));
        assert_eq!(r.redact("x a b/c y a%20b%2Fc z tok"), "x *** y *** z ***");
    }

    #[test]
    fn a_shared_redactor_learns_during_a_run() {
        let r = Arc::new(Redactor::new());
        let copy = r.clone();
        copy.learn(&Secret::new("fresh-access-token"));
        assert_eq!(r.redact("Bearer fresh-access-token"), "Bearer ***");
        let snapshot = (*r).clone();
        r.learn(&Secret::new("later"));
        assert_eq!(snapshot.redact("later"), "later");
    }
}
