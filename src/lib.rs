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
