//! Running in production: systemd integration, `/healthz` and `/metrics`, SIGHUP reload, the
//! mailbox lease between instances, OAuth2 tokens and alerts to operations.

pub mod alert;
pub mod check;
pub mod daemon;
pub mod health;
pub mod http;
pub mod lease;
pub mod memory;
pub mod metrics;
pub mod news;
pub mod oauth2;
pub mod reload;
pub mod systemd;
