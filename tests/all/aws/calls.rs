//! The cost of a tick: AWS calls made by the gather side for one 100-task
//! service, counted by the provider's SDK interceptor against moto.

use std::io::Write;

use autoscaler::providers::aws::{AwsProvider, CallCounts};
use autoscaler::providers::{Cluster, LoadBalancer, Metrics, ServiceRef, Sessions};

use super::seed::{World, now};

/// Everything the gather stage reads for one service, in one tick.
async fn gather(
    provider: &AwsProvider,
    svc: &ServiceRef,
    now: u64,
) -> (usize, usize, u32, Option<f64>) {
    let counts = provider.service(svc).await.unwrap();
    let tasks = provider.tasks(svc).await.unwrap();
    let utilization = provider
        .utilization(std::slice::from_ref(svc), now)
        .await
        .unwrap();
    let sessions = provider.sessions_by_task(svc, now).await.unwrap();
    let targets = provider.targets(&svc.target_group).await.unwrap();
    assert_eq!(counts.desired, 100);
    assert!(tasks.iter().all(|t| t.target.is_some()));
    (
        tasks.len(),
        targets.len(),
        sessions.values().sum(),
        utilization[&svc.key()].cpu,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_calls_per_tick_for_a_100_task_service_at_steady_state() {
    let world = World::start().await;
    let table = "sessions";
    world.sessions_table(table).await;
    let svc = world.service("prod", "web", 100).await;
    let tasks = world.run_tasks(&svc, 100).await;
    world.register(&svc, &tasks).await;
    let now = now();
    world
        .metric(&svc, "CPUUtilization", 42.0, now - now % 60 - 60)
        .await;
    let sessions: Vec<(String, String)> = tasks
        .iter()
        .take(30)
        .map(|(id, _)| (id.clone(), "s".to_string()))
        .collect();
    world.many_sessions(table, &svc, &sessions, now).await;
    let provider = world.provider(table);

    assert_eq!(
        gather(&provider, &svc, now).await,
        (100, 100, 30, Some(42.0))
    );
    let first: CallCounts = provider.calls().take();
    assert_eq!(
        first.calls("GetTaskProtection"),
        1,
        "first tick looks up protection of new tasks: {first}"
    );

    assert_eq!(
        gather(&provider, &svc, now + 60).await,
        (100, 100, 30, Some(42.0))
    );
    let steady = provider.calls().take();
    let report = format!(
        "AWS calls per tick for a 100-task service at steady state: {} ({steady}); first tick: {} ({first})",
        steady.total_calls(),
        first.total_calls()
    );
    // Straight to the process's stderr, past the test harness's output
    // capture, so the figure shows in every run of the test and can be quoted.
    let _ = writeln!(std::io::stderr(), "{report}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("aws-calls-per-tick.txt"),
        &report,
    );

    for op in [
        "DescribeServices",
        "ListTasks",
        "DescribeTasks",
        "GetMetricData",
        "Query",
        "DescribeTargetHealth",
    ] {
        assert_eq!(steady.calls(op), 1, "{op}: {report}");
    }
    assert_eq!(steady.total_calls(), 6, "{report}");
    assert_eq!(
        steady.total_attempts(),
        6,
        "no retries against a healthy server: {report}"
    );
}
