//! The IMAP adapter: watches the help-desk mailbox and feeds each new mail to ingestion.

pub mod connect;
pub mod watcher;
