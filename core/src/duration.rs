//! Human-written durations in files: `500ms`, `30s`, `5m`, `2h`, `90d`.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a number and a unit (`ms`, `s`, `m`, `h`, `d`), e.g. `30s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses `30s`, `500ms`, `5m`, `2h`, `90d`. Whitespace around is ignored.
    pub fn parse(text: &str) -> Result<HumanDuration, String> {
        let t = text.trim();
        let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(digits_end);
        let unit = unit.trim();
        if num.is_empty() {
            return Err(format!(
                "`{text}` is not a duration: write a whole number and a unit, e.g. `30s`, `500ms`, `5m`, `2h` or `90d`"
            ));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{text}` is too large to be a duration"))?;
        let millis_per = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "`{text}` has no unit: write e.g. `{n}s` for seconds or `{n}ms` for milliseconds"
                ));
            }
            other => {
                return Err(format!(
                    "`{other}` in `{text}` is not a duration unit: use ms, s, m, h or d"
                ));
            }
        };
        let millis = n
            .checked_mul(millis_per)
            .ok_or_else(|| format!("`{text}` is too large to be a duration"))?;
        Ok(HumanDuration(Duration::from_millis(millis)))
    }

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, per) in [
            ("d", 86_400_000u128),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms.is_multiple_of(per) {
                return write!(f, "{}{unit}", ms / per);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HumanDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: a whole number and a unit (ms, s, m, h, d), e.g. `30s`.",
            "pattern": "^\\s*[0-9]+\\s*(ms|s|m|h|d)\\s*$",
            "examples": ["500ms", "30s", "5m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(
            HumanDuration::parse("500ms").unwrap().get(),
            Duration::from_millis(500)
        );
        assert_eq!(
            HumanDuration::parse("30s").unwrap().get(),
            Duration::from_secs(30)
        );
        assert_eq!(
            HumanDuration::parse(" 2h ").unwrap().get(),
            Duration::from_secs(7200)
        );
        assert_eq!(
            HumanDuration::parse("90d").unwrap().get(),
            Duration::from_secs(90 * 86400)
        );
        assert_eq!(HumanDuration::parse("30s").unwrap().to_string(), "30s");
        assert_eq!(
            HumanDuration::parse("1500ms").unwrap().to_string(),
            "1500ms"
        );
    }

    #[test]
    fn rejects_with_sentences() {
        assert!(HumanDuration::parse("30").unwrap_err().contains("no unit"));
        assert!(
            HumanDuration::parse("3 weeks")
                .unwrap_err()
                .contains("not a duration unit")
        );
        assert!(
            HumanDuration::parse("s")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            HumanDuration::parse("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
    }
}
