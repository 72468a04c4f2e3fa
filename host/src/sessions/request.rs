//! The body of `POST /v1/sessions`: a JSON object tagged by `event`,
//! deserialized into [`Request`] (unknown fields refused), then validated into
//! a [`SessionEvent`]. Every refusal names the field at fault.

use serde::{Deserialize, Deserializer};

use super::schema::SessionKey;

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
    /// The heartbeat deadline from now, in seconds (required on start and heartbeat).
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

/// The request body as sent.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Request {
    Start(Live),
    Heartbeat(Live),
    End(Ending),
}

/// A start or heartbeat: `ttl_seconds` is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Live {
    #[serde(deserialize_with = "cluster")]
    cluster: String,
    #[serde(deserialize_with = "service")]
    service: String,
    #[serde(deserialize_with = "task_id")]
    task_id: String,
    #[serde(deserialize_with = "session_id")]
    session_id: String,
    #[serde(deserialize_with = "ttl_seconds")]
    ttl_seconds: u64,
}

/// An end: `ttl_seconds` is accepted and ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ending {
    #[serde(deserialize_with = "cluster")]
    cluster: String,
    #[serde(deserialize_with = "service")]
    service: String,
    #[serde(deserialize_with = "task_id")]
    task_id: String,
    #[serde(deserialize_with = "session_id")]
    session_id: String,
    #[serde(default, rename = "ttl_seconds")]
    _ttl_seconds: serde::de::IgnoredAny,
}

fn text<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<String, D::Error> {
    String::deserialize(d).map_err(|e| serde::de::Error::custom(format!("{field}: {e}")))
}
fn cluster<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, "cluster")
}
fn service<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, "service")
}
fn task_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, "task_id")
}
fn session_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, "session_id")
}
fn ttl_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    u64::deserialize(d).map_err(|e| {
        serde::de::Error::custom(format!(
            "ttl_seconds: must be a whole number of seconds: {e}"
        ))
    })
}

/// The field a serde error is about: ours start with `field: `; serde's own
/// name it in backquotes (`missing field `x``, `unknown field `x``,
/// `unknown variant `x``, which is about `event`).
fn field_of(message: &str) -> Option<String> {
    if let Some((field, _)) = message.split_once(": ")
        && !field.is_empty()
        && field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Some(field.to_string());
    }
    if message.starts_with("unknown variant") || message.contains("`event`") {
        return Some("event".into());
    }
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

impl SessionEvent {
    /// Parses and validates a request body; `max_ttl` bounds `ttl_seconds`.
    pub fn parse(body: &[u8], max_ttl: u32) -> Result<SessionEvent, BadRequest> {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| BadRequest {
            field: None,
            message: format!("the body is not valid JSON: {e}"),
        })?;
        if !value.is_object() {
            return Err(BadRequest {
                field: None,
                message: "the body must be a JSON object".into(),
            });
        }
        let request = Request::deserialize(value).map_err(|e| {
            let message = e.to_string();
            match field_of(&message) {
                Some(field) if message.starts_with(&format!("{field}: ")) => BadRequest {
                    field: Some(field),
                    message,
                },
                Some(field) => BadRequest::field(&field, message),
                None => BadRequest {
                    field: None,
                    message,
                },
            }
        })?;
        let (kind, cluster, service, task, session, ttl) = match request {
            Request::Start(l) => (
                EventKind::Start,
                l.cluster,
                l.service,
                l.task_id,
                l.session_id,
                Some(l.ttl_seconds),
            ),
            Request::Heartbeat(l) => (
                EventKind::Heartbeat,
                l.cluster,
                l.service,
                l.task_id,
                l.session_id,
                Some(l.ttl_seconds),
            ),
            Request::End(e) => (
                EventKind::End,
                e.cluster,
                e.service,
                e.task_id,
                e.session_id,
                None,
            ),
        };
        let key = SessionKey {
            cluster: name(&cluster, "cluster")?,
            service: name(&service, "service")?,
            task_id: name(&task, "task_id")?,
            session_id: valid_session_id(session)?,
        };
        let ttl_seconds = match ttl {
            Some(n) if (1..=u64::from(max_ttl)).contains(&n) => Some(n as u32),
            Some(_) => {
                return Err(BadRequest::field(
                    "ttl_seconds",
                    format!(
                        "must be a whole number of seconds from 1 to {max_ttl} (the host's `ingest.max_ttl`)"
                    ),
                ));
            }
            None => None,
        };
        Ok(SessionEvent {
            kind,
            key,
            ttl_seconds,
        })
    }
}

/// A cluster, service or task name: an ARN is reduced to its last part.
pub(super) fn name(raw: &str, field: &str) -> Result<String, BadRequest> {
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

fn valid_session_id(raw: String) -> Result<String, BadRequest> {
    if raw.is_empty() || raw.len() > 512 || raw.chars().any(crate::escape::is_unsafe_char) {
        return Err(BadRequest::field(
            "session_id",
            "must be 1 to 512 bytes without control, bidi or invisible formatting characters",
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<SessionEvent, BadRequest> {
        SessionEvent::parse(body.as_bytes(), 3600)
    }

    const OK: &str = r#"{"event":"start","cluster":"prod","service":"web","task_id":"t1","session_id":"s1","ttl_seconds":60}"#;

    #[test]
    fn a_valid_start_parses() {
        let e = parse(OK).unwrap();
        assert_eq!(e.kind, EventKind::Start);
        assert_eq!(e.key.sort_key(), "t1#s1");
        assert_eq!(e.ttl_seconds, Some(60));
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
        let cases = [
            (
                r#"{"cluster":"p","service":"w","task_id":"t","session_id":"s"}"#.to_string(),
                "event",
            ),
            (OK.replace("\"start\"", "\"begin\""), "event"),
            (OK.replace("\"prod\"", "42"), "cluster"),
            (OK.replace("\"web\"", "\"a/b\""), "service"),
            (OK.replace("\"t1\"", "\"t#1\""), "task_id"),
            (OK.replace("\"s1\"", "\"\""), "session_id"),
            (OK.replace("\"s1\"", "\"s\\u202egnp.exe\""), "session_id"),
            (OK.replace("\"s1\"", "\"s\u{200b}1\""), "session_id"),
            (OK.replace("\"s1\"", "\"s\\u001b[2J\""), "session_id"),
            (OK.replace("60", "0"), "ttl_seconds"),
            (OK.replace("60", "-5"), "ttl_seconds"),
            (OK.replace("60", "\"ten\""), "ttl_seconds"),
            (OK.replace("60", "3601"), "ttl_seconds"),
            (OK.replace(r#","ttl_seconds":60"#, ""), "ttl_seconds"),
            (OK.replace("}", r#","colour":"red"}"#), "colour"),
            (
                OK.replace(r#","ttl_seconds":60"#, "")
                    .replace("start", "heartbeat"),
                "ttl_seconds",
            ),
            (
                OK.replace(r#","session_id":"s1""#, "")
                    .replace("start", "end"),
                "session_id",
            ),
        ];
        for (body, want) in cases {
            let bad = parse(&body).unwrap_err();
            assert_eq!(bad.field.as_deref(), Some(want), "{body}: {}", bad.message);
            assert!(
                bad.message.starts_with(&format!("{want}: ")),
                "{}",
                bad.message
            );
        }
    }

    #[test]
    fn an_end_needs_no_ttl_and_ignores_one() {
        let end = r#"{"event":"end","cluster":"p","service":"w","task_id":"t","session_id":"s"}"#;
        assert_eq!(parse(end).unwrap().kind, EventKind::End);
        let with_ttl = end.replace("}", r#","ttl_seconds":5}"#);
        assert_eq!(parse(&with_ttl).unwrap().ttl_seconds, None);
    }

    #[test]
    fn a_body_that_is_not_an_object_names_no_field() {
        let bad = parse("[1,2]").unwrap_err();
        assert_eq!(bad.field, None);
        assert!(bad.message.contains("JSON object"));
        assert_eq!(parse("{not json").unwrap_err().field, None);
    }
}
