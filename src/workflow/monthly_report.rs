//! The monthly compliance report as a sweep step: driven by the sweep's "now", so the daemon
//! and `jobs run --now` send it alike, once per month (claimed in the same transaction as the
//! mails it queues).

use super::Procedure;
use crate::domain::compliance;
use crate::domain::mail_kind::MailKind;
use crate::domain::monthly_report::{self, Month};
use crate::domain::template::Template;
use crate::mail::outbound::OutgoingAttachment;
use crate::store::{self, reports, tickets, Db};
use crate::workflow::notify::{Mailer, Notice};
use crate::workflow::WorkflowError;
use chrono::{DateTime, Utc};

/// Mails the previous month's report when `now` is its day and it has not gone out yet;
/// returns the mails queued (one per recipient).
pub async fn run(
    db: &Db,
    mailer: &Mailer,
    proc: &Procedure,
    now: DateTime<Utc>,
) -> Result<usize, WorkflowError> {
    let Some(hour) = proc.monthly_report_hour else {
        return Ok(0);
    };
    let Some(month) = monthly_report::due(&proc.calendar, now, hour) else {
        return Ok(0);
    };
    let snap = proc.snapshot();
    let to = monthly_report::recipients(&snap.directory, &proc.policy);
    if to.is_empty() {
        // Every sweep (once a minute) finds the report due for days; one line per month is
        // what an operator needs, not one a minute.
        if first_warning_of(&month.key()) {
            tracing::warn!(month = %month.key(), "monthly compliance report has no recipient: set the directory's coordinador/subdirector/director or [escalation]");
        }
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    if !reports::claim_monthly(&mut tx, &month.key(), store::unix(now)).await? {
        return Ok(0);
    }
    let report = report_of(&mut tx, proc, month).await?;
    let csv = OutgoingAttachment {
        filename: monthly_report::csv_name(month),
        content_type: "text/csv; charset=utf-8".into(),
        content: compliance::csv(&report).into_bytes(),
    };
    // One mail per reader: each can reply or forward it without exposing the others.
    for who in &to {
        mailer
            .queue_with_attachments(
                &mut tx,
                &Notice::ticketless(
                    MailKind::InformeMensual,
                    Template::InformeMensual,
                    monthly_report::mail_data(month, &report, &snap.catalog),
                    who.clone(),
                    store::unix(now),
                    None,
                    "Informe mensual de cumplimiento",
                ),
                std::slice::from_ref(&csv),
            )
            .await?;
    }
    tx.commit().await?;
    tracing::info!(month = %month.key(), recipients = to.len(), "monthly compliance report queued");
    Ok(to.len())
}

/// Whether this process has not yet warned about `month`'s report lacking a recipient (and
/// remembers that it now has).
fn first_warning_of(month: &str) -> bool {
    static WARNED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let mut last = WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if last.as_deref() == Some(month) {
        return false;
    }
    *last = Some(month.to_owned());
    true
}

/// The compliance report of `month`, over the same tickets `sla compliance` counts.
async fn report_of(
    conn: &mut store::Conn,
    proc: &Procedure,
    month: Month,
) -> Result<compliance::Report, sqlx::Error> {
    let (from, to) = month.bounds(&proc.calendar.timezone());
    report_between(conn, from, to).await
}

/// The compliance report of the tickets closed in `[from, to)`: the one computation behind
/// `sla compliance`, the monthly mail and the panel's `/cumplimiento`, so all three agree.
pub async fn report_between(
    conn: &mut store::Conn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<compliance::Report, sqlx::Error> {
    let closed = tickets::closed_between(conn, store::unix(from), store::unix(to)).await?;
    Ok(compliance::report(&closed))
}

#[cfg(test)]
mod tests {
    use super::first_warning_of;

    #[test]
    fn a_missing_recipient_is_warned_once_per_month() {
        assert!(first_warning_of("2031-04"));
        assert!(!first_warning_of("2031-04"));
        assert!(first_warning_of("2031-05"));
        assert!(!first_warning_of("2031-05"));
    }
}
