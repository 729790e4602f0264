//! The operations listener: `GET /healthz` (200 when the mailbox, SMTP, the database and, when
//! configured, the web panel's listener are fine, 503 with the reason otherwise) and `GET /metrics`
//! (Prometheus text format).

use crate::store::Db;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// Binds the listener; `None` (with an error logged) when `listen` is empty or taken, so a
/// port clash never stops mail from being handled.
pub async fn bind(listen: &str) -> Option<tokio::net::TcpListener> {
    let listen = listen.trim();
    if listen.is_empty() {
        info!("http listener disabled (http.listen is empty): no /healthz or /metrics");
        return None;
    }
    match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => {
            let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            info!(addr = %addr, "http listening for /healthz and /metrics");
            Some(l)
        }
        Err(e) => {
            error!(
                listen,
                error = %e,
                "cannot listen for /healthz and /metrics (set [http] listen to a free address); continuing without them"
            );
            None
        }
    }
}

pub async fn serve(listener: tokio::net::TcpListener, db: Db, cancel: CancellationToken) {
    crate::ops::metrics::ingest_outcomes_known(crate::workflow::ingest::Outcome::LABELS);
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(db);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await;
    if let Err(e) = result {
        error!(error = %e, "http listener failed");
    }
}

async fn healthz(State(db): State<Db>) -> impl IntoResponse {
    let (healthy, text) = super::scrape::health_report(&db).await;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
}

async fn metrics(State(db): State<Db>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        super::scrape::metrics_text(&db).await,
    )
}
