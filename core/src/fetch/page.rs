//! One page as read from the API.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// A parsed page.
#[derive(Debug)]
pub struct Page {
    /// The JSON body (Null for an empty body).
    pub body: Value,
    /// Response headers.
    pub headers: HeaderMap,
    /// Status.
    pub status: u16,
    /// `METHOD url`, redacted.
    pub request: String,
    /// Time taken.
    pub elapsed: Duration,
}

impl Page {
    /// A top-level member looked up without regard to case (SCIM attribute names
    /// are case-insensitive).
    pub fn member_ci(&self, name: &str) -> Option<&Value> {
        let obj = self.body.as_object()?;
        obj.get(name).or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// A non-negative integer member (number or numeric string), case-insensitive.
    pub fn count_ci(&self, name: &str) -> Option<u64> {
        match self.member_ci(name)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}
