//! `/metrics` in the Prometheus text format. Events counted as they happen (messages ingested,
//! IMAP reconnects, last successful poll) go through the `metrics` facade; the state of the
//! store (tickets, outbox, approvals, SLA alerts) is queried at scrape time, so every instance
//! sharing a PostgreSQL database reports the same numbers for it.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
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

/// Every outcome of taking in a message from the start, at 0 (`increment(0)` never resets a
/// count already made): an alert on the rate of quarantined mail must see a series before the
/// first quarantine. The labels come from the application layer, which owns the outcomes.
pub fn ingest_outcomes_known(labels: &[&'static str]) {
    install();
    for o in labels {
        metrics::counter!(INGESTED, "outcome" => *o).increment(0);
    }
}

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
