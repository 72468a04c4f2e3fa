//! The ingest API's state ([`Ingest`]), its two handlers, `POST
//! /v1/sessions` and `GET /v1/tasks/{task_id}`, and the checks they share
//! (see [`super::ingest`] for the API and its router).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::IngestConfig;
use super::request::{EventKind, SessionEvent, name};
use super::schema::SessionKey;
use super::store::{EndOutcome, HeartbeatOutcome, SessionStore, StartOutcome};
use super::tasks::{CurrentTasks, Lookup, Refusal};
use super::tokens::TokensFile;
use crate::escape::Escaped;
use crate::providers::{Clock, ProviderError};

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
pub(super) fn error(status: StatusCode, message: impl Into<String>, extra: Value) -> Response {
    let mut body = json!({ "error": message.into() });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    (status, axum::Json(body)).into_response()
}

/// The refusal, if the event is not about a current task of a configured
/// service (or, with `bind_source_ip`, not sent from that task).
fn refuse_task(ingest: &Ingest, key: &SessionKey, peer: Option<SocketAddr>) -> Option<Response> {
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

pub(super) async fn post_session(
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
    if let Some(r) = refuse_task(&ingest, &event.key, peer.map(|c| c.0.0)) {
        return r;
    }
    let now = ingest.clock.now();
    let key = &event.key;
    let service = key.partition_key();
    let result = match event.kind {
        EventKind::Start { ttl_seconds: ttl } => {
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
            let (started, cordon) = tokio::join!(
                ingest.store.start(key, now, Some(ttl)),
                ingest
                    .store
                    .cordoned_since(&key.cluster, &key.service, &key.task_id)
            );
            if !matches!(started, Ok(StartOutcome::Started)) {
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
        EventKind::Heartbeat { ttl_seconds: ttl } => {
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
pub(super) struct TaskQuery {
    cluster: String,
    service: String,
}

/// `GET /v1/tasks/{task_id}?cluster=..&service=..`: whether the task accepts
/// new sessions (its app-level cordon state).
pub(super) async fn get_task(
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
        name(&q.cluster, "cluster"),
        name(&q.service, "service"),
        name(&task_id, "task_id"),
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
    let probe = SessionKey {
        cluster: cluster.clone(),
        service: service.clone(),
        task_id: task_id.clone(),
        session_id: "-".into(),
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
        Err(e) => storage_error(&probe.partition_key(), e),
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
