//! The daemon's HTTP listener: `/metrics` (Prometheus), `/healthz`, `/readyz`, `/status`, and
//! `POST /suspend` / `POST /resume` for healing.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};

use super::state::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(|State(s): State<Arc<Shared>>| async move { Json(s.status_json()) }))
        .route("/suspend", post(|State(s): State<Arc<Shared>>| async move { suspend(&s, true) }))
        .route("/resume", post(|State(s): State<Arc<Shared>>| async move { suspend(&s, false) }))
        .with_state(shared)
}

async fn metrics(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics_text())
}

/// Ready iff the last cycle read the live server: a load balancer or monitor sees an outage.
async fn readyz(State(s): State<Arc<Shared>>) -> (StatusCode, String) {
    if s.ready() {
        (StatusCode::OK, "ready\n".into())
    } else {
        let why = s.status.lock().map(|st| st.result.clone()).unwrap_or_default();
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", if why.is_empty() { "no cycle has finished yet" } else { &why }))
    }
}

fn suspend(s: &Shared, on: bool) -> Json<serde_json::Value> {
    s.set_suspended(on);
    tracing::info!(suspended = on, "healing {}", if on { "suspended" } else { "resumed" });
    Json(s.status_json())
}
