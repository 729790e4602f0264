//! mesayuda: the MHCP procedure for ICT service requests, run by email.
//!
//! `domain` is the procedure as pure code; `imap`, `smtp`, `store`, `cli` are adapters.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod imap;
pub mod ingest;
pub mod ldap;
pub mod mail;
pub mod notify;
pub mod ops;
pub mod outage;
pub mod panel;
pub mod scheduler;
pub mod smtp;
pub mod store;
pub mod telemetry;
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
