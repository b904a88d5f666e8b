//! When a job runs: `daily`, `daily at HH:MM`, `every Nh`, `every Nm`, or a 5-field cron
//! expression, each (except intervals) optionally followed by an IANA time zone name
//! (`daily at 06:00 Europe/Berlin`, `0 6 * * 1-5 America/New_York`). Parsing checks the
//! text; [`Schedule::next_after`] and [`Schedule::next_run`] compute fire times with
//! croner, in the schedule's zone or the [`Timing`] default (the machine's local zone
//! unless configured). Zones come from chrono-tz's compiled-in IANA database, so results
//! are the same on every machine and need no file.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Local, TimeZone, Utc};
pub use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A checked schedule. Its text form (`Display`, serde) is the normalised spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Once a day; at a time (hour, minute) or, without one, at the [`Timing`]'s
    /// default time; in `zone`, else the [`Timing`]'s zone.
    Daily {
        /// Hour (0-23) and minute (0-59).
        at: Option<(u8, u8)>,
        /// The IANA time zone named in the schedule, if any.
        zone: Option<Tz>,
    },
    /// At a fixed interval after the last run, in minutes (`every 6h` is 360). Intervals
    /// do not depend on a time zone.
    Every {
        /// The interval in minutes, at least 1.
        minutes: u32,
    },
    /// A 5-field cron expression (`MIN HOUR DAY MONTH WEEKDAY`), fields separated by
    /// one space, read in `zone`, else the [`Timing`]'s zone.
    Cron {
        /// The expression, lower case.
        expr: String,
        /// The IANA time zone named in the schedule, if any.
        zone: Option<Tz>,
    },
}

const HINT: &str = "write `daily`, `daily at 02:00`, `every 6h`, `every 30m` or a cron expression such as `0 2 * * 1-5`, optionally followed by a time zone such as `Europe/Berlin`";

/// The time of day `daily` runs at when a schedule names none.
pub const DEFAULT_DAILY_AT: (u8, u8) = (2, 0);

/// The zone schedules without their own zone are read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DefaultZone {
    /// The machine's local zone (the `TZ` variable, else `/etc/localtime`).
    #[default]
    Local,
    /// A named IANA zone.
    Named(Tz),
}

impl DefaultZone {
    /// Parses `local` or an IANA zone name (`Europe/Berlin`, `UTC`). On failure, the
    /// message with a hint.
    pub fn parse(text: &str) -> Result<DefaultZone, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("local") {
            return Ok(DefaultZone::Local);
        }
        parse_zone(text).map(DefaultZone::Named).ok_or_else(|| {
            format!(
                "`{text}` is not a time zone: write `local` or an IANA name such as `Europe/Berlin` or `UTC`{}",
                zone_suggestion(text)
            )
        })
    }
}

impl fmt::Display for DefaultZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultZone::Local => f.write_str("local"),
            DefaultZone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

/// How schedules that leave something open are read: the zone of schedules without
/// one, and the time of `daily` without `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The zone of schedules that name none.
    pub zone: DefaultZone,
    /// When `daily` runs (hour, minute).
    pub daily_at: (u8, u8),
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            zone: DefaultZone::Local,
            daily_at: DEFAULT_DAILY_AT,
        }
    }
}

/// Parses `HH:MM` (00:00 to 23:59). On failure, a sentence.
pub fn parse_time_of_day(text: &str) -> Result<(u8, u8), String> {
    parse_time(text.trim()).ok_or_else(|| {
        format!(
            "`{}` is not a time of day: write HH:MM from 00:00 to 23:59",
            text.trim()
        )
    })
}

/// An IANA zone by name; exact spelling first, then ignoring ASCII case.
fn parse_zone(text: &str) -> Option<Tz> {
    text.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(text))
            .copied()
    })
}

/// `; did you mean `X`?` for a misspelt zone, or nothing.
fn zone_suggestion(text: &str) -> String {
    rollcall_source::suggest(text, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// Whether a word could be meant as a zone name rather than a part of a schedule.
fn looks_like_zone(word: &str) -> bool {
    word.contains('/') && word.starts_with(|c: char| c.is_ascii_alphabetic())
        || word.eq_ignore_ascii_case("utc")
        || word.eq_ignore_ascii_case("gmt")
}

impl Schedule {
    /// Parses a schedule. On failure, the message and a hint.
    pub fn parse(text: &str) -> Result<Schedule, (String, String)> {
        let words: Vec<&str> = text.split_whitespace().collect();
        // A trailing zone name: `daily at 06:00 Europe/Berlin`.
        if let Some((last, rest)) = words.split_last()
            && !rest.is_empty()
        {
            let known = parse_zone(last);
            if known.is_some() || looks_like_zone(last) {
                let base = parse_plain(rest)?;
                let Some(zone) = known else {
                    return Err((
                        format!("`{last}` is not a time zone{}", zone_suggestion(last)),
                        "write an IANA time zone name such as `Europe/Berlin`, `America/New_York` or `UTC`".into(),
                    ));
                };
                return base.in_zone(zone);
            }
        }
        parse_plain(&words)
    }

    fn in_zone(self, zone: Tz) -> Result<Schedule, (String, String)> {
        match self {
            Schedule::Daily { at, .. } => Ok(Schedule::Daily {
                at,
                zone: Some(zone),
            }),
            Schedule::Cron { expr, .. } => Ok(Schedule::Cron {
                expr,
                zone: Some(zone),
            }),
            every @ Schedule::Every { .. } => Err((
                format!(
                    "`{every}` runs at a fixed interval after the last run, so it takes no time zone"
                ),
                format!("write `{every}` alone, or a daily time or cron expression with the zone"),
            )),
        }
    }

    /// The zone named in the schedule, if any.
    pub fn zone(&self) -> Option<Tz> {
        match self {
            Schedule::Daily { zone, .. } | Schedule::Cron { zone, .. } => *zone,
            Schedule::Every { .. } => None,
        }
    }

    /// The zone the schedule is read in, for people: its own, the default one, or
    /// nothing for intervals.
    pub fn zone_label(&self, timing: &Timing) -> Option<String> {
        match self {
            Schedule::Every { .. } => None,
            _ => Some(match self.zone() {
                Some(tz) => tz.name().to_owned(),
                None => timing.zone.to_string(),
            }),
        }
    }

    /// The first time the schedule fires strictly after `after`. For intervals, `after`
    /// plus the interval. `None` when a cron expression matches no date in the years
    /// croner searches (e.g. `0 0 31 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>, timing: &Timing) -> Option<DateTime<Utc>> {
        let (cron, zone, fixed_hours) = match self {
            Schedule::Every { minutes } => {
                return after.checked_add_signed(Duration::minutes(i64::from(*minutes)));
            }
            Schedule::Daily { at, zone } => {
                let (h, m) = at.unwrap_or(timing.daily_at);
                (cron(&format!("{m} {h} * * *"))?, *zone, true)
            }
            Schedule::Cron { expr, zone } => {
                let hours = expr.split(' ').nth(1).unwrap_or("*");
                (cron(expr)?, *zone, !hours.contains('*'))
            }
        };
        match zone.map(DefaultZone::Named).unwrap_or(timing.zone) {
            DefaultZone::Named(tz) => next_in(&cron, &tz, after, fixed_hours),
            DefaultZone::Local => next_in(&cron, &Local, after, fixed_hours),
        }
    }

    /// When a job with this schedule is due, given when it last started (`None`: never)
    /// and the time now. A job that never ran is due now; otherwise at the schedule's
    /// first firing after its last start, and a firing missed while nothing ran (the
    /// machine or the daemon was down) makes it due now, once. `None` when the schedule
    /// never fires.
    pub fn next_run(
        &self,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        timing: &Timing,
    ) -> Option<DateTime<Utc>> {
        match last {
            None => Some(now),
            Some(last) => self.next_after(last, timing).map(|t| t.max(now)),
        }
    }
}

/// A 5-field cron expression as croner reads it (vixie cron: day of month OR weekday).
fn cron(expr: &str) -> Option<Cron> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(expr)
        .ok()
}

/// The next firing after `after`. With `fixed_hours` (a schedule that names its hours),
/// a wall clock time that happens twice when the clock is put back fires at its first
/// pass only, as in cron; schedules over every hour fire in both passes.
fn next_in<Z: TimeZone>(
    cron: &Cron,
    zone: &Z,
    after: DateTime<Utc>,
    fixed_hours: bool,
) -> Option<DateTime<Utc>> {
    let mut start = after.with_timezone(zone);
    // Two skips at most: a repeated hour is passed once.
    for _ in 0..3 {
        let t = cron.find_next_occurrence(&start, false).ok()?;
        let second_pass = fixed_hours
            && matches!(
                zone.from_local_datetime(&t.naive_local()),
                chrono::LocalResult::Ambiguous(_, ref later) if *later == t
            );
        if !second_pass {
            return Some(t.with_timezone(&Utc));
        }
        start = t;
    }
    None
}

fn parse_plain(words: &[&str]) -> Result<Schedule, (String, String)> {
    let text = words.join(" ");
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let fail = |msg: String| Err((msg, HINT.to_string()));
    match lower.as_slice() {
        [] => fail("the schedule is empty".into()),
        ["daily"] => Ok(Schedule::Daily {
            at: None,
            zone: None,
        }),
        ["daily", "at", time] => match parse_time(time) {
            Some(at) => Ok(Schedule::Daily {
                at: Some(at),
                zone: None,
            }),
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
            let expr = lower.join(" ");
            // Checked against a fixed instant, so the result does not depend on today.
            let probe = Schedule::Cron {
                expr: expr.clone(),
                zone: None,
            };
            let utc = Timing {
                zone: DefaultZone::Named(Tz::UTC),
                ..Timing::default()
            };
            let from = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
            if probe.next_after(from, &utc).is_none() {
                return fail(format!("the cron expression `{expr}` matches no date"));
            }
            Ok(probe)
        }
        _ => fail(format!("`{}` is not a schedule", text.trim())),
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
            Schedule::Daily { at: None, .. } => f.write_str("daily")?,
            Schedule::Daily {
                at: Some((h, m)), ..
            } => write!(f, "daily at {h:02}:{m:02}")?,
            Schedule::Every { minutes } if minutes % 60 == 0 => {
                write!(f, "every {}h", minutes / 60)?
            }
            Schedule::Every { minutes } => write!(f, "every {minutes}m")?,
            Schedule::Cron { expr, .. } => f.write_str(expr)?,
        }
        match self.zone() {
            Some(tz) => write!(f, " {}", tz.name()),
            None => Ok(()),
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
    fn zones_follow_the_schedule() {
        assert_eq!(
            ok("daily at 06:00 Europe/Berlin"),
            "daily at 06:00 Europe/Berlin"
        );
        assert_eq!(ok("daily europe/berlin"), "daily Europe/Berlin");
        assert_eq!(
            ok("0 6 * * 1-5 America/New_York"),
            "0 6 * * 1-5 America/New_York"
        );
        assert_eq!(ok("daily at 02:00 UTC"), "daily at 02:00 UTC");
        let s = Schedule::parse("daily at 06:00 Europe/Berlin").unwrap();
        assert_eq!(s.zone(), Some(chrono_tz::Europe::Berlin));
        assert_eq!(
            Schedule::parse(&s.to_string()).unwrap(),
            s,
            "the text form parses back"
        );
        assert_eq!(
            err("daily at 06:00 Europe/Berln"),
            "`Europe/Berln` is not a time zone; did you mean `Europe/Berlin`?"
        );
        assert!(err("every 6h Europe/Berlin").contains("takes no time zone"));
        assert!(err("daily at 6pm Europe/Berlin").contains("`6pm` is not a time of day"));
        assert_eq!(
            err("0 0 31 2 *"),
            "the cron expression `0 0 31 2 *` matches no date"
        );
        assert_eq!(
            DefaultZone::parse("Asia/Tokyo"),
            Ok(DefaultZone::Named(chrono_tz::Asia::Tokyo))
        );
        assert_eq!(DefaultZone::parse("LOCAL"), Ok(DefaultZone::Local));
        assert!(DefaultZone::parse("Mars/Olympus").is_err());
        assert_eq!(parse_time_of_day("6:30"), Ok((6, 30)));
        assert!(parse_time_of_day("25:00").is_err());
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn after(schedule: &str, from: &str, timing: &Timing) -> String {
        Schedule::parse(schedule)
            .unwrap()
            .next_after(utc(from), timing)
            .unwrap()
            .to_rfc3339()
    }

    fn in_utc() -> Timing {
        Timing {
            zone: DefaultZone::Named(chrono_tz::UTC),
            daily_at: (2, 0),
        }
    }

    #[test]
    fn daily_times_are_wall_clock_times_in_the_zone() {
        let t = in_utc();
        // Winter (CET, UTC+1) and summer (CEST, UTC+2).
        let s = "daily at 06:00 Europe/Berlin";
        assert_eq!(
            after(s, "2026-01-10T12:00:00Z", &t),
            "2026-01-11T05:00:00+00:00"
        );
        assert_eq!(
            after(s, "2026-07-01T03:59:00Z", &t),
            "2026-07-01T04:00:00+00:00"
        );
        assert_eq!(
            after(s, "2026-07-01T04:00:00Z", &t),
            "2026-07-02T04:00:00+00:00"
        );
        // Without a zone: the timing's zone; without a time: the timing's time.
        assert_eq!(
            after("daily at 06:00", "2026-01-10T12:00:00Z", &t),
            "2026-01-11T06:00:00+00:00"
        );
        assert_eq!(
            after("daily", "2026-01-10T12:00:00Z", &t),
            "2026-01-11T02:00:00+00:00"
        );
        let tokyo = Timing {
            zone: DefaultZone::Named(chrono_tz::Asia::Tokyo),
            daily_at: (9, 30),
        };
        assert_eq!(
            after("daily", "2026-01-10T12:00:00Z", &tokyo),
            "2026-01-11T00:30:00+00:00"
        );
        assert_eq!(
            after("daily Europe/Berlin", "2026-01-10T12:00:00Z", &tokyo),
            "2026-01-11T08:30:00+00:00",
            "the schedule's own zone wins over the default"
        );
    }

    #[test]
    fn daylight_saving_days_run_each_daily_job_once() {
        let t = in_utc();
        // Berlin springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST): 02:30 does
        // not exist that day, so the run moves past the gap, to 03:00 CEST.
        let s = "daily at 02:30 Europe/Berlin";
        let first = after(s, "2026-03-28T12:00:00Z", &t);
        assert_eq!(first, "2026-03-29T01:00:00+00:00");
        assert_eq!(after(s, &first, &t), "2026-03-30T00:30:00+00:00");
        // Berlin falls back on 2026-10-25 (03:00 CEST -> 02:00 CET): 02:30 happens
        // twice; the job runs at the first one only.
        let first = after(s, "2026-10-24T12:00:00Z", &t);
        assert_eq!(first, "2026-10-25T00:30:00+00:00");
        assert_eq!(after(s, &first, &t), "2026-10-26T01:30:00+00:00");
        // A time outside the change keeps its wall clock time across it.
        let s = "daily at 06:00 America/New_York";
        assert_eq!(
            after(s, "2026-03-07T12:00:00Z", &t),
            "2026-03-08T10:00:00+00:00"
        );
        assert_eq!(
            after(s, "2026-03-08T10:00:00Z", &t),
            "2026-03-09T10:00:00+00:00"
        );
        assert_eq!(
            after(s, "2026-03-07T10:00:00Z", &t),
            "2026-03-07T11:00:00+00:00"
        );
    }

    #[test]
    fn cron_expressions_fire_on_matching_minutes() {
        let t = in_utc();
        // Friday 18:50 in New York: the next weekday quarter hour between 8 and 18 is
        // Monday 08:00 EST.
        let s = "*/15 8-18 * * mon-fri America/New_York";
        assert_eq!(
            after(s, "2026-01-09T23:50:00Z", &t),
            "2026-01-12T13:00:00+00:00"
        );
        assert_eq!(
            after(s, "2026-01-12T13:00:00Z", &t),
            "2026-01-12T13:15:00+00:00"
        );
        // Day of month OR weekday, as in cron.
        assert_eq!(
            after("0 0 13 * fri", "2026-02-01T00:00:00Z", &t),
            "2026-02-06T00:00:00+00:00"
        );
        assert_eq!(
            after("0 0 13 * fri", "2026-02-10T00:00:00Z", &t),
            "2026-02-13T00:00:00+00:00"
        );
    }

    #[test]
    fn due_times_catch_up_once_and_never_run_jobs_run_now() {
        let t = in_utc();
        let now = utc("2026-01-10T12:00:00Z");
        let every = Schedule::parse("every 6h").unwrap();
        assert_eq!(every.next_run(None, now, &t), Some(now));
        assert_eq!(
            every.next_run(Some(utc("2026-01-10T10:00:00Z")), now, &t),
            Some(utc("2026-01-10T16:00:00Z"))
        );
        assert_eq!(
            every.next_run(Some(utc("2026-01-09T10:00:00Z")), now, &t),
            Some(now),
            "an overdue interval is due now"
        );
        let daily = Schedule::parse("daily at 06:00").unwrap();
        assert_eq!(
            daily.next_run(Some(utc("2026-01-10T06:00:05Z")), now, &t),
            Some(utc("2026-01-11T06:00:00Z")),
            "ran today: tomorrow"
        );
        assert_eq!(
            daily.next_run(Some(utc("2026-01-09T06:00:05Z")), now, &t),
            Some(now),
            "missed today's run: now, once"
        );
        assert_eq!(every.zone_label(&t), None);
        assert_eq!(daily.zone_label(&t).as_deref(), Some("UTC"));
    }

    #[test]
    fn serde_round_trips_through_the_text() {
        let s = Schedule::parse("daily at 02:00").unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, serde_json::json!("daily at 02:00"));
        assert_eq!(serde_json::from_value::<Schedule>(v).unwrap(), s);
    }
}
