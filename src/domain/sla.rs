//! The SLA clock of one ticket, in business seconds. It runs while the ticket waits on the help
//! desk and stops while it waits on the user (activity 5) or, by policy, on an approver;
//! resuming pushes every threshold out by the paused business time. The stored state answers
//! "how much is used, and when is each threshold due" without replaying history.

use super::calendar::BusinessCalendar;
use super::text::Priority;
use chrono::{DateTime, Utc};

/// Escalation thresholds, in percent of the resolution target, in order.
pub const THRESHOLDS: [u8; 3] = [50, 75, 100];

/// Optional scaling of the catalogue's resolution target by priority (`[sla]
/// priority_factors`). None is configured by default: the target users are told is the
/// catalogue's, and a help desk that wants urgent work sooner says so in its configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityFactors {
    pub alta: Option<f64>,
    pub media: Option<f64>,
    pub baja: Option<f64>,
}

impl PriorityFactors {
    /// The factor for `priority`; 1 when none is configured for it.
    pub fn factor(&self, priority: Option<Priority>) -> f64 {
        match priority {
            Some(Priority::Alta) => self.alta,
            Some(Priority::Media) => self.media,
            Some(Priority::Baja) => self.baja,
            None => None,
        }
        .unwrap_or(1.0)
    }

    /// Each configured factor with its key, for validation messages.
    pub fn configured(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [
            ("alta", self.alta),
            ("media", self.media),
            ("baja", self.baja),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaClock {
    pub target_secs: i64,
    /// Business seconds used before the current running stretch.
    pub used_secs: i64,
    /// Set while the clock runs.
    pub running_since: Option<DateTime<Utc>>,
    /// Business seconds spent paused, for the compliance report.
    pub paused_secs: i64,
    pub paused_since: Option<DateTime<Utc>>,
    /// How many thresholds (in [`THRESHOLDS`] order) have been alerted.
    pub alerts_sent: u8,
}

impl SlaClock {
    pub fn start(now: DateTime<Utc>, target_secs: i64) -> SlaClock {
        SlaClock {
            target_secs,
            running_since: Some(now),
            ..SlaClock::default()
        }
    }

    pub fn is_paused(&self) -> bool {
        self.running_since.is_none()
    }

    pub fn used_at(&self, cal: &BusinessCalendar, now: DateTime<Utc>) -> i64 {
        self.used_secs
            + self
                .running_since
                .map(|s| cal.business_seconds_between(s, now))
                .unwrap_or(0)
    }

    pub fn paused_at(&self, cal: &BusinessCalendar, now: DateTime<Utc>) -> i64 {
        self.paused_secs
            + self
                .paused_since
                .map(|s| cal.business_seconds_between(s, now))
                .unwrap_or(0)
    }

    pub fn pause(&mut self, cal: &BusinessCalendar, now: DateTime<Utc>) {
        if let Some(since) = self.running_since.take() {
            self.used_secs += cal.business_seconds_between(since, now);
            self.paused_since = Some(now);
        }
    }

    pub fn resume(&mut self, cal: &BusinessCalendar, now: DateTime<Utc>) {
        if self.running_since.is_none() {
            if let Some(p) = self.paused_since.take() {
                self.paused_secs += cal.business_seconds_between(p, now);
            }
            self.running_since = Some(now);
        }
    }

    /// A new service or priority: the target changes, the time used does not.
    pub fn set_target(&mut self, target_secs: i64) {
        self.target_secs = target_secs;
    }

    /// Business seconds at which threshold `tier` (index into [`THRESHOLDS`]) is reached.
    pub fn threshold_secs(&self, tier: usize) -> i64 {
        let pct = i64::from(THRESHOLDS[tier.min(THRESHOLDS.len() - 1)]);
        (self.target_secs * pct + 99) / 100
    }

    /// When threshold `tier` is (or was) reached if the clock keeps running; `None` while paused.
    pub fn due_at(&self, cal: &BusinessCalendar, tier: usize) -> Option<DateTime<Utc>> {
        let since = self.running_since?;
        let remaining = (self.threshold_secs(tier) - self.used_secs).max(0);
        Some(cal.add_business_seconds(since, remaining))
    }

    /// The next threshold not yet alerted, with its due time; `None` when paused or all sent.
    pub fn next_alert(&self, cal: &BusinessCalendar) -> Option<(usize, DateTime<Utc>)> {
        let tier = usize::from(self.alerts_sent);
        if tier >= THRESHOLDS.len() || self.target_secs <= 0 {
            return None;
        }
        self.due_at(cal, tier).map(|d| (tier, d))
    }

    /// Thresholds reached by `now` and not yet alerted, in order.
    pub fn crossed(&self, cal: &BusinessCalendar, now: DateTime<Utc>) -> Vec<usize> {
        let used = self.used_at(cal, now);
        (usize::from(self.alerts_sent)..THRESHOLDS.len())
            .take_while(|&t| self.target_secs > 0 && used >= self.threshold_secs(t))
            .collect()
    }

    /// Due instant of the final (100 %) threshold: the resolution deadline.
    pub fn deadline(&self, cal: &BusinessCalendar) -> Option<DateTime<Utc>> {
        self.due_at(cal, THRESHOLDS.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::CalendarConfig;
    use chrono::TimeZone;

    fn cal() -> BusinessCalendar {
        BusinessCalendar::new(&CalendarConfig::default()).unwrap()
    }

    fn bogota(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::America::Bogota
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn without_configured_factors_every_priority_keeps_the_catalogue_target() {
        let none = PriorityFactors::default();
        for p in [
            None,
            Some(Priority::Alta),
            Some(Priority::Media),
            Some(Priority::Baja),
        ] {
            assert_eq!(none.factor(p), 1.0);
        }
        let some = PriorityFactors {
            alta: Some(0.5),
            baja: Some(1.5),
            ..PriorityFactors::default()
        };
        assert_eq!(some.factor(Some(Priority::Alta)), 0.5);
        assert_eq!(some.factor(Some(Priority::Media)), 1.0);
        assert_eq!(some.factor(Some(Priority::Baja)), 1.5);
    }

    #[test]
    fn friday_afternoon_request_alerts_at_50_percent_on_monday_11() {
        let c = cal();
        let clock = SlaClock::start(bogota(2026, 11, 27, 16, 0), 8 * 3600);
        assert_eq!(clock.next_alert(&c), Some((0, bogota(2026, 11, 30, 11, 0))));
        assert_eq!(clock.due_at(&c, 1), Some(bogota(2026, 11, 30, 13, 0)));
        assert_eq!(clock.deadline(&c), Some(bogota(2026, 11, 30, 15, 0)));
        assert!(clock.crossed(&c, bogota(2026, 11, 30, 10, 59)).is_empty());
        assert_eq!(clock.crossed(&c, bogota(2026, 11, 30, 11, 0)), vec![0]);
        assert_eq!(clock.crossed(&c, bogota(2026, 12, 1, 9, 0)), vec![0, 1, 2]);
    }

    #[test]
    fn pausing_two_business_days_moves_every_threshold_two_business_days_out() {
        let c = cal();
        let start = bogota(2026, 11, 23, 9, 0); // Monday
        let running = SlaClock::start(start, 16 * 3600);
        let mut paused = running;
        paused.pause(&c, bogota(2026, 11, 23, 10, 0));
        paused.resume(&c, bogota(2026, 11, 25, 10, 0)); // Wednesday: two business days later
        for tier in 0..3 {
            let before = running.due_at(&c, tier).unwrap();
            let after = paused.due_at(&c, tier).unwrap();
            assert_eq!(after, c.add_business_days(before, 2), "tier {tier}");
        }
        assert_eq!(paused.paused_secs, 2 * 9 * 3600);
    }

    #[test]
    fn a_paused_clock_uses_no_time_and_has_no_alert_due() {
        let c = cal();
        let mut clock = SlaClock::start(bogota(2026, 11, 23, 9, 0), 8 * 3600);
        clock.pause(&c, bogota(2026, 11, 23, 11, 0));
        assert_eq!(clock.used_at(&c, bogota(2026, 11, 27, 11, 0)), 2 * 3600);
        assert_eq!(clock.next_alert(&c), None);
        assert!(clock.is_paused());
        assert_eq!(clock.paused_at(&c, bogota(2026, 11, 23, 12, 0)), 3600);
    }

    #[test]
    fn sent_alerts_are_not_due_again_and_target_changes_keep_time_used() {
        let c = cal();
        let mut clock = SlaClock::start(bogota(2026, 11, 23, 8, 0), 8 * 3600);
        clock.alerts_sent = 1;
        assert_eq!(clock.next_alert(&c).map(|a| a.0), Some(1));
        assert_eq!(
            clock.crossed(&c, bogota(2026, 11, 23, 13, 0)),
            Vec::<usize>::new()
        );
        clock.set_target(4 * 3600);
        assert_eq!(clock.crossed(&c, bogota(2026, 11, 23, 13, 0)), vec![1, 2]);
        clock.alerts_sent = 3;
        assert_eq!(clock.next_alert(&c), None);
    }
}
