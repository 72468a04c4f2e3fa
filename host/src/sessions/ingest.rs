//! The session ingest API: applications report session start, heartbeat and
//! end with `POST /v1/sessions`, and the host stores them in DynamoDB.
//!
//! Request body (JSON):
//!
//! ```json
//! {"event": "start", "cluster": "prod", "service": "rdp-proxy",
//!  "task_id": "0a1b2c3d4e5f4a5b8c9d0e1f2a3b4c5d", "session_id": "u-42", "ttl_seconds": 120}
//! ```
//!
//! - `event`: `start`, `heartbeat` or `end`;
//! - `cluster`, `service`: names (an ARN is reduced to its name); letters,
//!   digits, `-` and `_`, at most 255;
//! - `task_id`: the ECS task ID or task ARN (reduced to the ID); letters,
//!   digits, `-` and `_`, at most 255;
//! - `session_id`: any text without control characters, at most 512 bytes;
//! - `ttl_seconds`: the heartbeat deadline from now, 1 to 604800; optional on
//!   `start` (no deadline: the session lives until `end`), required on
//!   `heartbeat`, ignored on `end`.
//!
//! Answers to a POST, always JSON:
//!
//! | case | status | body |
//! |---|---|---|
//! | start, new | 201 | `{"outcome": "started"}` |
//! | start, repeated | 200 | `{"outcome": "already_started"}` |
//! | heartbeat | 200 | `{"outcome": "refreshed", "expires_at": 1764403320}` |
//! | heartbeat, no such session | 404 | `{"error": "...", "field": "session_id"}`: send `start` again |
//! | end (repeated or not) | 200 | `{"outcome": "ended"}` or `{"outcome": "already_ended"}` |
//! | malformed | 400 | `{"error": "...", "field": "ttl_seconds"}` (`field` absent when the body as a whole is wrong) |
//! | body over 16 KiB | 413 | `{"error": "..."}` |
//! | DynamoDB throttled or down | 503 | `{"error": "..."}`: retry with backoff |
//! | other storage failure | 500 | `{"error": "..."}` |
//!
//! Every event is idempotent, so clients can retry any of them safely.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::schema::SessionKey;
use super::store::{EndOutcome, HeartbeatOutcome, SessionStore, StartOutcome};
use crate::providers::{Clock, ProviderError, SystemClock};

/// The longest heartbeat deadline a request may ask for: 7 days.
pub const MAX_TTL_SECONDS: u32 = 7 * 24 * 3600;
/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// It started.
    Start,
    /// It is still alive.
    Heartbeat,
    /// It ended.
    End,
}

/// One validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    /// What happened.
    pub kind: EventKind,
    /// Which session.
    pub key: SessionKey,
    /// The heartbeat deadline from now, in seconds.
    pub ttl_seconds: Option<u32>,
}

/// Why a request was refused: the field at fault (none for the body as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// The field at fault.
    pub field: Option<String>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl BadRequest {
    fn field(field: &str, message: impl Into<String>) -> BadRequest {
        BadRequest {
            field: Some(field.to_string()),
            message: format!("{field}: {}", message.into()),
        }
    }
}

const FIELDS: &[&str] = &[
    "event",
    "cluster",
    "service",
    "task_id",
    "session_id",
    "ttl_seconds",
];

impl SessionEvent {
    /// Parses and validates a request body.
    pub fn parse(body: &[u8]) -> Result<SessionEvent, BadRequest> {
        let value: Value = serde_json::from_slice(body).map_err(|e| BadRequest {
            field: None,
            message: format!("the body is not valid JSON: {e}"),
        })?;
        let Value::Object(obj) = value else {
            return Err(BadRequest {
                field: None,
                message: "the body must be a JSON object".into(),
            });
        };
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(BadRequest::field(
                unknown,
                format!("unknown field; expected one of {}", FIELDS.join(", ")),
            ));
        }
        let kind = match required_str(&obj, "event")? {
            "start" => EventKind::Start,
            "heartbeat" => EventKind::Heartbeat,
            "end" => EventKind::End,
            other => {
                return Err(BadRequest::field(
                    "event",
                    format!("{other:?} is not one of start, heartbeat, end"),
                ));
            }
        };
        let key = SessionKey {
            cluster: name(&obj, "cluster")?,
            service: name(&obj, "service")?,
            task_id: name(&obj, "task_id")?,
            session_id: session_id(&obj)?,
        };
        let ttl_seconds = match obj.get("ttl_seconds") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=u64::from(MAX_TTL_SECONDS)).contains(&n) => Some(n as u32),
                _ => {
                    return Err(BadRequest::field(
                        "ttl_seconds",
                        format!("must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}"),
                    ));
                }
            },
        };
        if kind == EventKind::Heartbeat && ttl_seconds.is_none() {
            return Err(BadRequest::field(
                "ttl_seconds",
                "is required for a heartbeat",
            ));
        }
        Ok(SessionEvent {
            kind,
            key,
            ttl_seconds,
        })
    }
}

fn required_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, BadRequest> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(BadRequest::field(field, "must not be empty")),
        Some(_) => Err(BadRequest::field(field, "must be a string")),
        None => Err(BadRequest::field(field, "is required")),
    }
}

/// A cluster, service or task name: an ARN is reduced to its last part.
fn name(obj: &Map<String, Value>, field: &str) -> Result<String, BadRequest> {
    let raw = required_str(obj, field)?;
    let name = if raw.starts_with("arn:") {
        raw.rsplit('/').next().unwrap_or(raw)
    } else {
        raw
    };
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(name.to_string())
    } else {
        Err(BadRequest::field(
            field,
            "must be 1 to 255 letters, digits, '-' or '_' (or an ARN ending in such a name)",
        ))
    }
}

fn session_id(obj: &Map<String, Value>) -> Result<String, BadRequest> {
    let raw = required_str(obj, "session_id")?;
    if raw.len() > 512 || raw.chars().any(char::is_control) {
        return Err(BadRequest::field(
            "session_id",
            "must be at most 512 bytes without control characters",
        ));
    }
    Ok(raw.to_string())
}

struct Ingest {
    store: SessionStore,
    clock: Arc<dyn Clock>,
}

/// The ingest API over `store`, on the wall clock.
pub fn router(store: SessionStore) -> Router {
    router_with_clock(store, Arc::new(SystemClock))
}

/// The ingest API over `store`, with time from `clock`.
pub fn router_with_clock(store: SessionStore, clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route("/v1/sessions", post(post_session))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(Ingest { store, clock }))
}

async fn post_session(
    State(ingest): State<Arc<Ingest>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let error = format!("the body could not be read: {}", rejection.body_text());
            return (rejection.status(), axum::Json(json!({ "error": error }))).into_response();
        }
    };
    let event = match SessionEvent::parse(&body) {
        Ok(event) => event,
        Err(bad) => {
            let mut body = json!({ "error": bad.message });
            if let Some(field) = bad.field {
                body["field"] = Value::String(field);
            }
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    let now = ingest.clock.now();
    let key = &event.key;
    let result = match event.kind {
        EventKind::Start => {
            ingest
                .store
                .start(key, now, event.ttl_seconds)
                .await
                .map(|o| match o {
                    StartOutcome::Started => (StatusCode::CREATED, json!({ "outcome": "started" })),
                    StartOutcome::AlreadyStarted => {
                        (StatusCode::OK, json!({ "outcome": "already_started" }))
                    }
                })
        }
        EventKind::Heartbeat => {
            let ttl = event
                .ttl_seconds
                .expect("parse requires ttl_seconds for a heartbeat");
            ingest.store.heartbeat(key, now, ttl).await.map(|o| match o {
                HeartbeatOutcome::Refreshed { expires_at } => {
                    (StatusCode::OK, json!({ "outcome": "refreshed", "expires_at": expires_at }))
                }
                HeartbeatOutcome::UnknownSession => (
                    StatusCode::NOT_FOUND,
                    json!({
                        "error": format!(
                            "session_id: no session {:?} on task {} of {}; it ended or never started: send a start event",
                            key.session_id, key.task_id, key.partition_key()
                        ),
                        "field": "session_id",
                    }),
                ),
            })
        }
        EventKind::End => ingest.store.end(key).await.map(|o| match o {
            EndOutcome::Ended => (StatusCode::OK, json!({ "outcome": "ended" })),
            EndOutcome::AlreadyEnded => (StatusCode::OK, json!({ "outcome": "already_ended" })),
        }),
    };
    match result {
        Ok((status, body)) => {
            tracing::debug!(service = %key.partition_key(), task = %key.task_id, session = %key.session_id, status = status.as_u16(), "A session event was stored.");
            (status, axum::Json(body)).into_response()
        }
        Err(e) => {
            let status = if e.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            if matches!(e, ProviderError::Transient { .. }) {
                tracing::warn!(service = %key.partition_key(), "A session event could not be stored for now: {e}.");
            } else {
                tracing::error!(service = %key.partition_key(), "A session event could not be stored: {e}.");
            }
            (status, axum::Json(json!({ "error": e.to_string() }))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<SessionEvent, BadRequest> {
        SessionEvent::parse(body.as_bytes())
    }

    fn field_of(body: &str) -> Option<String> {
        parse(body).unwrap_err().field
    }

    const OK: &str =
        r#"{"event":"start","cluster":"prod","service":"web","task_id":"t1","session_id":"s1"}"#;

    #[test]
    fn a_valid_start_parses() {
        let e = parse(OK).unwrap();
        assert_eq!(e.kind, EventKind::Start);
        assert_eq!(e.key.sort_key(), "t1#s1");
        assert_eq!(e.ttl_seconds, None);
    }

    #[test]
    fn arns_are_reduced_to_names() {
        let e = parse(
            r#"{"event":"end","cluster":"arn:aws:ecs:eu-west-1:1:cluster/prod","service":"web",
                "task_id":"arn:aws:ecs:eu-west-1:1:task/prod/abc123","session_id":"s"}"#,
        )
        .unwrap();
        assert_eq!(e.key.partition_key(), "prod/web");
        assert_eq!(e.key.task_id, "abc123");
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            field_of(r#"{"cluster":"p","service":"w","task_id":"t","session_id":"s"}"#).as_deref(),
            Some("event")
        );
        assert_eq!(
            field_of(&OK.replace("\"start\"", "\"begin\"")).as_deref(),
            Some("event")
        );
        assert_eq!(
            field_of(&OK.replace("\"prod\"", "42")).as_deref(),
            Some("cluster")
        );
        assert_eq!(
            field_of(&OK.replace("\"web\"", "\"a/b\"")).as_deref(),
            Some("service")
        );
        assert_eq!(
            field_of(&OK.replace("\"t1\"", "\"t#1\"")).as_deref(),
            Some("task_id")
        );
        assert_eq!(
            field_of(&OK.replace("\"s1\"", "\"\"")).as_deref(),
            Some("session_id")
        );
        assert_eq!(
            field_of(&OK.replace("}", r#","ttl_seconds":0}"#)).as_deref(),
            Some("ttl_seconds")
        );
        assert_eq!(
            field_of(&OK.replace("}", r#","ttl_seconds":-5}"#)).as_deref(),
            Some("ttl_seconds")
        );
        assert_eq!(
            field_of(&OK.replace("}", r#","colour":"red"}"#)).as_deref(),
            Some("colour")
        );
        assert_eq!(
            field_of(&OK.replace("\"start\"", "\"heartbeat\"")).as_deref(),
            Some("ttl_seconds")
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_names_no_field() {
        let bad = parse("[1,2]").unwrap_err();
        assert_eq!(bad.field, None);
        assert!(bad.message.contains("JSON object"));
        assert_eq!(parse("{not json").unwrap_err().field, None);
    }
}
