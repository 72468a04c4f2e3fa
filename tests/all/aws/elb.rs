//! ELBv2 through the provider against moto: target health, deregistration
//! and registration change what the load balancer reports. Draining and the
//! deregistration delay are not modelled by moto (the sim proves them).

use autoscaler::model::TargetHealth;
use autoscaler::providers::{LoadBalancer, ProviderError, Target};

use super::seed::{PORT, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_deregister_and_register_change_the_target_groups_targets() {
    let world = World::start().await;
    let svc = world.service("prod", "web", 3).await;
    let tasks = world.run_tasks(&svc, 3).await;
    world.register(&svc, &tasks).await;
    let provider = world.provider("sessions");

    let mut states = provider.targets(&svc.target_group).await.unwrap();
    states.sort_by(|a, b| a.target.cmp(&b.target));
    let mut all: Vec<Target> = tasks
        .iter()
        .map(|(_, ip)| Target {
            ip: ip.parse().expect("an IP"),
            port: PORT,
        })
        .collect();
    all.sort();
    assert_eq!(
        states.iter().map(|s| s.target.clone()).collect::<Vec<_>>(),
        all
    );
    assert!(
        states.iter().all(|s| s.health == TargetHealth::Healthy),
        "moto's targets are healthy at once"
    );

    let victim = all[1].clone();
    provider
        .deregister(&svc.target_group, std::slice::from_ref(&victim))
        .await
        .unwrap();
    let remaining: Vec<Target> = all.iter().filter(|t| **t != victim).cloned().collect();
    assert_eq!(world.registered(&svc.target_group).await, remaining);

    provider
        .register(&svc.target_group, std::slice::from_ref(&victim))
        .await
        .unwrap();
    assert_eq!(world.registered(&svc.target_group).await, all);

    let calls = provider.calls().snapshot();
    assert_eq!(
        (
            calls.calls("DeregisterTargets"),
            calls.calls("RegisterTargets")
        ),
        (1, 1),
        "{calls}"
    );
    provider.register(&svc.target_group, &[]).await.unwrap();
    assert_eq!(
        provider.calls().snapshot().calls("RegisterTargets"),
        1,
        "nothing to register makes no call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_maps_a_missing_target_group_to_not_found() {
    let world = World::start().await;
    let provider = world.provider("sessions");
    let arn =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/missing/0123456789abcdef";
    let err = provider.targets(arn).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::NotFound {
                service: "ELBv2",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("DescribeTargetHealth on {arn}")),
        "{err}"
    );
}
