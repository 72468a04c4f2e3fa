//! Policies and the config in S3, through the real `autoscaler run` on the
//! simulated cluster (so S3 is the only AWS it talks to), against moto: a
//! host started before its config exists waits for it (`--wait-for-config`);
//! the config and its policy are read from S3 at start; a replaced object is
//! loaded within `policy_poll` plus a tick; a broken object is refused and
//! the old policy keeps deciding; with S3 gone, the last good policy keeps
//! deciding and `/readyz` says so.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use autoscaler::remote::S3Url;
use autoscaler::remote::s3::S3Store;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::moto::{Moto, http};
use super::process::{Host, command};

const BUCKET: &str = "autoscaler-policies";
const POLL: Duration = Duration::from_secs(1);
/// One tick: `interval = "60s"` at `speed = 60`.
const TICK: Duration = Duration::from_secs(1);

pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub async fn bucket(moto: &Moto, name: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&moto.sdk_config())
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    client.create_bucket().bucket(name).send().await.unwrap();
    client
}

pub async fn put(moto: &Moto, url: &str, bytes: Vec<u8>) {
    let store = S3Store::from_sdk_config(&moto.sdk_config());
    let url = S3Url::parse(url).unwrap().unwrap();
    store.put(&url, bytes).await.unwrap();
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits (up to `limit`) until `f` holds, checking every 50 ms.
async fn wait_for(host: &mut Host, limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        host.assert_running();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the host's log:\n{}",
            host.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_in_s3_is_loaded_reloaded_refused_when_broken_and_kept_when_s3_is_gone() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cache = dir.path().join("cache");
    let port = free_port();
    bucket(&moto, BUCKET).await;
    let (sa, tt) = (
        std::fs::read(SESSION_AWARE).unwrap(),
        std::fs::read(TARGET_TRACKING).unwrap(),
    );
    // Compile target-tracking into the host's cache first, so the reload
    // below measures the poll and the swap, not Cranelift in a debug build.
    let warm = command(
        &[
            "policy".into(),
            "check".into(),
            TARGET_TRACKING.into(),
            "--cache-dir".into(),
            cache.clone().into(),
        ],
        None,
        dir.path(),
    )
    .output()
    .unwrap();
    assert!(warm.status.success(), "{warm:?}");

    // The config in S3 names its policy relative to its own S3 folder.
    let config = format!(
        r#"
state_dir = "{state}"
cache_dir = "{cache}"
[http]
listen = "127.0.0.1:{port}"
[provider]
kind = "sim"
speed = 60
[[service]]
name = "web"
cluster = "s3"
target_group = "web-tg"
interval = "60s"
policy = "policies/live.wasm"
policy_poll = "1s"
[service.sim]
initial_tasks = 2
"#,
        state = state.display(),
        cache = cache.display(),
    );
    let live = format!("s3://{BUCKET}/prod/policies/live.wasm");
    put(&moto, &live, sa.clone()).await;

    // Started before its config exists (as the CloudFormation stack does):
    // it waits for the config, then starts.
    let args: Vec<OsString> = vec![
        "run".into(),
        "--no-status".into(),
        "--wait-for-config".into(),
        "--config".into(),
        format!("s3://{BUCKET}/prod/autoscaler.toml").into(),
    ];
    let mut host = Host::start_with(
        &args,
        Some(&moto.endpoint()),
        dir.path(),
        dir.path().join("host.log"),
    );
    wait_for(
        &mut host,
        Duration::from_secs(60),
        "the wait for the config",
        || {
            std::fs::read_to_string(dir.path().join("host.log"))
                .unwrap_or_default()
                .contains("does not exist yet; asking again in 15 s")
        },
    )
    .await;
    put(
        &moto,
        &format!("s3://{BUCKET}/prod/autoscaler.toml"),
        config.into_bytes(),
    )
    .await;
    let decisions = state.join("decisions.jsonl");
    let reloads = state.join("reloads.jsonl");
    let policies = || -> Vec<String> {
        lines(&decisions)
            .iter()
            .map(|r| {
                r["policy"]["sha256"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };

    // 1. Config and policy from S3: session-aware decides.
    wait_for(
        &mut host,
        Duration::from_secs(120),
        "a decision by session-aware from S3",
        || policies().contains(&sha(&sa)),
    )
    .await;

    // 2. Replace the object: target-tracking decides within policy_poll plus a tick.
    put(&moto, &live, tt.clone()).await;
    let replaced = Instant::now();
    wait_for(
        &mut host,
        Duration::from_secs(30),
        "target-tracking to decide",
        || policies().last() == Some(&sha(&tt)),
    )
    .await;
    let took = replaced.elapsed();
    println!("replaced object to first decision by it: {took:?}");
    // Slack for a debug build on a busy machine: the compile is a cache hit.
    assert!(
        took <= POLL + TICK + Duration::from_millis(1500),
        "the reload took {took:?}, more than policy_poll ({POLL:?}) plus a tick ({TICK:?}) and 1.5 s of slack"
    );
    let swapped = lines(&reloads);
    let last = swapped.last().expect("a reload record");
    assert_eq!(last["path"], live.as_str());
    assert_eq!(last["old_sha256"], sha(&sa).as_str());
    assert_eq!(last["new_sha256"], sha(&tt).as_str());
    assert!(last["error"].is_null(), "{last}");

    // 3. A broken object is refused, recorded, and target-tracking keeps deciding.
    put(&moto, &live, b"not a policy".to_vec()).await;
    wait_for(
        &mut host,
        Duration::from_secs(30),
        "the broken object to be refused",
        || lines(&reloads).iter().any(|r| r["error"].is_string()),
    )
    .await;
    let refused = lines(&reloads)
        .into_iter()
        .find(|r| r["error"].is_string())
        .unwrap();
    assert_eq!(refused["path"], live.as_str());
    assert!(refused["new_sha256"].is_null(), "{refused}");
    assert_eq!(refused["old_sha256"], sha(&tt).as_str());
    let seen = policies().len();
    wait_for(
        &mut host,
        Duration::from_secs(30),
        "two more decisions",
        || policies().len() >= seen + 2,
    )
    .await;
    assert!(
        policies()[seen..].iter().all(|p| *p == sha(&tt)),
        "the old policy keeps deciding after a refused object"
    );

    // 4. S3 gone: the last good policy keeps deciding, and /readyz says so.
    let http_addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let ready = http(http_addr, "GET", "/readyz", &[], b"").await.unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert!(
        ready.json()["services"]["s3/web"]["warnings"].is_null(),
        "{}",
        ready.body
    );
    drop(moto);
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let reply = http(http_addr, "GET", "/readyz", &[], b"").await.unwrap();
        let body = reply.json();
        if body["services"]["s3/web"]["warnings"].is_array() {
            assert_eq!(reply.status, 200, "the service keeps autoscaling: {body}");
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never told of S3: {body}; log:\n{}",
            host.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let warning = body["services"]["s3/web"]["warnings"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        warning.contains(&live) && warning.contains("the last good policy keeps deciding"),
        "{warning}"
    );
    assert_eq!(body["ready"], true, "{body}");
    let seen = policies().len();
    wait_for(
        &mut host,
        Duration::from_secs(30),
        "two decisions without S3",
        || policies().len() >= seen + 2,
    )
    .await;
    assert!(policies()[seen..].iter().all(|p| *p == sha(&tt)));
    assert!(
        host.log_text()
            .contains("Cannot check the policy for changes"),
        "the log says so:\n{}",
        host.log_text()
    );
}
