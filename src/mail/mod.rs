//! Mail formats: reading received mail, composing outgoing mail, Spanish templates.

mod hidden;
pub mod html;
pub mod inbound;
pub mod outbound;
pub mod template_check;
pub mod templates;
