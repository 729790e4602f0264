/// The working periods of one working day, in seconds after local midnight.
///
/// "Offset" below is business time elapsed since the start of the day.
/// Offsets are constant across gaps (lunch, night), so one offset maps to a
/// range of instants; callers pick the earliest when moving forward and the
/// latest when moving backward, which keeps both directions exact inverses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Workday {
    /// Sorted, non-empty and disjoint (guaranteed by config validation).
    periods: Vec<(i64, i64)>,
    length: i64,
}

impl Workday {
    pub(super) fn new(periods: Vec<(i64, i64)>) -> Self {
        let length = periods.iter().map(|(s, e)| e - s).sum();
        Self { periods, length }
    }

    /// Business seconds in one working day.
    pub(super) fn length(&self) -> i64 {
        self.length
    }

    /// Whether the time of day lies in a period; periods are half-open, so
    /// the closing minute of the day is not working time.
    pub(super) fn contains(&self, secs: i64) -> bool {
        self.periods.iter().any(|&(s, e)| (s..e).contains(&secs))
    }

    pub(super) fn offset_at(&self, secs: i64) -> i64 {
        self.periods
            .iter()
            .map(|&(s, e)| secs.clamp(s, e) - s)
            .sum()
    }

    /// Earliest time of day at `offset`, for `offset` in `1..=length`: a
    /// period's end rather than the next period's start.
    pub(super) fn earliest_at(&self, offset: i64) -> i64 {
        let mut left = offset.max(0);
        for &(s, e) in &self.periods {
            if left <= e - s {
                return s + left;
            }
            left -= e - s;
        }
        self.day_end()
    }

    /// Latest time of day at `offset`, for `offset` in `0..length`: a
    /// period's start rather than the previous period's end.
    pub(super) fn latest_at(&self, offset: i64) -> i64 {
        let mut left = offset.max(0);
        for &(s, e) in &self.periods {
            if left < e - s {
                return s + left;
            }
            left -= e - s;
        }
        self.day_end()
    }

    fn day_end(&self) -> i64 {
        self.periods.last().map_or(0, |&(_, e)| e)
    }
}
