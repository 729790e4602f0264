//! mesayuda: the MHCP procedure for ICT service requests, run by email.
//!
//! Floors, from the bottom: `domain` is the procedure as pure code (no I/O); `ops` the low
//! floor every other part may report to (health, metrics, outages, backoff, memory); `mail`
//! reads and composes messages; the adapters `imap`, `smtp`, `oauth2`, `ldap`, `store` (all
//! SQL) and `panel` talk to the outside and never to each other (the store excepted: everyone
//! persists through it); `workflow` is the application layer (ingest, notify, the activities'
//! persistence); `runtime` wires it all into the daemon; `cli` is the command line.

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod imap;
pub mod ldap;
pub mod mail;
pub mod oauth2;
pub mod ops;
pub mod panel;
pub mod runtime;
pub mod smtp;
pub mod store;
pub mod tcp;
pub mod telemetry;
pub mod tls;
pub mod workflow;

/// The package version, as in Cargo.toml (and the .deb built from it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from (build.rs), "unknown" outside a git checkout.
pub const COMMIT: &str = env!("MESAYUDA_COMMIT");
/// What `mesayuda --version` prints after the program's name.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MESAYUDA_COMMIT"),
    ")"
);
