//! `/metrics` in the Prometheus text format. Events counted as they happen (messages ingested,
//! IMAP reconnects, last successful poll) go through the `metrics` facade; the state of the
//! store (tickets, outbox, approvals, SLA alerts) is queried at scrape time, so every instance
//! sharing a PostgreSQL database reports the same numbers for it.

use crate::domain::ticket::Status;
use crate::store::{metrics as store_metrics, Db};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::fmt::Write;
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

pub const INGESTED: &str = "mesayuda_messages_ingested_total";
pub const RECONNECTS: &str = "mesayuda_imap_reconnects_total";
pub const LAST_POLL: &str = "mesayuda_imap_last_poll_timestamp_seconds";
pub const READER: &str = "mesayuda_mailbox_reader";

pub const BUILD_INFO: &str = "mesayuda_build_info";
pub const PANEL_REQUESTS: &str = "mesayuda_panel_requests_total";
pub const PANEL_DURATION: &str = "mesayuda_panel_request_duration_seconds";
/// Page times against the goal of 50 ms: buckets around it, so an alert can say "p95 over 50 ms".
const PANEL_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Installs the recorder once per process; later calls return the same handle.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(PANEL_DURATION.to_owned()),
                    PANEL_BUCKETS,
                )
                .map_err(|e| tracing::warn!(error = %e, "metrics buckets not set"))
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            metrics::describe_counter!(
                INGESTED,
                "Messages taken from the mailbox, by outcome as the `message ingested` log line names it"
            );
            metrics::describe_gauge!(
                BUILD_INFO,
                "Always 1; its labels name the running version and git commit"
            );
            metrics::describe_counter!(
                RECONNECTS,
                "Times the mailbox connection was lost or refused and had to be opened again"
            );
            metrics::describe_gauge!(
                LAST_POLL,
                "Unix time of the last complete pass over the mailbox"
            );
            metrics::describe_counter!(
                PANEL_REQUESTS,
                "Web panel requests answered, by route template, method and status"
            );
            metrics::describe_histogram!(
                PANEL_DURATION,
                metrics::Unit::Seconds,
                "Time the web panel took to answer, by route template and method"
            );
            metrics::describe_gauge!(
                READER,
                "1 while this instance holds the mailbox (one reader at a time), else 0"
            );
            // Every outcome from the start, at 0: an alert on the rate of quarantined mail
            // must see a series before the first quarantine.
            for o in crate::ingest::Outcome::LABELS {
                metrics::counter!(INGESTED, "outcome" => *o).absolute(0);
            }
            // Which build answers: after an upgrade (or a rollback) the scrape tells.
            metrics::gauge!(
                BUILD_INFO,
                "version" => crate::VERSION,
                "commit" => crate::COMMIT
            )
            .set(1.0);
            metrics::counter!(RECONNECTS).absolute(0);
            metrics::gauge!(READER).set(0.0);
            Some(handle)
        })
        .as_ref()
}

pub fn message_ingested(outcome: &'static str) {
    metrics::counter!(INGESTED, "outcome" => outcome).increment(1);
}

pub fn imap_reconnect() {
    metrics::counter!(RECONNECTS).increment(1);
}

pub fn poll_succeeded() {
    metrics::gauge!(LAST_POLL).set(chrono::Utc::now().timestamp() as f64);
}

/// One web panel request: `route` is the route's template, never the raw path.
pub fn panel_request(route: String, method: &'static str, status: u16, took: std::time::Duration) {
    metrics::counter!(
        PANEL_REQUESTS,
        "route" => route.clone(),
        "method" => method,
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(PANEL_DURATION, "route" => route, "method" => method)
        .record(took.as_secs_f64());
}

pub fn set_reader(holding: bool) {
    metrics::gauge!(READER).set(if holding { 1.0 } else { 0.0 });
}

/// The whole exposition: process counters, then the store's state.
pub async fn render(db: &Db) -> String {
    let mut out = match install() {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&store_metrics(db).await);
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Queries tolerate a table or column that does not exist (yet): the metric is left out and
/// `mesayuda_store_query_errors` says how many were.
async fn store_metrics(db: &Db) -> String {
    let mut out = String::new();
    let mut errors = 0u32;
    let now = chrono::Utc::now().timestamp();

    match store_metrics::tickets_by_status(db).await {
        Ok(rows) => {
            header(&mut out, "mesayuda_tickets", "gauge", "Tickets by status");
            let mut all: Vec<(String, i64)> = crate::domain::ticket::Status::ALL
                .iter()
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

    match store_metrics::sent_of_kind(db, "alerta_sla").await {
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
