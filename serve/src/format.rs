//! Small formatting helpers for pages and reports: times, money, cell text.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// `2026-01-02 03:04 UTC`.
pub(crate) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `in 5 min`, `3 h ago`, ...
pub(crate) fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let (abs, future) = (secs.unsigned_abs(), secs > 0);
    let span = if abs < 60 {
        return if future {
            "in under a minute"
        } else {
            "just now"
        }
        .into();
    } else if abs < 3600 {
        format!("{} min", abs / 60)
    } else if abs < 86_400 {
        format!("{} h", abs / 3600)
    } else {
        format!("{} days", abs / 86_400)
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// Hundredths as `1,234.50 EUR`.
pub(crate) fn money(cents: i64, currency: &str) -> String {
    let whole = thousands(cents.unsigned_abs() / 100);
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{whole}.{:02} {currency}", cents.unsigned_abs() % 100)
        .trim_end()
        .to_string()
}

/// `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A cell's text: strings as they are, arrays joined, null empty.
pub(crate) fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A CSV cell: quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-` or `@` is prefixed with `'` so spreadsheets do not run it as a formula.
pub(crate) fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_cells() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(money(160_050, "EUR"), "1,600.50 EUR");
        assert_eq!(money(5, ""), "0.05");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("-5"), "-5");
        assert_eq!(cell(&serde_json::json!(["a", "b"])), "a, b");
    }
}
