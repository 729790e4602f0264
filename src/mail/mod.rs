//! Mail formats: reading received mail, composing outgoing mail, Spanish templates.

pub mod inbound;
pub mod outbound;
pub mod templates;
