//! What `/healthz` and `/metrics` read at request time: the database's answer to a ping, the
//! components' health, and the store's state (tickets, outbox, approvals, SLA alerts), queried
//! at scrape time so that every instance sharing a PostgreSQL database reports the same numbers.

use crate::domain::ticket::Status;
use crate::ops::{health, health::Component, metrics};
use crate::store::{metrics as store_metrics, Db};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// The health report: one line per component, and whether all are healthy.
pub async fn health_report(db: &Db) -> (bool, String) {
    let started = Instant::now();
    let db_state =
        match tokio::time::timeout(Duration::from_secs(3), async { db.ping().await }).await {
            Ok(Ok(_)) => health::State::Ok,
            Ok(Err(e)) => health::State::Failed {
                reason: e.to_string(),
                auth: false,
                since: chrono::Utc::now(),
            },
            Err(_) => health::State::Failed {
                reason: format!("no answer within {:?}", started.elapsed()),
                auth: false,
                since: chrono::Utc::now(),
            },
        };
    let parts = [
        ("database", db_state),
        ("mailbox", health::get(Component::Mailbox)),
        ("smtp", health::get(Component::Smtp)),
    ];
    let (panel_ok, panel) = health::panel_line();
    let healthy = parts.iter().all(|(_, s)| s.is_healthy()) && panel_ok;
    let mut text = String::from(if healthy { "ok\n" } else { "unhealthy\n" });
    for (name, s) in &parts {
        text.push_str(&format!("{name}: {}\n", s.describe()));
    }
    text.push_str(&format!("panel: {panel}\n"));
    (healthy, text)
}

/// The whole exposition: process counters, then the store's state.
pub async fn metrics_text(db: &Db) -> String {
    let mut out = match metrics::install() {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&store_state(db).await);
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Queries tolerate a table or column that does not exist (yet): the metric is left out and
/// `mesayuda_store_query_errors` says how many were.
async fn store_state(db: &Db) -> String {
    let mut out = String::new();
    let mut errors = 0u32;
    let now = chrono::Utc::now().timestamp();

    match store_metrics::tickets_by_status(db).await {
        Ok(rows) => {
            header(&mut out, "mesayuda_tickets", "gauge", "Tickets by status");
            let mut all: Vec<(String, i64)> = crate::domain::ticket::Status::all()
                .map(|s| (s.as_str().to_owned(), 0))
                .collect();
            for (status, n) in rows {
                match all.iter_mut().find(|(s, _)| *s == status) {
                    Some(slot) => slot.1 = n,
                    None => all.push((status, n)),
                }
            }
            for (status, n) in all {
                let _ = writeln!(
                    out,
                    "mesayuda_tickets{{status=\"{}\"}} {n}",
                    escape(&status)
                );
            }
        }
        Err(e) => {
            errors += 1;
            tracing::debug!(error = %e, "metrics: tickets by status");
        }
    }

    match store_metrics::outbox_backlog(db).await {
        Ok((n, oldest)) => {
            header(
                &mut out,
                "mesayuda_outbox_backlog",
                "gauge",
                "Mail queued and not yet accepted by the SMTP server",
            );
            let _ = writeln!(out, "mesayuda_outbox_backlog {n}");
            header(
                &mut out,
                "mesayuda_outbox_oldest_age_seconds",
                "gauge",
                "Age of the oldest mail still queued (0 when the queue is empty)",
            );
            let age = oldest.map(|t| (now - t).max(0)).unwrap_or(0);
            let _ = writeln!(out, "mesayuda_outbox_oldest_age_seconds {age}");
        }
        Err(e) => {
            errors += 1;
            tracing::debug!(error = %e, "metrics: outbox backlog");
        }
    }

    match store_metrics::outbox_failed(db).await {
        Ok(n) => {
            header(
                &mut out,
                "mesayuda_outbox_failed",
                "gauge",
                "Mail refused permanently (see `mesayuda outbox list --status failed`)",
            );
            let _ = writeln!(out, "mesayuda_outbox_failed {n}");
        }
        Err(e) => {
            errors += 1;
            tracing::debug!(error = %e, "metrics: outbox failed");
        }
    }

    match store_metrics::sla_alerts_sent(db).await {
        Ok(n) => {
            header(
                &mut out,
                "mesayuda_sla_alerts_sent_total",
                "counter",
                "SLA alerts (50 %, 75 %, 100 %) accepted by the SMTP server",
            );
            let _ = writeln!(out, "mesayuda_sla_alerts_sent_total {n}");
        }
        Err(e) => {
            errors += 1;
            tracing::debug!(error = %e, "metrics: SLA alerts");
        }
    }

    // HOOK: once approvals have their own table (several approvers per ticket), count its
    // pending rows here instead of the tickets waiting in that status.
    match store_metrics::tickets_in(db, Status::PendienteAprobacion.as_str()).await {
        Ok(n) => {
            header(
                &mut out,
                "mesayuda_approvals_pending",
                "gauge",
                "Requests waiting for an approver's APROBAR or RECHAZAR",
            );
            let _ = writeln!(out, "mesayuda_approvals_pending {n}");
        }
        Err(e) => {
            errors += 1;
            tracing::debug!(error = %e, "metrics: approvals pending");
        }
    }

    header(
        &mut out,
        "mesayuda_store_query_errors",
        "gauge",
        "Store metrics that could not be read in this scrape",
    );
    let _ = writeln!(out, "mesayuda_store_query_errors {errors}");
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
