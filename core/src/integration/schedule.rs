//! When an integration runs: `daily`, `daily at HH:MM`, `every Nh`, `every Nm`, or a
//! 5-field cron expression. Only parsed and checked here; running on a schedule is a
//! later milestone, so cron expressions are checked loosely (field count, characters,
//! number ranges).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A checked schedule. Its text form (`Display`, serde) is the normalised spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Once a day; at a time (hour, minute; local time) or, without one, whenever the
    /// scheduler chooses.
    Daily {
        /// Hour (0-23) and minute (0-59).
        at: Option<(u8, u8)>,
    },
    /// At a fixed interval, in minutes (`every 6h` is 360).
    Every {
        /// The interval in minutes, at least 1.
        minutes: u32,
    },
    /// A 5-field cron expression (`MIN HOUR DAY MONTH WEEKDAY`), fields separated by
    /// one space.
    Cron(String),
}

const HINT: &str = "write `daily`, `daily at 02:00`, `every 6h`, `every 30m` or a cron expression such as `0 2 * * 1-5`";

impl Schedule {
    /// Parses a schedule. On failure, the message and a hint.
    pub fn parse(text: &str) -> Result<Schedule, (String, String)> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        let fail = |msg: String| Err((msg, HINT.to_string()));
        match lower.as_slice() {
            [] => fail("the schedule is empty".into()),
            ["daily"] => Ok(Schedule::Daily { at: None }),
            ["daily", "at", time] => match parse_time(time) {
                Some(at) => Ok(Schedule::Daily { at: Some(at) }),
                None => fail(format!(
                    "`{}` is not a time of day: write HH:MM from 00:00 to 23:59",
                    words[2]
                )),
            },
            ["every", rest @ ..] if !rest.is_empty() && rest.len() <= 2 => {
                let joined = rest.concat();
                match parse_interval(&joined) {
                    Some(minutes) => Ok(Schedule::Every { minutes }),
                    None => fail(format!(
                        "`{}` is not an interval: write a whole number of hours or minutes above 0, e.g. `6h` or `30m`",
                        rest.join(" ")
                    )),
                }
            }
            fields
                if fields.len() == 5
                    && !fields
                        .iter()
                        .any(|f| f.starts_with("daily") || *f == "every" || *f == "at") =>
            {
                const NAMES: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];
                for (i, field) in fields.iter().enumerate() {
                    if let Err(why) = check_cron_field(field, i) {
                        return fail(format!(
                            "the {} field `{}` of the cron expression {why}",
                            NAMES[i], words[i]
                        ));
                    }
                }
                Ok(Schedule::Cron(lower.join(" ")))
            }
            _ => fail(format!("`{}` is not a schedule", text.trim())),
        }
    }
}

fn parse_time(t: &str) -> Option<(u8, u8)> {
    let (h, m) = t.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn parse_interval(t: &str) -> Option<u32> {
    let (num, per) = if let Some(n) = t.strip_suffix('h') {
        (n, 60)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1)
    } else {
        return None;
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = num.parse().ok()?;
    let minutes = n.checked_mul(per)?;
    (minutes > 0).then_some(minutes)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Checks one cron field loosely: comma-separated items, each `*`, `N` or `N-M`,
/// optionally followed by `/STEP`; numbers within the field's range; month and
/// weekday names allowed in their fields.
fn check_cron_field(field: &str, index: usize) -> Result<(), String> {
    let (min, max) = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)][index];
    let names: &[&str] = match index {
        3 => &MONTHS,
        4 => &WEEKDAYS,
        _ => &[],
    };
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| *n == s) {
            return Ok(if index == 3 { i as u32 + 1 } else { i as u32 });
        }
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("has `{s}`, which is not a number"));
        }
        match s.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("has `{s}`, outside {min}-{max}")),
        }
    };
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(step) = step
            && !(!step.is_empty()
                && step.bytes().all(|b| b.is_ascii_digit())
                && step.parse::<u32>().is_ok_and(|s| s >= 1))
        {
            return Err(format!(
                "has the step `{step}`, which is not a number above 0"
            ));
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (value(a)?, value(b)?);
                if a > b {
                    return Err(format!("has the range `{range}`, which goes backwards"));
                }
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Daily { at: None } => f.write_str("daily"),
            Schedule::Daily { at: Some((h, m)) } => write!(f, "daily at {h:02}:{m:02}"),
            Schedule::Every { minutes } if minutes % 60 == 0 => {
                write!(f, "every {}h", minutes / 60)
            }
            Schedule::Every { minutes } => write!(f, "every {minutes}m"),
            Schedule::Cron(expr) => f.write_str(expr),
        }
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s).map_err(|(msg, _)| msg)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: &str) -> String {
        Schedule::parse(t)
            .unwrap_or_else(|e| panic!("{t}: {e:?}"))
            .to_string()
    }

    fn err(t: &str) -> String {
        Schedule::parse(t).unwrap_err().0
    }

    #[test]
    fn accepted_forms_are_normalised() {
        assert_eq!(ok("daily"), "daily");
        assert_eq!(ok(" Daily  at 2:05 "), "daily at 02:05");
        assert_eq!(ok("daily at 23:59"), "daily at 23:59");
        assert_eq!(ok("every 6h"), "every 6h");
        assert_eq!(ok("every 6 h"), "every 6h");
        assert_eq!(ok("every 90m"), "every 90m");
        assert_eq!(ok("every 120m"), "every 2h");
        assert_eq!(ok("0 2 * * *"), "0 2 * * *");
        assert_eq!(
            ok("*/15 8-18 * JAN-jun mon-fri"),
            "*/15 8-18 * jan-jun mon-fri"
        );
        assert_eq!(ok("0,30 0 1,15 * 0-7"), "0,30 0 1,15 * 0-7");
    }

    #[test]
    fn bad_schedules_say_why() {
        assert_eq!(err(""), "the schedule is empty");
        assert_eq!(err("hourly"), "`hourly` is not a schedule");
        assert!(err("daily at 24:00").contains("`24:00` is not a time of day"));
        assert!(err("daily at 2pm").contains("not a time of day"));
        assert!(err("every 0h").contains("`0h` is not an interval"));
        assert!(err("every 3d").contains("not an interval"));
        assert!(err("every h").contains("not an interval"));
        assert_eq!(
            err("60 2 * * *"),
            "the minute field `60` of the cron expression has `60`, outside 0-59"
        );
        assert!(err("0 2 * * 1-5/0").contains("step `0`"));
        assert!(err("0 2 * * fri-mon").contains("goes backwards"));
        assert!(err("0 2 * *").contains("is not a schedule"));
        assert!(err("0 2 * * x").contains("`x`, which is not a number"));
    }

    #[test]
    fn serde_round_trips_through_the_text() {
        let s = Schedule::parse("daily at 02:00").unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, serde_json::json!("daily at 02:00"));
        assert_eq!(serde_json::from_value::<Schedule>(v).unwrap(), s);
    }
}
