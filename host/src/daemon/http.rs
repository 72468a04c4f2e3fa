//! The HTTP endpoint: `/healthz`, `/metrics` (Prometheus text) and
//! `/v1/services` (each service's state and last decision).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::Board;
use crate::events::Events;

#[derive(Clone)]
struct AppState {
    board: Board,
    events: Events,
}

/// The router; other routes (the session ingest API) can be merged into it.
pub fn router(board: Board, events: Events) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/v1/services", get(services))
        .with_state(AppState { board, events })
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.events.prometheus(),
    )
}

async fn services(State(s): State<AppState>) -> impl IntoResponse {
    let board = s.board.lock().unwrap_or_else(|p| p.into_inner()).clone();
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
