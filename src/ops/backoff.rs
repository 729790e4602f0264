//! Reconnect delays: doubling from a floor to a ceiling, with jitter so several instances do
//! not hammer a recovering server in step.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    floor: Duration,
    ceiling: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(floor: Duration, ceiling: Duration) -> Backoff {
        Backoff {
            floor,
            ceiling,
            current: floor,
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.ceiling);
        let jitter = rand::random::<f64>() * 0.25 * base.as_secs_f64();
        base + Duration::from_secs_f64(jitter)
    }

    pub fn reset(&mut self) {
        self.current = self.floor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_ceiling_and_reset() {
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(10));
        let d: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(d[0], 2);
        assert!((4..=5).contains(&d[1]));
        assert!((8..=10).contains(&d[2]));
        assert!((10..=12).contains(&d[4]));
        b.reset();
        assert_eq!(b.next_delay().as_secs(), 2);
    }
}
