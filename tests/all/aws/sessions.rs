//! DynamoDB sessions through the provider against moto: one Query per
//! service, counted per task, with expired heartbeats ignored and deleted by
//! the count (moto, like DynamoDB's lagging TTL, never deletes them itself)
//! and other services' items apart.

use autoscaler::providers::Sessions;
use autoscaler::sessions::list::{format_table, list_by_task};

use super::seed::{World, now, svc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_counts_sessions_per_task_ignoring_and_deleting_expired_items() {
    let world = World::start().await;
    let table = "sessions";
    world.sessions_table(table).await;
    let web = svc("prod", "web");
    let now = now();
    world
        .session(table, &web, "t1", "s1", now - 600, None)
        .await;
    world
        .session(table, &web, "t1", "s2", now - 60, Some(now + 60))
        .await;
    world
        .session(table, &web, "t1", "s3", now - 60, Some(now))
        .await; // deadline now: still counts
    world
        .session(table, &web, "t2", "s4", now - 900, Some(now - 1))
        .await; // expired
    world
        .session(table, &web, "t2", "s5", now - 30, Some(now + 30))
        .await;
    world
        .session(table, &web, "t3", "s6", now - 900, Some(now - 300))
        .await; // expired: t3 has none
    world
        .session(table, &svc("prod", "api"), "t9", "s7", now, None)
        .await;
    world
        .session(table, &svc("staging", "web"), "t8", "s8", now, None)
        .await;

    let provider = world.provider(table);
    let listed = list_by_task(provider.session_store(), "prod", "web", now)
        .await
        .unwrap();
    let summary: Vec<(&str, usize, usize)> = listed
        .iter()
        .map(|t| (t.task_id.as_str(), t.active.len(), t.expired.len()))
        .collect();
    assert_eq!(summary, [("t1", 3, 0), ("t2", 1, 1), ("t3", 0, 1)]);
    let table_text = format_table(&listed, now);
    assert!(
        table_text.ends_with("4 active sessions on 2 tasks; 2 expired and ignored.\n"),
        "{table_text}"
    );
    let queries = provider.calls().snapshot().calls("Query");
    let counts = provider.sessions_by_task(&web, now).await.unwrap();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(counts["t1"], 3);
    assert_eq!(counts["t2"], 1);
    assert_eq!(provider.calls().snapshot().calls("Query"), queries + 1);

    let by_arn = svc("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "web");
    assert_eq!(
        provider.sessions_by_task(&by_arn, now).await.unwrap(),
        counts,
        "the partition key uses the cluster name"
    );

    // Counting deleted the two expired items of prod/web (conditioned on their
    // deadline), so short-TTL starts cannot pile up until DynamoDB's TTL sweep.
    assert_eq!(provider.calls().snapshot().calls("DeleteItem"), 2);
    assert_eq!(world.items(table).await.len(), 6);
    let listed = list_by_task(provider.session_store(), "prod", "web", now)
        .await
        .unwrap();
    assert!(listed.iter().all(|t| t.expired.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_reads_every_page_of_a_large_service() {
    // 1 MB per Query page: 1,200 items of about 1 KB need at least two pages.
    let world = World::start().await;
    let table = "sessions";
    world.sessions_table(table).await;
    let web = svc("prod", "web");
    let now = now();
    let padding = "x".repeat(900);
    let sessions: Vec<(String, String)> = (0..1_200)
        .map(|i| (format!("t{}", i % 40), format!("s{i}-{padding}")))
        .collect();
    world.many_sessions(table, &web, &sessions, now).await;
    let provider = world.provider(table);
    let counts = provider.sessions_by_task(&web, now).await.unwrap();
    assert_eq!(counts.values().sum::<u32>(), 1_200);
    assert_eq!(counts.len(), 40);
    assert!(
        provider.calls().snapshot().calls("Query") >= 2,
        "{}",
        provider.calls().snapshot()
    );
}

/// `autoscaler sessions list ARGS`, reaching AWS only through the endpoint
/// its config or flags name, with test credentials.
fn sessions_list(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let (aws_config, aws_credentials) = (dir.join("aws-config"), dir.join("aws-credentials"));
    std::fs::write(&aws_config, "").unwrap();
    std::fs::write(&aws_credentials, "").unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args(["sessions", "list"])
        .args(args)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", &aws_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &aws_credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the autoscaler binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_list_takes_the_table_region_and_endpoint_from_the_config() {
    let world = World::start().await;
    let table = "from-config";
    world.sessions_table(table).await;
    let web = svc("prod", "web");
    let now = now();
    world.session(table, &web, "t1", "s1", now - 60, None).await;
    // The config's policy file is not here: listing sessions does not need it.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("autoscaler.toml");
    std::fs::write(
        &config,
        format!(
            "[provider]\nkind = \"aws\"\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\nsessions_table = \"{table}\"\n\n[[service]]\nname = \"web\"\ncluster = \"prod\"\ntarget_group = \"tg\"\npolicy = \"p.wasm\"\n",
            world.moto.endpoint()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let base = [
        "--cluster",
        "prod",
        "--service",
        "web",
        "--json",
        "--config",
        config,
    ];

    let out = sessions_list(dir.path(), &base);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tasks[0]["task_id"], "t1", "{tasks}");
    assert_eq!(tasks[0]["active"][0]["session_id"], "s1", "{tasks}");

    // A flag overrides the config: this table does not exist.
    let out = sessions_list(
        dir.path(),
        &[&base[..], &["--table", "no-such-table"]].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no-such-table"), "{stderr}");

    // A simulated cluster's config has no session table: said, naming the file.
    let sim = dir.path().join("sim.toml");
    std::fs::write(&sim, "[provider]\nkind = \"sim\"\n").unwrap();
    let out = sessions_list(
        dir.path(),
        &[
            "--cluster",
            "prod",
            "--service",
            "web",
            "--config",
            sim.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("sim.toml") && stderr.contains("provider.kind = \"aws\""),
        "{stderr}"
    );
}
