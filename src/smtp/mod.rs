//! The SMTP adapter: a transport built from config and the outbox sender that drains the queue.

mod connection;
pub mod sender;
pub mod transport;
