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
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<Secret>,
    /// Secrets learnt while the run goes on ([`Redactor::learn`]), shared by clones.
    learned: Arc<RwLock<Vec<Secret>>>,
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Teaches the redactor one more secret. Very short secrets (under 4 characters)
    /// are still scrubbed; empty ones are ignored.
    pub fn add(&mut self, secret: &Secret) {
        if secret.is_empty() || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.clone());
        // Longest first, so a secret that contains another is scrubbed whole.
        self.secrets
            .sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
    }

    /// Teaches the redactor a secret that appeared while the run goes on (e.g. auth
    /// headers refreshed by a plugin), through a shared reference: every clone of this
    /// redactor, and every holder of it, scrubs it from then on.
    pub fn learn(&self, secret: &Secret) {
        if secret.is_empty() || self.secrets.contains(secret) {
            return;
        }
        let mut learned = self.learned.write().unwrap_or_else(|e| e.into_inner());
        if !learned.contains(secret) {
            learned.push(secret.clone());
        }
    }

    /// `text` with every known secret (and its percent-encoded form) replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let learned = self.learned.read().unwrap_or_else(|e| e.into_inner());
        if learned.is_empty() {
            return scrub(text, self.secrets.iter());
        }
        let mut all: Vec<&Secret> = self.secrets.iter().chain(learned.iter()).collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        scrub(text, all.into_iter())
    }
}

/// `text` with each secret (longest first) and its encoded forms replaced by `***`.
fn scrub<'a>(text: &str, secrets: impl Iterator<Item = &'a Secret>) -> String {
    let mut out = text.to_string();
    for secret in secrets {
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
        let r = std::sync::Arc::new(Redactor::new());
        let copy = r.clone();
        copy.learn(&Secret::new("fresh-access-token"));
        assert_eq!(r.redact("Bearer fresh-access-token"), "Bearer ***");
    }

    #[test]
    fn learnt_secrets_reach_every_clone_longest_first() {
        let mut r = Redactor::new();
        r.add(&Secret::new("tok"));
        let shared = std::sync::Arc::new(r.clone());
        assert_eq!(shared.redact("session-tok-42"), "session-***-42");
        r.learn(&Secret::new("session-tok-42"));
        assert_eq!(shared.redact("a session-tok-42 b tok"), "a *** b ***");
        assert_eq!(r.redact("session-tok-42"), "***");
        r.learn(&Secret::new(""));
        assert_eq!(r.redact("x"), "x");
    }
}
