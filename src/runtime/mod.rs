//! The top floor: wiring the daemon from its configuration (`app`), supervising its tasks
//! (`supervisor`), the scheduler of the time-driven sweeps, the mailbox lease between
//! instances and the recovery news between them, SIGHUP reload, systemd notify/watchdog, the
//! `/healthz` and `/metrics` listener, and alerts to operations.

pub mod alert;
pub mod app;
pub mod backlog;
pub mod http;
pub mod lease;
pub mod news;
pub mod reload;
pub mod scheduler;
pub mod scrape;
pub mod supervisor;
pub mod systemd;
