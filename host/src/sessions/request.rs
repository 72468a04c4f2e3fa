//! The body of `POST /v1/sessions`: a JSON object tagged by `event`,
//! deserialized straight from the bytes into [`Request`] (unknown fields
//! refused), then validated into a [`SessionEvent`]. Every refusal names the
//! field at fault.

use serde::{Deserialize, Deserializer};

use super::schema::SessionKey;

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// It started; its first heartbeat is due within `ttl_seconds`.
    Start {
        /// The heartbeat deadline from now, in seconds.
        ttl_seconds: u32,
    },
    /// It is still alive; its next heartbeat is due within `ttl_seconds`.
    Heartbeat {
        /// The heartbeat deadline from now, in seconds.
        ttl_seconds: u32,
    },
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
        serde_json::from_slice::<Request>(body)
            .map_err(|e| refusal(body, &e))?
            .validate(max_ttl)
    }
}

/// Why `body` did not deserialize: not JSON, not an object, or the field at fault.
fn refusal(body: &[u8], e: &serde_json::Error) -> BadRequest {
    if !e.is_data() {
        return BadRequest {
            field: None,
            message: format!("the body is not valid JSON: {e}"),
        };
    }
    // Other JSON (an array, a string) fails as the wrong type.
    if !body.trim_ascii_start().starts_with(b"{") {
        return BadRequest {
            field: None,
            message: "the body must be a JSON object".into(),
        };
    }
    // The field is named in the message; where in the body is not needed.
    let message = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = message
        .strip_suffix(&position)
        .map_or(message.clone(), str::to_string);
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
}

impl Request {
    /// The event, once its names, session ID and `ttl_seconds` are valid.
    fn validate(&self, max_ttl: u32) -> Result<SessionEvent, BadRequest> {
        let (key, kind) = match self {
            Request::Start(l) => (
                l.key()?,
                EventKind::Start {
                    ttl_seconds: valid_ttl(l.ttl_seconds, max_ttl)?,
                },
            ),
            Request::Heartbeat(l) => (
                l.key()?,
                EventKind::Heartbeat {
                    ttl_seconds: valid_ttl(l.ttl_seconds, max_ttl)?,
                },
            ),
            Request::End(e) => (
                session_key(&e.cluster, &e.service, &e.task_id, &e.session_id)?,
                EventKind::End,
            ),
        };
        Ok(SessionEvent { kind, key })
    }
}

impl Live {
    fn key(&self) -> Result<SessionKey, BadRequest> {
        session_key(
            &self.cluster,
            &self.service,
            &self.task_id,
            &self.session_id,
        )
    }
}

fn session_key(
    cluster: &str,
    service: &str,
    task_id: &str,
    session_id: &str,
) -> Result<SessionKey, BadRequest> {
    Ok(SessionKey {
        cluster: name(cluster, "cluster")?,
        service: name(service, "service")?,
        task_id: name(task_id, "task_id")?,
        session_id: valid_session_id(session_id)?,
    })
}

fn valid_ttl(n: u64, max_ttl: u32) -> Result<u32, BadRequest> {
    if (1..=u64::from(max_ttl)).contains(&n) {
        return Ok(n as u32);
    }
    Err(BadRequest::field(
        "ttl_seconds",
        format!(
            "must be a whole number of seconds from 1 to {max_ttl} (the host's `ingest.max_ttl`)"
        ),
    ))
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

fn valid_session_id(raw: &str) -> Result<String, BadRequest> {
    if raw.is_empty() || raw.len() > 512 || raw.chars().any(crate::escape::is_unsafe_char) {
        return Err(BadRequest::field(
            "session_id",
            "must be 1 to 512 bytes without control, bidi or invisible formatting characters",
        ));
    }
    Ok(raw.to_string())
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
        assert_eq!(e.kind, EventKind::Start { ttl_seconds: 60 });
        assert_eq!(e.key.sort_key(), "t1#s1");
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
        assert_eq!(parse(&with_ttl).unwrap().kind, EventKind::End);
    }

    #[test]
    fn a_body_that_is_not_an_object_names_no_field() {
        let bad = parse("[1,2]").unwrap_err();
        assert_eq!(bad.field, None);
        assert!(bad.message.contains("JSON object"));
        assert_eq!(bad.message, "the body must be a JSON object");
        let bad = parse("{not json").unwrap_err();
        assert_eq!(bad.field, None);
        assert!(
            bad.message.starts_with("the body is not valid JSON: "),
            "{}",
            bad.message
        );
        assert_eq!(parse("\"text\"").unwrap_err().field, None);
    }

    #[test]
    fn a_refusal_does_not_carry_a_position_in_the_body() {
        let bad = parse(&OK.replace("\"prod\"", "42")).unwrap_err();
        assert!(!bad.message.contains(" at line "), "{}", bad.message);
    }
}
