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

use crate::escape::Escaped;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_http::timeout::TimeoutLayer;

use super::IngestConfig;
pub use super::request::{BadRequest, EventKind, SessionEvent};
use super::store::{EndOutcome, HeartbeatOutcome, SessionStore};
use super::tasks::{CurrentTasks, Lookup, Refusal};
use super::tokens::TokensFile;
use crate::providers::{Clock, ProviderError};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Everything the ingest API needs.
#[derive(Clone)]
pub struct Ingest {
    /// Where sessions are stored.
    pub store: SessionStore,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The configured services' current tasks, published by the daemon.
    pub tasks: CurrentTasks,
    /// The accepted bearer tokens; none: no token needed (loopback only).
    pub tokens: Option<TokensFile>,
    /// The `[ingest]` table.
    pub config: IngestConfig,
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>, extra: Value) -> Response {
    let mut body = json!({ "error": message.into() });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    (status, axum::Json(body)).into_response()
}

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

/// The refusal, if the event is not about a current task of a configured
/// service (or, with `bind_source_ip`, not sent from that task).
fn refuse_task(
    ingest: &Ingest,
    event: &SessionEvent,
    peer: Option<SocketAddr>,
) -> Option<Response> {
    let key = &event.key;
    let service = key.partition_key();
    match ingest.tasks.lookup(&service, &key.task_id) {
        Lookup::UnknownService => Some(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "service: {service} is not a service this host autoscales; check `cluster` and `service`"
            ),
            json!({ "field": "service" }),
        )),
        Lookup::NotGathered => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the host has not yet gathered {service}'s tasks since it started; retry shortly"
                ),
                Value::Null,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(5));
            Some(r)
        }
        Lookup::UnknownTask => Some(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "task_id: {} is not a current task of {service}; send the ID of the task this session runs on",
                key.task_id
            ),
            json!({ "field": "task_id" }),
        )),
        Lookup::Task(ip) => {
            if !ingest.config.bind_source_ip {
                return None;
            }
            let from = peer.map(|p| p.ip().to_canonical());
            if ip.is_some() && from == ip {
                None
            } else {
                Some(error(
                    StatusCode::FORBIDDEN,
                    format!(
                        "task_id: events for task {} must come from its own private IP ({}), not {}",
                        key.task_id,
                        ip.map_or("not yet registered".to_string(), |i| i.to_string()),
                        from.map_or("an unknown address".to_string(), |i| i.to_string())
                    ),
                    json!({ "field": "task_id" }),
                ))
            }
        }
    }
}

async fn post_session(
    State(ingest): State<Arc<Ingest>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let message = format!("the body could not be read: {}", rejection.body_text());
            return error(rejection.status(), message, Value::Null);
        }
    };
    let event = match SessionEvent::parse(&body, ingest.config.max_ttl_seconds()) {
        Ok(event) => event,
        Err(bad) => {
            let extra = bad.field.map_or(Value::Null, |f| json!({ "field": f }));
            return error(StatusCode::BAD_REQUEST, bad.message, extra);
        }
    };
    if let Some(r) = refuse_task(&ingest, &event, peer.map(|c| c.0.0)) {
        return r;
    }
    let now = ingest.clock.now();
    let key = &event.key;
    let service = key.partition_key();
    let result = match event.kind {
        EventKind::Start => {
            let cfg = &ingest.config;
            if let Err(refusal) = ingest.tasks.admit(
                &service,
                &key.task_id,
                cfg.max_sessions_per_task,
                cfg.max_sessions_per_service,
            ) {
                let (limit, what) = match refusal {
                    Refusal::TaskFull(n) => (
                        "max_sessions_per_task",
                        format!("task {} holds {n} sessions", key.task_id),
                    ),
                    Refusal::ServiceFull(n) => (
                        "max_sessions_per_service",
                        format!("service {service} holds {n} sessions"),
                    ),
                };
                tracing::warn!(service = %service, task = %Escaped(&key.task_id), "A session start was refused: {what} (`ingest.{limit}`).");
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("{what}, the most allowed (`ingest.{limit}`); end sessions first"),
                    json!({ "limit": limit }),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(30));
                return r;
            }
            let ttl = event
                .ttl_seconds
                .expect("parse requires ttl_seconds on start");
            let (started, cordon) = tokio::join!(
                ingest.store.start(key, now, Some(ttl)),
                ingest
                    .store
                    .cordoned_since(&key.cluster, &key.service, &key.task_id)
            );
            if !matches!(started, Ok(super::StartOutcome::Started)) {
                // A repeated start or a failed write stored no new session.
                ingest.tasks.release(&service, &key.task_id);
            }
            started.and_then(|_| {
                let accepting = cordon?.is_none();
                Ok((
                    StatusCode::OK,
                    json!({ "outcome": "started", "accepting": accepting }),
                ))
            })
        }
        EventKind::Heartbeat => {
            let ttl = event
                .ttl_seconds
                .expect("parse requires ttl_seconds on a heartbeat");
            let (beat, cordon) = tokio::join!(
                ingest.store.heartbeat(key, now, ttl),
                ingest
                    .store
                    .cordoned_since(&key.cluster, &key.service, &key.task_id)
            );
            beat.and_then(|o| match o {
                HeartbeatOutcome::Refreshed { expires_at } => Ok((
                    StatusCode::OK,
                    json!({ "outcome": "refreshed", "expires_at": expires_at, "accepting": cordon?.is_none() }),
                )),
                HeartbeatOutcome::UnknownSession => Ok((
                    StatusCode::NOT_FOUND,
                    json!({
                        "error": format!(
                            "session_id: no session {:?} on task {} of {}; it ended or never started: send a start event",
                            key.session_id, key.task_id, service
                        ),
                        "field": "session_id",
                    }),
                )),
            })
        }
        EventKind::End => ingest.store.end(key).await.map(|o| match o {
            EndOutcome::Ended => {
                ingest.tasks.release(&service, &key.task_id);
                (StatusCode::OK, json!({ "outcome": "ended" }))
            }
            EndOutcome::AlreadyEnded => (StatusCode::OK, json!({ "outcome": "already_ended" })),
        }),
    };
    match result {
        Ok((status, body)) => {
            tracing::debug!(service = %service, task = %Escaped(&key.task_id), session = %Escaped(&key.session_id), status = status.as_u16(), "A session event was stored.");
            (status, axum::Json(body)).into_response()
        }
        Err(e) => storage_error(&service, e),
    }
}

/// The query of `GET /v1/tasks/{task_id}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskQuery {
    cluster: String,
    service: String,
}

/// `GET /v1/tasks/{task_id}?cluster=..&service=..`: whether the task accepts
/// new sessions (its app-level cordon state).
async fn get_task(
    State(ingest): State<Arc<Ingest>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(task_id): Path<String>,
    query: Result<Query<TaskQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected the query `?cluster=NAME&service=NAME` and nothing else",
            Value::Null,
        );
    };
    let names = (
        super::request::name(&q.cluster, "cluster"),
        super::request::name(&q.service, "service"),
        super::request::name(&task_id, "task_id"),
    );
    let (cluster, service, task_id) = match names {
        (Ok(c), Ok(s), Ok(t)) => (c, s, t),
        (Err(bad), _, _) | (_, Err(bad), _) | (_, _, Err(bad)) => {
            let extra = bad.field.map_or(Value::Null, |f| json!({ "field": f }));
            return error(StatusCode::BAD_REQUEST, bad.message, extra);
        }
    };
    // The same checks as an event's: a configured service, a current task
    // (and, with `bind_source_ip`, asked from the task itself).
    let probe = SessionEvent {
        kind: EventKind::Heartbeat,
        key: super::SessionKey {
            cluster: cluster.clone(),
            service: service.clone(),
            task_id: task_id.clone(),
            session_id: "-".into(),
        },
        ttl_seconds: None,
    };
    if let Some(r) = refuse_task(&ingest, &probe, peer.map(|c| c.0.0)) {
        return r;
    }
    match ingest
        .store
        .cordoned_since(&cluster, &service, &task_id)
        .await
    {
        Ok(since) => (
            StatusCode::OK,
            axum::Json(json!({
                "task_id": task_id,
                "accepting": since.is_none(),
                "cordoned_since": since,
            })),
        )
            .into_response(),
        Err(e) => storage_error(&probe.key.partition_key(), e),
    }
}

/// The answer to a storage failure: 503 to retry with backoff, else 500.
fn storage_error(service: &str, e: ProviderError) -> Response {
    let status = if e.is_retryable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    if matches!(e, ProviderError::Transient { .. }) {
        tracing::warn!(service = %service, "The session store could not be reached for now: {}.", Escaped(&e.to_string()));
    } else {
        tracing::error!(service = %service, "The session store failed: {}.", Escaped(&e.to_string()));
    }
    error(status, e.to_string(), Value::Null)
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
