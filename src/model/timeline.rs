//! What `status` and `dashboard` plot over time, computed from recorded happenings: usage per
//! account and window, and handoffs and failures per hour. Pure: the shell reads the health
//! store, the event log and the session artifacts, this module only sorts and counts.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// The name people use for a usage window: `5h` for the session window (Codex `primary`,
/// Anthropic `five_hour`, or any 300-minute window), `weekly` for the long one (Codex
/// `secondary`, Anthropic `seven_day`, 10080 minutes); other windows keep their name.
pub fn window_label(window: &str, window_minutes: Option<u64>) -> String {
    match (window, window_minutes) {
        (_, Some(300)) | ("primary" | "five_hour", None) => "5h".to_owned(),
        (_, Some(10_080)) | ("secondary" | "seven_day", None) => "weekly".to_owned(),
        (other, _) => other.to_owned(),
    }
}

/// One usage reading, as a point of a plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsagePoint {
    pub ts: Timestamp,
    pub account: String,
    /// `5h`, `weekly`, … ([`window_label`]).
    pub window: String,
    pub used_pct: f64,
}

/// Something that happened, for the hourly counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// A managed session moved a request to another account.
    Handoff,
    /// A failure someone may have seen: an error the harness got, a failed probe or refresh.
    Failure,
}

/// One hour of the plot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourCount {
    /// The start of the hour (UTC).
    pub hour: Timestamp,
    pub handoffs: u32,
    pub failures: u32,
}

/// Counts per hour over the `hours` hours that end with the one holding `now` (oldest
/// first, every hour present, zero when nothing happened). Happenings outside are ignored.
pub fn per_hour(
    happenings: &[(Timestamp, Happening)],
    hours: u32,
    now: Timestamp,
) -> Vec<HourCount> {
    let hour_s = 3600;
    let this_hour = now.as_second().div_euclid(hour_s) * hour_s;
    let first = this_hour - i64::from(hours.saturating_sub(1)) * hour_s;
    let mut counts: Vec<HourCount> = (0..i64::from(hours))
        .filter_map(|i| {
            Some(HourCount {
                hour: Timestamp::from_second(first + i * hour_s).ok()?,
                handoffs: 0,
                failures: 0,
            })
        })
        .collect();
    for (ts, what) in happenings {
        let index = (ts.as_second() - first).div_euclid(hour_s);
        let Some(slot) = usize::try_from(index).ok().and_then(|i| counts.get_mut(i)) else {
            continue;
        };
        match what {
            Happening::Handoff => slot.handoffs += 1,
            Happening::Failure => slot.failures += 1,
        }
    }
    counts
}

/// Usage points within `span` before `now`, oldest first, at most `limit` (the newest kept).
pub fn recent_usage(
    mut points: Vec<UsagePoint>,
    span: SignedDuration,
    now: Timestamp,
    limit: usize,
) -> Vec<UsagePoint> {
    let since = now.checked_sub(span).unwrap_or(Timestamp::MIN);
    points.retain(|p| p.ts >= since && p.ts <= now);
    points.sort_by_key(|p| p.ts);
    let excess = points.len().saturating_sub(limit);
    points.drain(..excess);
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn windows_get_the_names_people_use() {
        assert_eq!(window_label("primary", Some(300)), "5h");
        assert_eq!(window_label("five_hour", None), "5h");
        assert_eq!(window_label("secondary", Some(10_080)), "weekly");
        assert_eq!(window_label("seven_day", None), "weekly");
        assert_eq!(window_label("monthly", Some(43_200)), "monthly");
    }

    #[test]
    fn happenings_are_counted_in_their_hour_and_every_hour_is_present() {
        let now = at("2026-12-07T10:30:00Z");
        let counts = per_hour(
            &[
                (at("2026-12-07T10:05:00Z"), Happening::Handoff),
                (at("2026-12-07T10:29:59Z"), Happening::Failure),
                (at("2026-12-07T08:00:00Z"), Happening::Handoff),
                (at("2026-12-07T06:59:59Z"), Happening::Handoff),
                (at("2026-12-07T11:00:00Z"), Happening::Failure),
            ],
            4,
            now,
        );
        let rows: Vec<(String, u32, u32)> = counts
            .iter()
            .map(|c| (c.hour.to_string(), c.handoffs, c.failures))
            .collect();
        assert_eq!(
            rows,
            [
                ("2026-12-07T07:00:00Z".to_owned(), 0, 0),
                ("2026-12-07T08:00:00Z".to_owned(), 1, 0),
                ("2026-12-07T09:00:00Z".to_owned(), 0, 0),
                ("2026-12-07T10:00:00Z".to_owned(), 1, 1),
            ]
        );
    }

    #[test]
    fn usage_keeps_the_newest_points_of_the_span() {
        let now = at("2026-12-07T10:00:00Z");
        let point = |ts: &str, pct: f64| UsagePoint {
            ts: at(ts),
            account: "a".into(),
            window: "5h".into(),
            used_pct: pct,
        };
        let kept = recent_usage(
            vec![
                point("2026-12-07T09:00:00Z", 3.0),
                point("2026-12-05T09:00:00Z", 1.0),
                point("2026-12-07T08:00:00Z", 2.0),
                point("2026-12-07T09:30:00Z", 4.0),
            ],
            SignedDuration::from_hours(24),
            now,
            2,
        );
        let pcts: Vec<f64> = kept.iter().map(|p| p.used_pct).collect();
        assert_eq!(pcts, [3.0, 4.0]);
    }
}
