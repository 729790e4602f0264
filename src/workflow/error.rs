//! The one error of the application layer, and what its caller does with it: bad data is
//! set aside (the mail quarantined, the chunk's alert failed) and never retried, since the same
//! input would fail the same way again; an outage is waited out and retried.

use crate::mail::outbound::ComposeError;
use crate::mail::templates::TemplateError;

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The mailbox reader's lease passed to another instance: nothing was committed.
    #[error("mailbox lease lost: another instance reads the mailbox now")]
    LeaseLost,
}

impl WorkflowError {
    /// The same input would fail again: a value the database refuses or cannot decode, a
    /// template that does not render, a mail that cannot be composed.
    pub fn is_bad_data(&self) -> bool {
        match self {
            WorkflowError::Db(e) => crate::store::is_data_error(e),
            WorkflowError::Template(_) | WorkflowError::Compose(_) => true,
            WorkflowError::LeaseLost => false,
        }
    }

    /// The database could not be reached or did not answer: wait it out and retry.
    pub fn is_outage(&self) -> bool {
        matches!(self, WorkflowError::Db(e) if !crate::store::is_data_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_an_outage_and_an_undecodable_value_bad_data() {
        let outage = WorkflowError::Db(sqlx::Error::PoolTimedOut);
        assert!(outage.is_outage() && !outage.is_bad_data());
        let bad = WorkflowError::Db(sqlx::Error::Decode("unknown status".into()));
        assert!(bad.is_bad_data() && !bad.is_outage());
        assert!(!WorkflowError::LeaseLost.is_bad_data() && !WorkflowError::LeaseLost.is_outage());
    }
}
