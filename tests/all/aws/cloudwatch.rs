//! CloudWatch through the provider against moto: one GetMetricData call for
//! many services, the latest complete 60 s datapoint of each, and `None`
//! (never 0) where data is missing.

use autoscaler::providers::Metrics;

use super::seed::{World, now, svc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_reads_utilization_of_many_services_in_one_call() {
    let world = World::start().await;
    let now = now();
    let end = now - now % 60; // the current period starts here and is incomplete
    let (a, b, c) = (svc("prod", "a"), svc("prod", "b"), svc("prod", "c"));
    let b_by_arn = svc("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "b");

    world.metric(&a, "CPUUtilization", 10.0, end - 180).await;
    world.metric(&a, "CPUUtilization", 40.0, end - 60).await;
    world.metric(&a, "CPUUtilization", 50.0, end - 30).await;
    world.metric(&a, "CPUUtilization", 99.0, end + 1).await; // incomplete period: ignored
    world.metric(&a, "MemoryUtilization", 70.0, end - 60).await;
    world.metric(&b, "MemoryUtilization", 33.0, end - 120).await;
    world
        .metric(&svc("staging", "a"), "CPUUtilization", 77.0, end - 60)
        .await; // other cluster: not prod/a

    let provider = world.provider("sessions");
    let services = [a.clone(), b.clone(), c.clone(), b_by_arn.clone()];
    let got = provider.utilization(&services, now).await.unwrap();

    assert_eq!(
        provider.calls().snapshot().calls("GetMetricData"),
        1,
        "one call for all services"
    );
    assert_eq!(got.len(), 4, "every service asked about is answered");
    let ua = got[&a.key()];
    assert_eq!(ua.cpu, Some(45.0), "average of the latest complete period");
    assert_eq!(ua.memory, Some(70.0));
    assert_eq!(ua.at, Some(end - 60));
    let ub = got[&b.key()];
    assert_eq!(
        (ub.cpu, ub.memory, ub.at),
        (None, Some(33.0), Some(end - 120)),
        "missing CPU is None, not 0"
    );
    assert_eq!(
        got[&b_by_arn.key()],
        ub,
        "a cluster ARN is reduced to its name for the dimension"
    );
    let uc = got[&c.key()];
    assert_eq!((uc.cpu, uc.memory, uc.at), (None, None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_asks_nothing_for_no_services() {
    let world = World::start().await;
    let provider = world.provider("sessions");
    assert!(provider.utilization(&[], now()).await.unwrap().is_empty());
    assert_eq!(provider.calls().snapshot().total_calls(), 0);
}
