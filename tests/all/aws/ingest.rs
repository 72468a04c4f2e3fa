//! The session ingest API end to end: HTTP on 127.0.0.1 -> axum router ->
//! SessionStore -> moto DynamoDB, read back by the provider's Query.

use std::net::SocketAddr;
use std::sync::Arc;

use autoscaler::providers::{Clock, ServiceRef, Sessions};
use autoscaler::sessions::attr;
use autoscaler::sessions::ingest::router_with_clock;
use aws_sdk_dynamodb::types::AttributeValue;

use super::moto::{Reply, http};
use super::seed::World;

struct FixedClock(u64);

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0
    }
}

const NOW: u64 = 1_764_403_200;

/// Serves the ingest API on a free local port until the test ends.
async fn serve(world: &World, table: &str) -> SocketAddr {
    let app = router_with_clock(world.store(table), Arc::new(FixedClock(NOW)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn post(addr: SocketAddr, body: &str) -> Reply {
    http(
        addr,
        "POST",
        "/v1/sessions",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
    .unwrap()
}

fn event(event: &str, session: &str, extra: &str) -> String {
    format!(
        r#"{{"event":"{event}","cluster":"prod","service":"web","task_id":"t1","session_id":"{session}"{extra}}}"#
    )
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_start_heartbeat_end_are_idempotent_against_dynamodb() {
    let world = World::start().await;
    world.sessions_table("sessions").await;
    let addr = serve(&world, "sessions").await;

    let first = post(addr, &event("start", "s1", r#","ttl_seconds":120"#)).await;
    assert_eq!(
        (first.status, first.json()["outcome"].as_str()),
        (201, Some("started")),
        "{}",
        first.body
    );
    let again = post(addr, &event("start", "s1", r#","ttl_seconds":120"#)).await;
    assert_eq!(
        (again.status, again.json()["outcome"].as_str()),
        (200, Some("already_started")),
        "{}",
        again.body
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
    let addr = serve(&world, "sessions").await;

    let cases = [
        (
            r#"{"event":"start","cluster":"prod","service":"web","session_id":"s"}"#,
            Some("task_id"),
        ),
        (
            &event("start", "s", r#","ttl_seconds":"ten""#) as &str,
            Some("ttl_seconds"),
        ),
        (&event("heartbeat", "s", ""), Some("ttl_seconds")),
        (&event("stop", "s", ""), Some("event")),
        (&event("start", "s", r#","user":"bob""#), Some("user")),
        (
            r#"{"event":"start","cluster":"a b","service":"web","task_id":"t","session_id":"s"}"#,
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
    let huge = event("start", &"x".repeat(20_000), "");
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
    let addr = serve(&world, "absent").await;
    let reply = post(addr, &event("start", "s1", "")).await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    let error = reply.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("PutItem on table absent"),
        "the error names the call and the table: {error}"
    );
}
