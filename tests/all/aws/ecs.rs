//! ECS through the provider against moto: counts, tasks with targets, stopped
//! tasks, the desired count, protection (which moto cannot do), error mapping.

use autoscaler::model::TaskStatus;
use autoscaler::providers::{Cluster, ProviderError, ServiceRef, Target};

use super::seed::{PORT, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_reads_service_counts_and_only_the_services_tasks_with_their_targets() {
    let world = World::start().await;
    let svc = world.service("prod", "web", 3).await;
    let other = world.service("prod", "api", 1).await;
    let mine = world.run_tasks(&svc, 3).await;
    world.run_tasks(&other, 2).await;
    world
        .run_tasks_in_group("prod", "web", "family:web", 1)
        .await;
    let provider = world.provider("sessions");

    let counts = provider.service(&svc).await.unwrap();
    assert_eq!(counts.desired, 3);

    let mut tasks = provider.tasks(&svc).await.unwrap();
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected: Vec<(String, Target)> = mine
        .iter()
        .map(|(id, ip)| {
            (
                id.clone(),
                Target {
                    ip: ip.parse().expect("an IP"),
                    port: PORT,
                },
            )
        })
        .collect();
    expected.sort();
    let got: Vec<(String, Target)> = tasks
        .iter()
        .map(|t| (t.id.clone(), t.target.clone().unwrap()))
        .collect();
    assert_eq!(
        got, expected,
        "tasks of other services and groups are left out; targets are ENI IP and service port"
    );
    for t in &tasks {
        assert_eq!(t.status, TaskStatus::Running);
        assert!(
            !t.protected,
            "moto cannot report protection: it reads as unprotected"
        );
        // moto sends neither createdAt nor startedAt (a unit test covers their conversion).
        assert_eq!((t.created_at, t.started_at), (0, None));
        assert_eq!(
            (t.cpu, t.memory),
            (None, None),
            "ECS gives no per-task utilization"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_reports_a_stopped_task_once_and_its_status_by_id() {
    let world = World::start().await;
    let svc = world.service("prod", "web", 3).await;
    let tasks = world.run_tasks(&svc, 3).await;
    let provider = world.provider("sessions");
    assert_eq!(provider.tasks(&svc).await.unwrap().len(), 3);

    let victim = tasks[0].0.clone();
    world
        .ecs
        .stop_task()
        .cluster("prod")
        .task(&victim)
        .send()
        .await
        .unwrap();

    let listed = provider.tasks(&svc).await.unwrap();
    let stopped: Vec<_> = listed
        .iter()
        .filter(|t| t.status == TaskStatus::Stopped)
        .collect();
    assert_eq!(listed.len(), 3, "the stopped task is still reported once");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0].id, victim);

    let listed = provider.tasks(&svc).await.unwrap();
    assert_eq!(listed.len(), 2, "then it is forgotten");
    assert!(listed.iter().all(|t| t.id != victim));

    let status = provider
        .task_status(&svc, &[victim.clone(), tasks[1].0.clone(), "gone".into()])
        .await
        .unwrap();
    assert!(status.contains(&(victim, TaskStatus::Stopped)));
    assert!(status.contains(&(tasks[1].0.clone(), TaskStatus::Running)));
    assert_eq!(status.len(), 2, "unknown IDs are left out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_set_desired_changes_the_desired_count_on_the_server() {
    let world = World::start().await;
    let svc = world.service("prod", "web", 2).await;
    let provider = world.provider("sessions");

    provider.set_desired(&svc, 5).await.unwrap();

    let out = world
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .unwrap();
    assert_eq!(out.services()[0].desired_count(), 5);
    assert_eq!(provider.service(&svc).await.unwrap().desired, 5);
    assert_eq!(provider.calls().snapshot().calls("UpdateService"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_maps_missing_clusters_services_and_target_groups_to_not_found() {
    let world = World::start().await;
    let svc = world.service("prod", "web", 1).await;
    let provider = world.provider("sessions");

    let missing = ServiceRef {
        service: "nope".into(),
        ..svc.clone()
    };
    let err = provider.service(&missing).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("DescribeServices on prod/nope"),
        "{err}"
    );

    let no_cluster = ServiceRef {
        cluster: "nowhere".into(),
        ..svc.clone()
    };
    let err = provider.service(&no_cluster).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("DescribeServices on nowhere/web"),
        "{err}"
    );

    let wrong_group = ServiceRef {
        target_group: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1".into(),
        ..svc
    };
    let err = provider.tasks(&wrong_group).await.unwrap_err();
    assert!(matches!(err, ProviderError::Permanent { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("registers no container port in target group"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_protection_is_unknown_on_moto_and_does_not_fail_the_tick() {
    // moto answers task protection calls with HTTP 500: this proves the
    // fallback and the error mapping, not protection itself (the sim does).
    let world = World::start().await;
    let svc = world.service("prod", "web", 12).await;
    let tasks = world.run_tasks(&svc, 12).await;
    let provider = world.provider("sessions");

    let listed = provider.tasks(&svc).await.unwrap();
    assert_eq!(listed.len(), 12);
    assert!(listed.iter().all(|t| !t.protected));
    let calls = provider.calls().take();
    assert_eq!(
        calls.calls("GetTaskProtection"),
        1,
        "a lookup round stops at its first failure: {calls}"
    );
    assert_eq!(
        calls.attempts("GetTaskProtection"),
        1,
        "protection lookups are not retried: {calls}"
    );

    provider.tasks(&svc).await.unwrap();
    assert_eq!(
        provider.calls().take().calls("GetTaskProtection"),
        0,
        "a failed lookup waits for the refresh interval"
    );

    let ids: Vec<String> = tasks.iter().map(|(id, _)| id.clone()).collect();
    let err = provider
        .set_protection(&svc, &ids, true, 60)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "HTTP 500 is transient: {err:?}");
    assert!(
        err.to_string().contains("UpdateTaskProtection on prod/web"),
        "{err}"
    );
    let calls = provider.calls().take();
    assert_eq!(
        calls.calls("UpdateTaskProtection"),
        1,
        "the first failed batch of 10 stops the call: {calls}"
    );
    assert_eq!(
        calls.attempts("UpdateTaskProtection"),
        3,
        "the SDK's standard retry made 3 attempts: {calls}"
    );
}
