//! The low floor: process-wide status that every other part reports to and reads — component
//! health, metrics counters, outages and the waits between retries, the allocator's settings.
//! It imports nothing of the crate but `domain`, so any floor may use it.

pub mod backoff;
pub mod health;
pub mod memory;
pub mod metrics;
pub mod outage;
