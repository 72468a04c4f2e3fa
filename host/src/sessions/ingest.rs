//! The session ingest API: applications report session start, heartbeat and
//! end with `POST /v1/sessions`, and the host stores them in DynamoDB. It is
//! served on its own listener (`[ingest]`, see [`super::server`]), never on
//! the `[http]` endpoint. SECURITY.md explains who may call it and why.
//!
//! Requests carry `Authorization: Bearer TOKEN` (a token of
//! `ingest.tokens_file`) unless the listener is loopback without a tokens
//! file. Request body (JSON):
//!
//! ```json
//! {"event": "start", "cluster": "prod", "service": "rdp-proxy",
//!  "task_id": "0a1b2c3d4e5f4a5b8c9d0e1f2a3b4c5d", "session_id": "u-42", "ttl_seconds": 120}
//! ```
//!
//! - `event`: `start`, `heartbeat` or `end`;
//! - `cluster`, `service`: names (an ARN is reduced to its name); letters,
//!   digits, `-` and `_`, at most 255; the service must be configured on this host;
//! - `task_id`: the ECS task ID or task ARN (reduced to the ID): a current
//!   task of that service as of its last gather;
//! - `session_id`: any text without control characters, at most 512 bytes;
//! - `ttl_seconds`: the heartbeat deadline from now, 1 to `ingest.max_ttl`
//!   (default 3600); required on `start` and `heartbeat`, ignored on `end`.
//!
//! Answers to a POST, always JSON:
//!
//! | case | status | body |
//! |---|---|---|
//! | start (new or repeated) | 200 | `{"outcome": "started", "accepting": true}` |
//! | heartbeat | 200 | `{"outcome": "refreshed", "expires_at": 1764403320, "accepting": true}` |
//! | heartbeat, no such session | 404 | `{"error": "...", "field": "session_id"}`: send `start` again |
//! | end (repeated or not) | 200 | `{"outcome": "ended"}` or `{"outcome": "already_ended"}` |
//! | no or wrong token | 401 | `{"error": "..."}`, with `WWW-Authenticate: Bearer` |
//! | malformed | 400 | `{"error": "...", "field": "ttl_seconds"}` (`field` absent when the body as a whole is wrong) |
//! | sender is not the task (`bind_source_ip`) | 403 | `{"error": "...", "field": "task_id"}` |
//! | body over 16 KiB | 413 | `{"error": "..."}` |
//! | unknown service or task | 422 | `{"error": "...", "field": "service"}` or `"task_id"` |
//! | too many requests from this source | 429 | `{"error": "..."}`, with `Retry-After` |
//! | task or service holds its maximum of sessions | 429 | `{"error": "...", "limit": "max_sessions_per_task"}` |
//! | service not gathered yet since the host started | 503 | `{"error": "..."}`: retry shortly |
//! | DynamoDB throttled or down | 503 | `{"error": "..."}`: retry with backoff |
//! | request not answered within `request_timeout` | 408 | |
//! | other storage failure | 500 | `{"error": "..."}` |
//!
//! Every event is idempotent, so clients can retry any of them safely. A
//! start answers the same whether or not the session existed, so a caller
//! learns nothing about other sessions.
//!
//! `"accepting"` is the task's app-level cordon state (service `cordon =
//! "app"`): `false` while the host has cordoned the task. The application
//! must then send **new** sessions to another task (or refuse them so the
//! client retries elsewhere), keep serving the sessions it has, and keep
//! reporting their heartbeats and ends: the host stops the task once its
//! last session has ended. When it turns `true` again the task was
//! uncordoned and takes new sessions as before. A start on a cordoned task
//! is still stored (the session exists); the answer says `false`.
//!
//! `GET /v1/tasks/{task_id}?cluster=NAME&service=NAME` (same token) answers
//! `{"task_id": "...", "accepting": false, "cordoned_since": 1764403200}`
//! (`cordoned_since` is `null` when accepting), with the same 401, 422, 429,
//! 503 and 500 answers as a POST; an application that sends no heartbeats
//! polls it (once a minute is plenty).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_http::timeout::TimeoutLayer;

pub use super::handlers::Ingest;
use super::handlers::{error, get_task, post_session};
pub use super::request::{BadRequest, EventKind, SessionEvent};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The rate limiter's key: the peer's IPv4 address, or its IPv6 /64 (one
/// host usually holds a whole /64 and could rotate addresses within it).
#[derive(Debug, Clone, Copy)]
pub struct SourceKey;

impl SourceKey {
    /// The key of `ip`.
    pub fn of(ip: std::net::IpAddr) -> std::net::IpAddr {
        match ip {
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.into(),
                None => std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1)).into(),
            },
            v4 => v4,
        }
    }
}

impl tower_governor::key_extractor::KeyExtractor for SourceKey {
    type Key = std::net::IpAddr;

    fn extract<T>(
        &self,
        req: &axum::http::Request<T>,
    ) -> Result<Self::Key, tower_governor::GovernorError> {
        req.extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| SourceKey::of(c.0.ip()))
            .ok_or(tower_governor::GovernorError::UnableToExtractKey)
    }
}

/// The ingest API's router, with its rate limit, request timeout, body limit and authentication.
pub fn router(ingest: Ingest) -> Router {
    let cfg = &ingest.config;
    let per_request = std::time::Duration::from_secs_f64(1.0 / f64::from(cfg.rate_per_second));
    let governor = GovernorConfigBuilder::default()
        .key_extractor(SourceKey)
        .period(per_request)
        .burst_size(cfg.rate_burst)
        .finish()
        .expect("validated: rate_per_second and rate_burst are at least 1");
    let limiter = governor.limiter().clone();
    // The limiter keeps one entry per source address: forget idle ones.
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            limiter.retain_recent();
        }
    });
    let request_timeout = cfg.request_timeout;
    let state = Arc::new(ingest);
    Router::new()
        .route("/v1/sessions", post(post_session))
        .route("/v1/tasks/{task_id}", get(get_task))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(GovernorLayer::new(governor).error_handler(too_many_requests))
        .with_state(state)
}

fn too_many_requests(e: tower_governor::GovernorError) -> Response<Body> {
    match e {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many requests from this address (`ingest.rate_per_second`); retry after {wait_time} s"
                ),
                json!({ "limit": "rate_per_second" }),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_time.max(1)));
            r
        }
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the rate limiter failed: {other}"),
            Value::Null,
        ),
    }
}

async fn authenticate(State(ingest): State<Arc<Ingest>>, req: Request, next: Next) -> Response {
    let Some(tokens) = &ingest.tokens else {
        return next.run(req).await;
    };
    let presented = bearer(req.headers());
    if presented.is_some_and(|t| tokens.accepts(t)) {
        return next.run(req).await;
    }
    let message = if presented.is_none() {
        "missing `Authorization: Bearer TOKEN`; use a token the operator gave this application"
    } else {
        "the bearer token is not accepted; use a current token (tokens are rotated in the host's `ingest.tokens_file`)"
    };
    let mut r = error(StatusCode::UNAUTHORIZED, message, Value::Null);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::SourceKey;
    use std::net::IpAddr;

    #[test]
    fn ipv6_peers_are_rate_limited_by_their_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            SourceKey::of(ip("2001:db8:1:2:aaaa::1")),
            SourceKey::of(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_eq!(
            SourceKey::of(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(
            SourceKey::of(ip("2001:db8:1:2::1")),
            SourceKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(SourceKey::of(ip("10.0.0.1")), ip("10.0.0.1"));
        assert_ne!(SourceKey::of(ip("10.0.0.1")), SourceKey::of(ip("10.0.0.2")));
        assert_eq!(SourceKey::of(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }
}
