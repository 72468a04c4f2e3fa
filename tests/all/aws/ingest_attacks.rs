//! The attacks of SECURITY.md against the ingest listener, each shown to
//! fail: a forged `end` (no token, a wrong token, a task that is not the
//! service's), slow headers holding connections open, floods of starts, an
//! open listener without tokens; and the same API over TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use autoscaler::config::Config;
use autoscaler::daemon::http as daemon_http;
use autoscaler::events::Events;
use autoscaler::sessions::SessionStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use super::ingest::{NOW, TOKEN, event_on, ingest_config, post_as, serve_config};
use super::moto::http;
use super::seed::World;

/// A store whose DynamoDB endpoint is a closed local port: for tests that never reach storage.
fn unreachable_store() -> SessionStore {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    SessionStore::new(aws_sdk_dynamodb::Client::from_conf(conf), "unused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_end_is_refused_without_a_token_with_a_wrong_token_and_for_a_foreign_task() {
    let world = World::start().await;
    world.sessions_table("sessions").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(dir.path(), "");
    let served = serve_config(world.store("sessions"), cfg, dir).await;
    let addr = served.addr;

    let start = post_as(
        addr,
        TOKEN,
        &event_on("t1", "start", "victim", r#","ttl_seconds":600"#),
    )
    .await;
    assert_eq!(start.status, 200, "{}", start.body);

    let end = event_on("t1", "end", "victim", "");
    let anonymous = post_as(addr, "", &end).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    assert!(
        anonymous.json()["error"]
            .as_str()
            .unwrap()
            .contains("Authorization")
    );
    let wrong = post_as(addr, "app-token-0123456789abcdeX", &end).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));

    // With the token, but for a task that is not one of the service's, or a service not configured.
    let foreign = post_as(addr, TOKEN, &event_on("t-elsewhere", "end", "victim", "")).await;
    assert_eq!(
        (foreign.status, foreign.json()["field"].as_str()),
        (422, Some("task_id")),
        "{}",
        foreign.body
    );
    let other_service = post_as(addr, TOKEN, &end.replace("\"web\"", "\"admin\"")).await;
    assert_eq!(
        (other_service.status, other_service.json()["field"].as_str()),
        (422, Some("service")),
        "{}",
        other_service.body
    );
    assert_eq!(
        world.items("sessions").await.len(),
        1,
        "no forged end removed the session"
    );

    let legit = post_as(addr, TOKEN, &end).await;
    assert_eq!(
        (legit.status, legit.json()["outcome"].as_str()),
        (200, Some("ended")),
        "{}",
        legit.body
    );
    assert!(world.items("sessions").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_the_first_gather_and_can_be_bound_to_the_tasks_own_ip() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(dir.path(), "bind_source_ip = true\n");
    let served = serve_config(unreachable_store(), cfg, dir).await;
    let addr = served.addr;
    // prod/api is configured but not gathered yet.
    let early = post_as(
        addr,
        TOKEN,
        &event_on("t1", "end", "s", "").replace("\"web\"", "\"api\""),
    )
    .await;
    assert_eq!(early.status, 503, "{}", early.body);
    assert!(early.header("retry-after").is_some(), "{}", early.head);
    // t2's private IP is 10.0.0.2; the test sends from 127.0.0.1.
    let spoofed = post_as(addr, TOKEN, &event_on("t2", "end", "s", "")).await;
    assert_eq!(
        (spoofed.status, spoofed.json()["field"].as_str()),
        (403, Some("task_id")),
        "{}",
        spoofed.body
    );
    // t1's private IP is 127.0.0.1: the check passes and the request reaches storage (unreachable here).
    let own = post_as(addr, TOKEN, &event_on("t1", "end", "s", "")).await;
    assert!(
        own.status == 500 || own.status == 503,
        "past the checks, to storage: {} {}",
        own.status,
        own.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_starts_meets_429_and_the_store_stays_bounded() {
    let world = World::start().await;
    world.sessions_table("sessions").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(
        dir.path(),
        "max_sessions_per_task = 5\nmax_sessions_per_service = 8\nrate_per_second = 1000\nrate_burst = 1000\n",
    );
    let served = serve_config(world.store("sessions"), cfg, dir).await;
    let addr = served.addr;
    let mut refused = Vec::new();
    for (task, n) in [("t1", 20), ("t2", 20)] {
        for i in 0..n {
            let r = post_as(
                addr,
                TOKEN,
                &event_on(
                    task,
                    "start",
                    &format!("flood-{i}"),
                    r#","ttl_seconds":600"#,
                ),
            )
            .await;
            match r.status {
                200 => {}
                429 => refused.push((task, r.json()["limit"].as_str().unwrap().to_string())),
                other => panic!("{task} start {i}: {other} {}", r.body),
            }
        }
    }
    assert_eq!(refused.len(), 32, "{refused:?}");
    assert_eq!(
        refused
            .iter()
            .filter(|(t, l)| *t == "t1" && l == "max_sessions_per_task")
            .count(),
        15
    );
    assert_eq!(
        refused
            .iter()
            .filter(|(t, l)| *t == "t2" && l == "max_sessions_per_service")
            .count(),
        17
    );
    assert_eq!(world.items("sessions").await.len(), 8, "5 on t1, 3 on t2");

    // An end frees a place on the task.
    let end = post_as(addr, TOKEN, &event_on("t1", "end", "flood-0", "")).await;
    assert_eq!(end.status, 200, "{}", end.body);
    let again = post_as(
        addr,
        TOKEN,
        &event_on("t1", "start", "late", r#","ttl_seconds":60"#),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(world.items("sessions").await.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_ttl_starts_cannot_pile_up_items_beyond_the_caps() {
    use autoscaler::sessions::tasks::TaskView;
    let world = World::start().await;
    world.sessions_table("sessions").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(
        dir.path(),
        "max_sessions_per_task = 5\nmax_sessions_per_service = 8\nrate_per_second = 1000\nrate_burst = 1000\n",
    );
    let store = world.store("sessions");
    let served = serve_config(store.clone(), cfg, dir).await;
    // The listener's clock stands at NOW, so each start expires at NOW + 1;
    // each round's gather counts at NOW + 10, when all have expired.
    for round in 0..4 {
        let mut admitted = 0;
        for i in 0..10 {
            let r = post_as(
                served.addr,
                TOKEN,
                &event_on(
                    "t1",
                    "start",
                    &format!("r{round}-{i}"),
                    r#","ttl_seconds":1"#,
                ),
            )
            .await;
            match r.status {
                200 => admitted += 1,
                429 => {}
                other => panic!("round {round} start {i}: {other} {}", r.body),
            }
        }
        assert_eq!(admitted, 5, "round {round}: the per-task cap");
        let stored = world.items("sessions").await.len();
        assert!(stored <= 5, "round {round}: {stored} items stored");
        // The gather: counts (deleting the expired items) and publishes.
        let counts = store.count_active("prod", "web", NOW + 10).await.unwrap();
        assert!(counts.is_empty(), "{counts:?}");
        assert_eq!(world.items("sessions").await.len(), 0, "round {round}");
        served.tasks.publish(
            "prod/web",
            NOW,
            ["t1", "t2"].map(|id| TaskView {
                id: id.into(),
                ip: Some(std::net::IpAddr::from([127, 0, 0, 1])),
                sessions: 0,
            }),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_one_address_meets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(dir.path(), "rate_per_second = 1\nrate_burst = 5\n");
    let served = serve_config(unreachable_store(), cfg, dir).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        // A foreign task: answered 422 without storage, so only the rate limit varies.
        let r = post_as(served.addr, TOKEN, &event_on("nope", "end", "s", "")).await;
        if r.status == 429 {
            retry_after = r.header("retry-after").map(str::to_string);
            assert_eq!(r.json()["limit"], "rate_per_second", "{}", r.body);
        }
        statuses.push(r.status);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 14, "{statuses:?}");
    assert!(statuses[..5].iter().all(|s| *s == 422), "{statuses:?}");
    let secs: u64 = retry_after.expect("a Retry-After header").parse().unwrap();
    assert!((1..=2).contains(&secs), "{secs}");
}

async fn healthz(addr: std::net::SocketAddr) -> u16 {
    match tokio::time::timeout(
        Duration::from_secs(2),
        http(addr, "GET", "/healthz", &[], b""),
    )
    .await
    {
        Ok(Ok(r)) => r.status,
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_after_the_header_timeout_and_healthz_answers_throughout() {
    const FLOOD: usize = 300;
    const CAP: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(
        dir.path(),
        &format!(
            "header_timeout = \"2s\"\nmax_connections = {CAP}\nmax_connections_per_source = {FLOOD}\n"
        ),
    );
    let served = serve_config(unreachable_store(), cfg, dir).await;
    let addr = served.addr;

    // The [http] endpoint on its own port, as `autoscaler run` serves it.
    let board = autoscaler::daemon::Board::default();
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http_listener.local_addr().unwrap();
    tokio::spawn(daemon_http::serve(
        http_listener,
        daemon_http::router(board, Events::new()),
        std::future::pending(),
    ));

    let opened = Instant::now();
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        flood.push(s);
    }
    // Each connection trickles a header line every 300 ms and never finishes; note when the server closes it.
    let mut waits = Vec::new();
    for (i, mut s) in flood.into_iter().enumerate() {
        waits.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            loop {
                tokio::select! {
                    read = s.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return opened.elapsed(),
                        Ok(_) => {}
                    },
                    _ = tokio::time::sleep(Duration::from_millis(300)) => {
                        if s.write_all(format!("X-Slow-{i}: a\r\n").as_bytes()).await.is_err() {
                            return opened.elapsed();
                        }
                    }
                }
                if opened.elapsed() > Duration::from_secs(15) {
                    return Duration::MAX;
                }
            }
        }));
    }
    // /healthz on [http] answers while the flood holds the ingest port.
    for _ in 0..4 {
        assert_eq!(healthz(http_addr).await, 200, "/healthz during the flood");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let mut closed_at = Vec::new();
    for w in waits {
        closed_at.push(w.await.unwrap());
    }
    closed_at.sort();
    let early = closed_at
        .iter()
        .filter(|d| **d < Duration::from_millis(1500))
        .count();
    assert!(
        early >= FLOOD - CAP,
        "connections over max_connections are closed at once: {early} of {FLOOD}"
    );
    let slowest = *closed_at.last().unwrap();
    assert!(
        slowest >= Duration::from_secs(2) && slowest < Duration::from_secs(6),
        "every slow connection is closed soon after the 2 s header timeout, though it kept sending: slowest {slowest:?}"
    );
    assert_eq!(healthz(http_addr).await, 200);
    // Afterwards the ingest port serves again.
    let r = post_as(addr, TOKEN, &event_on("nope", "end", "s", "")).await;
    assert_eq!(r.status, 422, "{}", r.body);
}

/// Whether the server closed `s` within `wait` (nothing is sent on it).
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_at_most_max_connections_per_source_while_global_slots_are_free() {
    const PER_SOURCE: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(
        dir.path(),
        &format!("max_connections = 100\nmax_connections_per_source = {PER_SOURCE}\n"),
    );
    let served = serve_config(unreachable_store(), cfg, dir).await;
    let mut held = Vec::new();
    for _ in 0..PER_SOURCE {
        held.push(TcpStream::connect(served.addr).await.unwrap());
    }
    // Let the server accept them before the next one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(served.addr).await.unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(2)).await,
        "connection {} from one address is closed at once",
        PER_SOURCE + 1
    );
    for s in &mut held {
        assert!(
            !closed_within(s, Duration::from_millis(100)).await,
            "the first {PER_SOURCE} stay open"
        );
    }
    // One closes: the address gets its slot back.
    held.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = post_as(served.addr, TOKEN, &event_on("nope", "end", "s", "")).await;
    assert_eq!(r.status, 422, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_pipelines_and_never_reads_is_dropped_after_the_connection_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    // Lifetime: 1 s + 1 s + 5 s = 7 s, then GRACE (2 s) to finish an answer.
    let cfg = ingest_config(
        dir.path(),
        "header_timeout = \"1s\"\nrequest_timeout = \"1s\"\nmax_connections_per_source = 1\n",
    );
    let served = serve_config(unreachable_store(), cfg, dir).await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut s = sock.connect(served.addr).await.unwrap();
    let opened = Instant::now();
    // Pipelines requests and never reads their answers: the server's writes
    // block, and then so do ours; the server dropping the socket fails them.
    let writer = tokio::spawn(async move {
        let req = b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".repeat(64);
        loop {
            match tokio::time::timeout(Duration::from_secs(1), s.write_all(&req)).await {
                Ok(Err(_)) => return opened.elapsed(),
                _ if opened.elapsed() > Duration::from_secs(25) => return Duration::MAX,
                _ => {}
            }
        }
    });
    // While it holds the address's one connection, another is closed at once
    // (well within the 1 s header timeout).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut other = TcpStream::connect(served.addr).await.unwrap();
    assert!(closed_within(&mut other, Duration::from_millis(500)).await);
    let dropped = writer.await.unwrap();
    assert!(
        dropped >= Duration::from_secs(6) && dropped < Duration::from_secs(14),
        "the non-reading client is dropped soon after the 7 s lifetime: {dropped:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = post_as(served.addr, TOKEN, &event_on("nope", "end", "s", "")).await;
    assert_eq!(r.status, 422, "{}", r.body);
}

#[test]
fn a_listener_reachable_from_other_hosts_without_tokens_is_refused_naming_tokens_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[provider]\nkind = \"aws\"\n\n[[service]]\nname = \"web\"\ncluster = \"prod\"\ntarget_group = \"tg\"\npolicy = \"p.wasm\"\n";
    let empty = dir.path().join("empty-tokens");
    std::fs::write(&empty, "# no tokens yet\n\n").unwrap();
    for (ingest, want) in [
        ("listen = \"0.0.0.0:9443\"\n".to_string(), "tokens_file"),
        (
            format!("listen = \"10.0.0.7:9443\"\ntokens_file = {empty:?}\n"),
            "holds no token",
        ),
    ] {
        let path = dir.path().join("autoscaler.toml");
        let text = format!("[ingest]\n{ingest}\n{base}");
        let err = Config::parse(&text, &path).unwrap_err().to_string();
        assert!(err.contains("field `ingest.tokens_file`"), "{err}");
        assert!(err.contains(want), "{err}");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_api_works_over_tls_with_a_self_signed_certificate() {
    let world = World::start().await;
    world.sessions_table("sessions").await;
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let cfg = ingest_config(
        dir.path(),
        &format!("tls_cert = {cert_path:?}\ntls_key = {key_path:?}\n"),
    );
    let served = serve_config(world.store("sessions"), cfg, dir).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(served.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let body = event_on("t1", "start", "over-tls", r#","ttl_seconds":60"#);
    let request = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(r#"{"accepting":true,"outcome":"started"}"#),
        "{answer}"
    );
    assert_eq!(world.items("sessions").await.len(), 1);

    // Plain HTTP on the TLS port gets no answer.
    let plain = http(served.addr, "POST", "/v1/sessions", &[], body.as_bytes()).await;
    assert!(plain.is_err() || plain.unwrap().status != 200);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscaler_run_serves_sessions_only_on_the_ingest_port_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let (http_port, ingest_port) = (free_port(), free_port());
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    // AWS is a closed local port: no gather succeeds, so no service is ever gathered.
    let cfg = dir.path().join("autoscaler.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"state\"\ncache_dir = \"cache\"\n\n[http]\nlisten = \"127.0.0.1:{http_port}\"\n\n\
             [ingest]\nlisten = \"127.0.0.1:{ingest_port}\"\ntokens_file = {tokens:?}\n\n\
             [provider]\nkind = \"aws\"\nendpoint_url = \"http://127.0.0.1:9\"\n\n\
             [[service]]\nname = \"web\"\ncluster = \"prod\"\ntarget_group = \"tg\"\npolicy = {:?}\n",
            autoscaler::artifacts::SESSION_AWARE
        ),
    )
    .unwrap();
    let mut host = super::process::Host::start(&cfg, dir.path(), dir.path().join("host.log"));
    let http_addr: std::net::SocketAddr = ([127, 0, 0, 1], http_port).into();
    let ingest_addr: std::net::SocketAddr = ([127, 0, 0, 1], ingest_port).into();
    let deadline = Instant::now() + Duration::from_secs(90);
    while healthz(http_addr).await != 200 {
        host.assert_running();
        assert!(
            Instant::now() < deadline,
            "no /healthz; log:\n{}",
            host.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = event_on("t1", "end", "s", "");
    let on_http = http(
        http_addr,
        "POST",
        "/v1/sessions",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(
        on_http.status, 404,
        "[http] serves no session route: {}",
        on_http.body
    );
    let mut ingest_up = false;
    for _ in 0..50 {
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(ingest_addr)).await
        {
            ingest_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ingest_up,
        "the ingest port listens; log:\n{}",
        host.log_text()
    );
    assert_eq!(post_as(ingest_addr, "", &body).await.status, 401);
    let early = post_as(ingest_addr, TOKEN, &body).await;
    assert_eq!(early.status, 503, "not gathered yet: {}", early.body);
    let foreign = post_as(ingest_addr, TOKEN, &body.replace("\"web\"", "\"admin\"")).await;
    assert_eq!(
        (foreign.status, foreign.json()["field"].as_str()),
        (422, Some("service")),
        "{}",
        foreign.body
    );
    let services = http(http_addr, "GET", "/v1/services", &[], b"")
        .await
        .unwrap();
    assert_eq!(services.status, 200, "[http] keeps /v1/services");
    host.assert_running();
}
