//! Maintenance windows: when Enforce mode may write. Outside every declared window a pass plans
//! but writes nothing, and says when the next window opens; no window declared means always.

use std::str::FromStr;

use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::api::MaintenanceWindow;

/// Whether a pass may write now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// No window is declared, or one is open.
    Open,
    /// Every window is closed; the next opens at this time.
    Closed { opens: Option<Timestamp> },
}

/// A declared window, parsed.
#[derive(Debug, Clone)]
pub struct Schedule {
    source: MaintenanceWindow,
    cron: Cron,
    duration: SignedDuration,
    zone: TimeZone,
}

/// Two schedules are the same window when they were declared alike.
impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.source == other.source
    }
}

impl Schedule {
    /// Parses a window; the error names the field and what is wrong with it.
    pub fn parse(window: &MaintenanceWindow) -> Result<Schedule, String> {
        let cron = Cron::from_str(&window.schedule).map_err(|e| {
            format!(
                "maintenanceWindows: schedule {:?} is not a cron expression: {e}",
                window.schedule
            )
        })?;
        let duration = window
            .duration
            .parse::<kube::core::Duration>()
            .ok()
            .and_then(|d| SignedDuration::try_from(std::time::Duration::from(d)).ok())
            .filter(|d| d.is_positive())
            .ok_or_else(|| {
                format!(
                    "maintenanceWindows: duration {:?} is not a positive duration such as 4h",
                    window.duration
                )
            })?;
        let zone = TimeZone::get(&window.time_zone).map_err(|_| {
            format!(
                "maintenanceWindows: timeZone {:?} is not an IANA time zone such as Europe/Berlin",
                window.time_zone
            )
        })?;
        Ok(Schedule {
            source: window.clone(),
            cron,
            duration,
            zone,
        })
    }

    /// Whether the window is open at `now`: its last start (in its time zone) is less than its
    /// duration ago.
    fn open_at(&self, now: Timestamp) -> bool {
        let here = now.to_zoned(self.zone.clone());
        self.cron
            .find_previous_occurrence(&here, true)
            .is_ok_and(|start: Zoned| start.timestamp() + self.duration > now)
    }

    /// When the window opens next after `now`.
    fn next_open(&self, now: Timestamp) -> Option<Timestamp> {
        let here = now.to_zoned(self.zone.clone());
        self.cron
            .find_next_occurrence(&here, false)
            .ok()
            .map(|start: Zoned| start.timestamp())
    }
}

/// The window state of `schedules` at `now`.
pub fn at(schedules: &[Schedule], now: Timestamp) -> Window {
    if schedules.is_empty() || schedules.iter().any(|s| s.open_at(now)) {
        return Window::Open;
    }
    Window::Closed {
        opens: schedules.iter().filter_map(|s| s.next_open(now)).min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str, duration: &str, zone: &str) -> Schedule {
        Schedule::parse(&MaintenanceWindow {
            schedule: cron.into(),
            duration: duration.into(),
            time_zone: zone.into(),
        })
        .unwrap()
    }

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn open_inside_closed_outside_with_the_next_opening() {
        // Saturdays 02:00-06:00 in Berlin (UTC+1 in January).
        let saturday = [schedule("0 2 * * 6", "4h", "Europe/Berlin")];
        assert_eq!(at(&saturday, t("2027-01-09T01:30:00Z")), Window::Open);
        assert_eq!(
            at(&saturday, t("2027-01-09T05:00:00Z")),
            Window::Closed {
                opens: Some(t("2027-01-16T01:00:00Z"))
            }
        );
        assert_eq!(
            at(&saturday, t("2027-01-08T12:00:00Z")),
            Window::Closed {
                opens: Some(t("2027-01-09T01:00:00Z"))
            }
        );
        assert_eq!(at(&[], t("2027-01-08T12:00:00Z")), Window::Open);
    }

    #[test]
    fn the_earliest_of_several_windows_opens_next() {
        let windows = [
            schedule("0 2 * * 6", "1h", "Europe/Berlin"),
            schedule("0 22 * * 3", "1h", "America/New_York"),
        ];
        // Wednesday 22:00 in New York (UTC-5) is Thursday 03:00 UTC, before Saturday.
        assert_eq!(
            at(&windows, t("2027-01-05T12:00:00Z")),
            Window::Closed {
                opens: Some(t("2027-01-07T03:00:00Z"))
            }
        );
    }

    #[test]
    fn windows_follow_daylight_saving_time() {
        // Daily at 02:30 in Berlin. On 2027-03-28 clocks jump from 02:00 to 03:00: 02:30 does
        // not exist that day; before and after it the window opens at 02:30 local time, an hour
        // earlier in UTC in summer than in winter.
        let daily = [schedule("30 2 * * *", "1h", "Europe/Berlin")];
        let Window::Closed { opens: Some(next) } = at(&daily, t("2027-03-27T12:00:00Z")) else {
            panic!("closed at noon")
        };
        // The library may skip the missing time or move it past the gap: either way the window
        // opens once, on the 28th after the jump (01:00Z = 03:00 CEST) or on the 29th.
        assert!(
            [
                t("2027-03-28T01:00:00Z"),
                t("2027-03-28T01:30:00Z"),
                t("2027-03-29T00:30:00Z")
            ]
            .contains(&next),
            "{next}"
        );
        assert_eq!(
            at(&daily, t("2027-03-29T00:45:00Z")),
            Window::Open,
            "02:45 CEST on the 29th is inside 02:30-03:30"
        );
        assert_eq!(
            at(&daily, t("2027-03-29T01:45:00Z")),
            Window::Closed {
                opens: Some(t("2027-03-30T00:30:00Z"))
            }
        );
        // On 2027-10-31 clocks fall back from 03:00 to 02:00: 02:30 happens twice, the window
        // opens once (at the first) and the next opening is the next day.
        let after_first = t("2027-10-31T01:45:00Z"); // 02:45 CET, the second 02:xx
        assert_eq!(at(&daily, t("2027-10-31T00:45:00Z")), Window::Open);
        match at(&daily, after_first) {
            Window::Open => {} // still inside the hour that started at the first 02:30 CEST
            Window::Closed { opens } => assert_eq!(opens, Some(t("2027-11-01T01:30:00Z"))),
        }
        assert_eq!(
            at(&daily, t("2027-10-31T03:00:00Z")),
            Window::Closed {
                opens: Some(t("2027-11-01T01:30:00Z"))
            }
        );
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        let parse = |cron: &str, duration: &str, zone: &str| {
            Schedule::parse(&MaintenanceWindow {
                schedule: cron.into(),
                duration: duration.into(),
                time_zone: zone.into(),
            })
            .unwrap_err()
        };
        assert!(parse("every saturday", "4h", "UTC").contains("schedule"));
        assert!(parse("0 2 * * 6", "soon", "UTC").contains("duration"));
        assert!(parse("0 2 * * 6", "4h", "Mars/Olympus").contains("timeZone"));
    }
}
