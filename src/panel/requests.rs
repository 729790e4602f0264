//! Every panel request counted and timed per route for `/metrics`. The label is the route's
//! template (`/ingresar/{token}`, `/solicitudes/{req}`), never the path asked for: a sign-in
//! token or a ticket number never becomes a label, and the number of series stays bounded.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// What a request no route matched is counted under (the 404 fallback).
const UNMATCHED: &str = "unmatched";

pub async fn record(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    // Any token is a valid method name; only the ones the panel answers become labels.
    let method = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(req).await;
    crate::ops::metrics::panel_request(
        route,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
