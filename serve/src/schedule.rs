//! When an integration runs next, from its stored schedule and its last run. The daemon
//! that acts on schedules is a later milestone; this only tells the page what it will do.

use chrono::{DateTime, Duration, Local, NaiveTime, TimeZone, Timelike, Utc};
use rollcall_core::integration::Schedule;

/// The next time `schedule` fires after `now`; `last` is the last run's start, if any.
/// `None` when the schedule cannot be evaluated here (a cron expression with no
/// matching minute within a year).
pub(crate) fn next_run(
    schedule: &Schedule,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match schedule {
        Schedule::Daily { at: Some((h, m)) } => {
            let local = now.with_timezone(&Local);
            let time = NaiveTime::from_hms_opt(u32::from(*h), u32::from(*m), 0)?;
            let mut day = local.date_naive();
            for _ in 0..3 {
                if let Some(t) = Local
                    .from_local_datetime(&day.and_time(time))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    && t > now
                {
                    return Some(t);
                }
                day = day.succ_opt()?;
            }
            None
        }
        // Without a time, a day after the last run (or now, when it never ran).
        Schedule::Daily { at: None } => {
            Some(last.map_or(now, |l| (l + Duration::days(1)).max(now)))
        }
        Schedule::Every { minutes } => Some(last.map_or(now, |l| {
            (l + Duration::minutes(i64::from(*minutes))).max(now)
        })),
        Schedule::Cron(expr) => next_cron(expr, now),
    }
}

/// The next minute after `now` (local time) matching a 5-field cron expression.
fn next_cron(expr: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let fields: Vec<&str> = expr.split(' ').collect();
    let [min, hour, dom, month, dow] = fields.as_slice() else {
        return None;
    };
    let sets = [
        set(min, 0, 59, &[])?,
        set(hour, 0, 23, &[])?,
        set(dom, 1, 31, &[])?,
        set(month, 1, 12, &MONTHS)?,
        set(dow, 0, 7, &WEEKDAYS)?,
    ];
    let dom_any = *dom == "*";
    let dow_any = *dow == "*";
    let local = now.with_timezone(&Local);
    let mut t = local.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
    use chrono::Datelike;
    for _ in 0..(366 * 24 * 60) {
        let weekday = t.weekday().num_days_from_sunday();
        let day_ok = match (dom_any, dow_any) {
            (true, true) => true,
            (false, true) => sets[2][t.day() as usize],
            (true, false) => sets[4][weekday as usize] || (weekday == 0 && sets[4][7]),
            // Both restricted: cron matches either.
            (false, false) => {
                sets[2][t.day() as usize]
                    || sets[4][weekday as usize]
                    || (weekday == 0 && sets[4][7])
            }
        };
        if sets[3][t.month() as usize]
            && day_ok
            && sets[1][t.hour() as usize]
            && sets[0][t.minute() as usize]
        {
            return Some(t.with_timezone(&Utc));
        }
        t += Duration::minutes(1);
    }
    None
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The values a cron field allows, as flags indexed by value.
fn set(field: &str, min: u32, max: u32, names: &[&str]) -> Option<Vec<bool>> {
    let mut on = vec![false; max as usize + 1];
    let value = |s: &str| -> Option<u32> {
        if let Some(i) = names.iter().position(|n| *n == s) {
            return Some(if min == 1 { i as u32 + 1 } else { i as u32 });
        }
        s.parse().ok().filter(|n| (min..=max).contains(n))
    };
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (a, b) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            (a, if item.contains('/') { max } else { a })
        };
        let mut v = a;
        while v <= b {
            on[v as usize] = true;
            v += step;
        }
    }
    Some(on)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn intervals_follow_the_last_run() {
        let now = utc("2026-01-10T12:00:00Z");
        let every = Schedule::Every { minutes: 360 };
        assert_eq!(next_run(&every, None, now), Some(now));
        assert_eq!(
            next_run(&every, Some(utc("2026-01-10T10:00:00Z")), now),
            Some(utc("2026-01-10T16:00:00Z"))
        );
        assert_eq!(
            next_run(&every, Some(utc("2026-01-09T10:00:00Z")), now),
            Some(now),
            "overdue runs are due now"
        );
        let daily = Schedule::Daily { at: None };
        assert_eq!(
            next_run(&daily, Some(utc("2026-01-10T01:00:00Z")), now),
            Some(utc("2026-01-11T01:00:00Z"))
        );
    }

    #[test]
    fn daily_at_and_cron_are_in_the_future_and_match() {
        let now = Utc::now();
        let t = next_run(&Schedule::Daily { at: Some((2, 0)) }, None, now).unwrap();
        assert!(t > now && t - now <= Duration::hours(25));
        let local = t.with_timezone(&Local);
        assert_eq!((local.hour(), local.minute()), (2, 0));
        let t = next_run(&Schedule::Cron("*/15 8-18 * * mon-fri".into()), None, now).unwrap();
        let local = t.with_timezone(&Local);
        use chrono::Datelike;
        assert!(t > now);
        assert_eq!(local.minute() % 15, 0);
        assert!((8..=18).contains(&local.hour()));
        assert!((1..=5).contains(&local.weekday().num_days_from_sunday()));
        assert_eq!(
            next_run(&Schedule::Cron("0 0 31 2 *".into()), None, now),
            None
        );
    }
}
