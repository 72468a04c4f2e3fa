//! The session ingest API end to end: HTTP on 127.0.0.1 -> its own listener
//! (`sessions::server`) -> axum router -> SessionStore -> moto DynamoDB, read
//! back by the provider's Query. The attacks of SECURITY.md are in
//! `ingest_attacks`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use autoscaler::providers::{Clock, ServiceRef, Sessions};
use autoscaler::sessions::ingest::{Ingest, router};
use autoscaler::sessions::server::{self, Listener};
use autoscaler::sessions::tasks::{CurrentTasks, TaskView};
use autoscaler::sessions::tokens::TokensFile;
use autoscaler::sessions::{IngestConfig, SessionStore, attr};
use aws_sdk_dynamodb::types::AttributeValue;

use super::moto::{Reply, http};
use super::seed::World;

struct FixedClock(u64);

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0
    }
}

pub const NOW: u64 = 1_764_403_200;
/// The token the tests' applications hold.
pub const TOKEN: &str = "app-token-0123456789abcdef";

/// An ingest listener on a free local port, served until the test ends.
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The current tasks the listener admits events for (publish to simulate a gather).
    pub tasks: CurrentTasks,
    /// Holds the tokens file (and certificates) until the test ends.
    pub _dir: tempfile::TempDir,
}

/// `[ingest]` for the tests: loopback with a tokens file of [`TOKEN`], plus `extra` lines.
pub fn ingest_config(dir: &std::path::Path, extra: &str) -> IngestConfig {
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("# the tests' token\n{TOKEN}\n")).unwrap();
    let text = format!("listen = \"127.0.0.1:0\"\ntokens_file = {tokens:?}\n{extra}");
    let cfg: IngestConfig = toml::from_str(&text).unwrap();
    cfg
}

/// Serves `cfg` over `store`, with `prod/web` gathered with tasks t1 and t2
/// (private IP 127.0.0.1 and 10.0.0.2) and `prod/api` configured but not gathered yet.
pub async fn serve_config(
    store: SessionStore,
    cfg: IngestConfig,
    dir: tempfile::TempDir,
) -> Served {
    let tasks = CurrentTasks::new(["prod/web", "prod/api"]);
    tasks.publish(
        "prod/web",
        NOW,
        [
            TaskView {
                id: "t1".into(),
                ip: Some(IpAddr::from([127, 0, 0, 1])),
                sessions: 0,
            },
            TaskView {
                id: "t2".into(),
                ip: Some(IpAddr::from([10, 0, 0, 2])),
                sessions: 0,
            },
        ],
    );
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(server::tls_acceptor(c, k).unwrap()),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let opts = Listener::from_config(&cfg, tls);
    let app = router(Ingest {
        store,
        clock: Arc::new(FixedClock(NOW)),
        tasks: tasks.clone(),
        tokens: Some(TokensFile::open(cfg.tokens_file.as_ref().unwrap()).unwrap()),
        config: cfg,
    });
    tokio::spawn(server::serve(listener, app, opts, std::future::pending()));
    Served {
        addr,
        tasks,
        _dir: dir,
    }
}

/// Serves the ingest API over `table` with the default limits.
async fn serve(world: &World, table: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(dir.path(), "");
    serve_config(world.store(table), cfg, dir).await
}

/// POSTs `body` with `Authorization: Bearer token` (none if `token` is empty).
pub async fn post_as(addr: SocketAddr, token: &str, body: &str) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Content-Type", "application/json")];
    if !token.is_empty() {
        headers.push(("Authorization", &auth));
    }
    http(addr, "POST", "/v1/sessions", &headers, body.as_bytes())
        .await
        .unwrap()
}

async fn post(addr: SocketAddr, body: &str) -> Reply {
    post_as(addr, TOKEN, body).await
}

/// A request body for session `session` of task `task` of prod/web.
pub fn event_on(task: &str, event: &str, session: &str, extra: &str) -> String {
    format!(
        r#"{{"event":"{event}","cluster":"prod","service":"web","task_id":"{task}","session_id":"{session}"{extra}}}"#
    )
}

fn event(event: &str, session: &str, extra: &str) -> String {
    event_on("t1", event, session, extra)
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_start_heartbeat_end_are_idempotent_against_dynamodb() {
    let world = World::start().await;
    world.sessions_table("sessions").await;
    // Kept until the end: it holds the tokens file (a deleted one accepts no token).
    let served = serve(&world, "sessions").await;
    let addr = served.addr;

    let first = post(addr, &event("start", "s1", r#","ttl_seconds":120"#)).await;
    assert_eq!(
        (first.status, first.json()["outcome"].as_str()),
        (200, Some("started")),
        "{}",
        first.body
    );
    let again = post(addr, &event("start", "s1", r#","ttl_seconds":120"#)).await;
    assert_eq!(
        (again.status, again.body.as_str()),
        (first.status, first.body.as_str()),
        "a repeated start answers exactly as the first: no oracle of existing sessions"
    );
    let items = world.items("sessions").await;
    assert_eq!(items.len(), 1, "a repeated start leaves one item");
    assert_eq!(items[0][attr::SERVICE].as_s().unwrap(), "prod/web");
    assert_eq!(items[0][attr::TASK_SESSION].as_s().unwrap(), "t1#s1");
    assert_eq!(
        (
            number(&items[0], attr::STARTED_AT),
            number(&items[0], attr::EXPIRES_AT)
        ),
        (NOW, NOW + 120)
    );

    let svc = ServiceRef {
        cluster: "prod".into(),
        service: "web".into(),
        target_group: "unused".into(),
    };
    let provider = world.provider("sessions");
    assert_eq!(
        provider
            .sessions_by_task(&svc, NOW)
            .await
            .unwrap()
            .get("t1"),
        Some(&1),
        "the reader sees the writer's item"
    );

    let beat = post(addr, &event("heartbeat", "s1", r#","ttl_seconds":300"#)).await;
    assert_eq!(
        (beat.status, beat.json()["expires_at"].as_u64()),
        (200, Some(NOW + 300)),
        "{}",
        beat.body
    );
    assert_eq!(
        number(&world.items("sessions").await[0], attr::EXPIRES_AT),
        NOW + 300
    );

    let unknown = post(addr, &event("heartbeat", "s2", r#","ttl_seconds":300"#)).await;
    assert_eq!(
        (unknown.status, unknown.json()["field"].as_str()),
        (404, Some("session_id")),
        "{}",
        unknown.body
    );
    assert_eq!(
        world.items("sessions").await.len(),
        1,
        "a heartbeat never creates a session"
    );

    let end = post(addr, &event("end", "s1", "")).await;
    assert_eq!(
        (end.status, end.json()["outcome"].as_str()),
        (200, Some("ended")),
        "{}",
        end.body
    );
    assert!(
        world.items("sessions").await.is_empty(),
        "end removes the item"
    );
    let end = post(addr, &event("end", "s1", "")).await;
    assert_eq!(
        (end.status, end.json()["outcome"].as_str()),
        (200, Some("already_ended")),
        "{}",
        end.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_refuses_malformed_requests_naming_the_field() {
    let world = World::start().await;
    world.sessions_table("sessions").await;
    // Kept until the end: it holds the tokens file (a deleted one accepts no token).
    let served = serve(&world, "sessions").await;
    let addr = served.addr;

    let cases = [
        (
            r#"{"event":"start","cluster":"prod","service":"web","session_id":"s","ttl_seconds":60}"#,
            Some("task_id"),
        ),
        (
            &event("start", "s", r#","ttl_seconds":"ten""#) as &str,
            Some("ttl_seconds"),
        ),
        (&event("start", "s", ""), Some("ttl_seconds")),
        (&event("heartbeat", "s", ""), Some("ttl_seconds")),
        (
            &event("start", "s", r#","ttl_seconds":86400"#),
            Some("ttl_seconds"),
        ),
        (&event("stop", "s", ""), Some("event")),
        (
            &event("start", "s", r#","ttl_seconds":60,"user":"bob""#),
            Some("user"),
        ),
        (
            r#"{"event":"start","cluster":"a b","service":"web","task_id":"t","session_id":"s","ttl_seconds":60}"#,
            Some("cluster"),
        ),
        ("not json", None),
    ];
    for (body, field) in cases {
        let reply = post(addr, body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        let json = reply.json();
        assert_eq!(json["field"].as_str(), field, "{body}: {json}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{json}"
        );
    }
    let huge = event("start", &"x".repeat(20_000), r#","ttl_seconds":60"#);
    let reply = post(addr, &huge).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.json()["error"].as_str().is_some(), "{}", reply.body);
    assert!(
        world.items("sessions").await.is_empty(),
        "nothing malformed is written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_reports_a_missing_table_as_a_server_error() {
    let world = World::start().await;
    // Kept until the end: it holds the tokens file (a deleted one accepts no token).
    let served = serve(&world, "absent").await;
    let addr = served.addr;
    let reply = post(addr, &event("start", "s1", r#","ttl_seconds":60"#)).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    let error = reply.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("PutItem on table absent"),
        "the error names the call and the table: {error}"
    );
}
