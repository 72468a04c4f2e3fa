use aws_sdk_ecs::types::{Attachment, KeyValuePair};

use super::*;

#[test]
fn the_private_ip_comes_from_the_eni_attachment() {
    let detail = |n: &str, v: &str| KeyValuePair::builder().name(n).value(v).build();
    let task = Task::builder()
        .attachments(
            Attachment::builder()
                .r#type("ElasticNetworkInterface")
                .details(detail("subnetId", "subnet-1"))
                .details(detail("privateIPv4Address", "10.0.1.7"))
                .build(),
        )
        .build();
    assert_eq!(private_ip(&task).as_deref(), Some("10.0.1.7"));
    assert_eq!(private_ip(&Task::builder().build()), None);
}

#[test]
fn tasks_convert_with_times_status_target_and_protection() {
    let task = Task::builder()
        .task_arn("arn:aws:ecs:eu-west-1:1:task/prod/abc")
        .last_status("RUNNING")
        .created_at(aws_smithy_types::DateTime::from_secs(1_000))
        .started_at(aws_smithy_types::DateTime::from_secs(1_030))
        .attachments(
            Attachment::builder()
                .r#type("ElasticNetworkInterface")
                .details(
                    KeyValuePair::builder()
                        .name("privateIPv4Address")
                        .value("10.0.0.9")
                        .build(),
                )
                .build(),
        )
        .build();
    let t = cluster_task(&task, 8080, |id| id == "abc").unwrap();
    assert_eq!(t.id, "abc");
    assert_eq!(t.status, TaskStatus::Running);
    assert_eq!((t.created_at, t.started_at), (1_000, Some(1_030)));
    assert_eq!(
        t.target,
        Some(Target {
            ip: [10, 0, 0, 9].into(),
            port: 8080
        })
    );
    assert!(t.protected);
    assert!(cluster_task(&Task::builder().build(), 8080, |_| false).is_none());
}

#[test]
fn negative_counts_read_as_zero() {
    assert_eq!(count(-1), 0);
    assert_eq!(count(7), 7);
}
