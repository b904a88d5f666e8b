//! The filter language shared by the CLI (`--filter`), saved views, reports and the web
//! page: `FIELD=VALUE`, `FIELD!=VALUE`, `FIELD<VALUE`, `FIELD>VALUE`, `FIELD<=VALUE`,
//! `FIELD>=VALUE` and `FIELD~TEXT` (contains).
//!
//! Two additions over plain comparisons:
//! - a date may be relative: `last_activity_at<90d ago` (also `h`, `m` and `w`), worked
//!   out when the query runs, so a saved view or report stays relative;
//! - a comparison may end in ` or empty`, which also matches accounts without a value
//!   (e.g. people who never logged in: `last_activity_at<90d ago or empty`).

use chrono::{DateTime, Duration, Utc};

use crate::StoreError;
use crate::query::{Filter, FilterOp};

const OPS: [(&str, FilterOp); 7] = [
    ("!=", FilterOp::Ne),
    ("<=", FilterOp::Le),
    (">=", FilterOp::Ge),
    ("=", FilterOp::Eq),
    ("<", FilterOp::Lt),
    (">", FilterOp::Gt),
    ("~", FilterOp::Contains),
];

const OR_EMPTY: &str = " or empty";

impl Filter {
    /// Parses `field=value`, `field!=value`, `field<=value`, ... (see the module docs).
    pub fn parse(text: &str) -> Result<Filter, StoreError> {
        let bad = |msg: String| Err(StoreError::InvalidQuery(msg));
        let Some(at) = text.find(['!', '<', '>', '=', '~']) else {
            return bad(format!(
                "the filter `{text}` has no comparison: write e.g. `active=true`, `last_seen_at<2026-01-01` or `email~@example.com`"
            ));
        };
        let rest = &text[at..];
        let Some((op_text, op)) = OPS.iter().find(|(o, _)| rest.starts_with(o)) else {
            return bad(format!(
                "the filter `{text}`: `{}` is not a comparison; use =, !=, <, >, <=, >= or ~",
                &rest[..1]
            ));
        };
        let field = text[..at].trim();
        if field.is_empty() {
            return bad(format!(
                "the filter `{text}` names no field before `{op_text}`"
            ));
        }
        let mut value = rest[op_text.len()..].trim();
        let mut or_empty = false;
        let lower = value.to_ascii_lowercase();
        if lower.ends_with(OR_EMPTY) {
            value = value[..value.len() - OR_EMPTY.len()].trim_end();
            or_empty = true;
        } else if lower == OR_EMPTY.trim_start() {
            // `user_type= or empty`: no value at all, or the empty text.
            value = "";
            or_empty = true;
        }
        Ok(Filter {
            field: field.to_string(),
            op: *op,
            value: value.to_string(),
            or_empty,
        })
    }
}

impl std::fmt::Display for Filter {
    /// The filter in the language [`Filter::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = OPS
            .iter()
            .find(|(_, o)| *o == self.op)
            .map_or("=", |(t, _)| t);
        write!(f, "{}{op}{}", self.field, self.value)?;
        if self.or_empty {
            f.write_str(OR_EMPTY)?;
        }
        Ok(())
    }
}

/// A relative time such as `90d ago` (units `m`, `h`, `d`, `w`), as of `now`.
pub(crate) fn relative_time(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let amount = value.trim().strip_suffix("ago")?.trim_end();
    let (number, unit) = amount.split_at(amount.len().checked_sub(1)?);
    let n: i64 = number.trim().parse().ok()?;
    let span = match unit {
        "m" => Duration::try_minutes(n)?,
        "h" => Duration::try_hours(n)?,
        "d" => Duration::try_days(n)?,
        "w" => Duration::try_weeks(n)?,
        _ => return None,
    };
    now.checked_sub_signed(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let f = Filter::parse("last_seen_at<=2026-01-01").unwrap();
        assert_eq!(
            (f.field.as_str(), f.op, f.value.as_str()),
            ("last_seen_at", FilterOp::Le, "2026-01-01")
        );
        let f = Filter::parse("email~@example.com").unwrap();
        assert_eq!(f.op, FilterOp::Contains);
        let f = Filter::parse("active!=true").unwrap();
        assert_eq!((f.op, f.value.as_str()), (FilterOp::Ne, "true"));
        let f = Filter::parse("fields.role=ADMIN=x").unwrap();
        assert_eq!(
            (f.field.as_str(), f.value.as_str()),
            ("fields.role", "ADMIN=x")
        );
        let f = Filter::parse("last_activity_at < 90d ago Or Empty").unwrap();
        assert_eq!(
            (f.field.as_str(), f.op, f.value.as_str(), f.or_empty),
            ("last_activity_at", FilterOp::Lt, "90d ago", true)
        );
        assert_eq!(f.to_string(), "last_activity_at<90d ago or empty");
        let f = Filter::parse("user_type= or empty").unwrap();
        assert_eq!((f.value.as_str(), f.or_empty), ("", true));
        for (text, want) in [
            ("active", "no comparison"),
            ("=x", "names no field"),
            ("a!x", "not a comparison"),
        ] {
            let e = Filter::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn relative_times() {
        let now = DateTime::parse_from_rfc3339("2026-03-31T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = |s: &str| relative_time(s, now).map(|t| t.to_rfc3339());
        assert_eq!(t("90d ago").as_deref(), Some("2025-12-31T00:00:00+00:00"));
        assert_eq!(t("2w ago").as_deref(), Some("2026-03-17T00:00:00+00:00"));
        assert_eq!(t(" 6h  ago").as_deref(), Some("2026-03-30T18:00:00+00:00"));
        assert_eq!(t("90d"), None);
        assert_eq!(t("x ago"), None);
        assert_eq!(t("9y ago"), None);
    }
}
