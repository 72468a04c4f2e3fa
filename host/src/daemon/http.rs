//! The HTTP endpoint: `/healthz` (liveness), `/readyz` (readiness),
//! `/metrics` (Prometheus text) and `/v1/services` (each service's state and
//! last decision). See [`super::health`] for what liveness and readiness mean.

use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::{Board, health};
use crate::events::Events;
use crate::remote::poll::SourceHealth;

#[derive(Clone)]
struct AppState {
    board: Board,
    events: Events,
    sources: Option<SourceHealth>,
}

/// The router of the `[http]` port (the session ingest has its own listener).
pub fn router(board: Board, events: Events) -> Router {
    router_with_sources(board, events, None)
}

/// [`router`], with `/readyz` also telling which policy locations in S3
/// did not answer their last poll (`sources`).
pub fn router_with_sources(board: Board, events: Events, sources: Option<SourceHealth>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/services", get(services))
        .with_state(AppState {
            board,
            events,
            sources,
        })
}

/// 200 `ok` while the daemon loop keeps up; 503 with the reason, in plain
/// text, once it is overdue by more than two intervals.
async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match s.events.overdue(SystemTime::now()) {
        None => (StatusCode::OK, text, "ok\n".to_string()),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, text, format!("{reason}\n")),
    }
}

/// 200 when every service is ready, else 503; the JSON body gives each
/// service's state and reason either way, and its warnings (a policy
/// location in S3 that does not answer, while the last good policy decides).
async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let clock = s.events.heartbeat().map(|h| h.clock);
    let report = {
        let board = s.board.lock();
        health::readiness(&board, clock)
    };
    let report = match &s.sources {
        Some(sources) => report.with_sources(sources),
        None => report,
    };
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report))
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::events::CONTENT_TYPE)],
        s.events.prometheus(),
    )
}

async fn services(State(s): State<AppState>) -> impl IntoResponse {
    let board = s.board.lock().clone();
    axum::Json(board.into_values().collect::<Vec<_>>())
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
