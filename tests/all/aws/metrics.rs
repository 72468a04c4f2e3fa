//! The AWS call counter exported as metrics: calls, attempts and errors by
//! AWS service, operation and error kind move with real SDK calls to moto.

use std::sync::Arc;

use autoscaler::events::Events;
use autoscaler::providers::{Cluster, LoadBalancer};

use super::seed::World;

fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_call_metrics_count_calls_attempts_and_errors_by_service_and_kind() {
    let world = World::start().await;
    let svc = world.service("prod", "web", 2).await;
    world.run_tasks(&svc, 2).await;
    let provider = world.provider("sessions");
    let events = Events::quiet();
    events.collect_from(Arc::new(provider.calls().clone()));

    let describe = "autoscaler_aws_calls_total{service=\"ecs\",operation=\"DescribeServices\"}";
    let before = events.prometheus();
    assert_eq!(sample(&before, describe), 0, "{before}");
    provider.service(&svc).await.unwrap();
    provider.service(&svc).await.unwrap();
    // moto answers GetTaskProtection with HTTP 500: a server error, not retried.
    provider.tasks(&svc).await.unwrap();
    // A missing target group: HTTP 400 TargetGroupNotFound, a client error.
    let arn =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/missing/0123456789abcdef";
    provider.targets(arn).await.unwrap_err();

    let text = events.prometheus();
    for family in [
        "autoscaler_aws_calls_total",
        "autoscaler_aws_call_attempts_total",
        "autoscaler_aws_call_errors_total",
    ] {
        assert!(text.contains(&format!("# HELP {family} ")), "{text}");
        assert!(text.contains(&format!("# TYPE {family} counter")), "{text}");
    }
    assert_eq!(sample(&text, describe), 2, "{text}");
    assert_eq!(
        sample(
            &text,
            "autoscaler_aws_call_attempts_total{service=\"ecs\",operation=\"DescribeServices\"}"
        ),
        2,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "autoscaler_aws_calls_total{service=\"ecs\",operation=\"ListTasks\"}"
        ),
        1,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "autoscaler_aws_call_errors_total{service=\"ecs\",operation=\"GetTaskProtection\",kind=\"server\"}"
        ),
        1,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "autoscaler_aws_call_errors_total{service=\"elbv2\",operation=\"DescribeTargetHealth\",kind=\"client\"}"
        ),
        1,
        "{text}"
    );
    assert!(
        !text.contains("operation=\"DescribeServices\",kind="),
        "successful calls count no error: {text}"
    );
}
