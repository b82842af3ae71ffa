//! When scheduled backups run: `daily HH:MM`, `weekly DAY HH:MM` (UTC), or `every N`
//! with a unit (`s`, `m`, `h`; meant for tests and short retention windows).

use std::time::Duration;
use time::{OffsetDateTime, Time, Weekday};

/// A parsed `[backup] schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every day at this UTC time.
    Daily(Time),
    /// Every week on this day at this UTC time.
    Weekly(Weekday, Time),
    /// At this interval from the node's start.
    Every(Duration),
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

/// What a schedule must look like, for error messages.
pub const SCHEDULE_RULE: &str =
    "\"daily HH:MM\", \"weekly DAY HH:MM\" (DAY mon..sun, UTC) or \"every N[s|m|h]\"";

fn parse_time(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

fn parse_interval(s: &str) -> Option<Duration> {
    let unit_at = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(unit_at);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

impl std::str::FromStr for Schedule {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let parsed = match words.as_slice() {
            ["daily", t] => parse_time(t).map(Schedule::Daily),
            ["weekly", day, t] => {
                let day = day.to_ascii_lowercase();
                let wd = WEEKDAYS
                    .iter()
                    .find(|(name, wd)| day == *name || day == wd.to_string().to_lowercase())
                    .map(|(_, wd)| *wd);
                wd.zip(parse_time(t)).map(|(wd, t)| Schedule::Weekly(wd, t))
            }
            ["every", n] => parse_interval(n).map(Schedule::Every),
            _ => None,
        };
        parsed.ok_or(SCHEDULE_RULE)
    }
}

impl Schedule {
    /// How long from `now` until the next run.
    pub fn wait_from(&self, now: OffsetDateTime) -> Duration {
        let next = match *self {
            Schedule::Every(d) => return d,
            Schedule::Daily(t) => {
                let today = now.replace_time(t);
                if today > now {
                    today
                } else {
                    today + time::Duration::DAY
                }
            }
            Schedule::Weekly(wd, t) => {
                let ahead = (i64::from(wd.number_days_from_monday())
                    - i64::from(now.weekday().number_days_from_monday()))
                .rem_euclid(7);
                let candidate = now.replace_time(t) + time::Duration::days(ahead);
                if candidate > now {
                    candidate
                } else {
                    candidate + time::Duration::WEEK
                }
            }
        };
        let d = next - now;
        Duration::from_secs_f64(d.as_seconds_f64().max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parses_the_three_forms_and_refuses_others() {
        assert_eq!(
            "daily 02:30".parse(),
            Ok(Schedule::Daily(Time::from_hms(2, 30, 0).unwrap()))
        );
        assert_eq!(
            "weekly Sunday 23:05".parse(),
            Ok(Schedule::Weekly(
                Weekday::Sunday,
                Time::from_hms(23, 5, 0).unwrap()
            ))
        );
        assert_eq!(
            "every 90m".parse(),
            Ok(Schedule::Every(Duration::from_secs(5400)))
        );
        assert_eq!(
            "every 5s".parse(),
            Ok(Schedule::Every(Duration::from_secs(5)))
        );
        for bad in [
            "",
            "daily",
            "daily 24:00",
            "daily 2:30",
            "weekly 02:00",
            "weekly xyz 02:00",
            "every 0s",
            "every 5",
            "every 5d",
            "every -5s",
            "hourly",
            "daily 02:30 extra",
        ] {
            assert_eq!(bad.parse::<Schedule>(), Err(SCHEDULE_RULE), "{bad:?}");
        }
    }

    #[test]
    fn next_daily_run_is_later_today_or_tomorrow() {
        let s: Schedule = "daily 02:00".parse().unwrap();
        let before = datetime!(2026-12-03 01:59:30 UTC);
        assert_eq!(s.wait_from(before), Duration::from_secs(30));
        let at = datetime!(2026-12-03 02:00:00 UTC);
        assert_eq!(s.wait_from(at), Duration::from_secs(86_400));
        let after = datetime!(2026-12-03 13:00:00 UTC);
        assert_eq!(s.wait_from(after), Duration::from_secs(13 * 3600));
    }

    #[test]
    fn next_weekly_run_counts_days_ahead() {
        // 2026-12-03 is a Thursday.
        let s: Schedule = "weekly sat 03:00".parse().unwrap();
        let thu = datetime!(2026-12-03 03:00:00 UTC);
        assert_eq!(s.wait_from(thu), Duration::from_secs(2 * 86_400));
        let s: Schedule = "weekly thu 03:00".parse().unwrap();
        assert_eq!(s.wait_from(thu), Duration::from_secs(7 * 86_400));
        let s: Schedule = "weekly mon 00:00".parse().unwrap();
        assert_eq!(
            s.wait_from(thu),
            Duration::from_secs(3 * 86_400 + 21 * 3600)
        );
    }
}
