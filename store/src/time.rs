//! Timestamps as stored: RFC 3339 UTC text with microseconds, fixed width, so that text
//! order is time order.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::StoreError;

/// Formats a timestamp the way the store keeps it.
pub(crate) fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The current time, formatted for storage.
pub(crate) fn now() -> String {
    fmt(Utc::now())
}

/// Parses a stored timestamp.
pub(crate) fn parse(what: impl FnOnce() -> String, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            what: what(),
            detail: format!("'{s}' is not an RFC 3339 timestamp ({e})"),
        })
}
