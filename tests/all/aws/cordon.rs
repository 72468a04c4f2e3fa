//! Cordons against moto: the provider reads how a target group drains (load
//! balancer kind, deregistration delay, connection termination) from ELBv2,
//! keeps the app-level cordon in the sessions table as an item no session
//! count sees, and the ingest API answers `"accepting"` from it.

use autoscaler::providers::{LoadBalancer, LoadBalancerKind, Sessions};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerTypeEnum, ProtocolEnum, TargetGroupAttribute,
    TargetTypeEnum,
};

use super::ingest::{NOW, TOKEN, event_on, ingest_config, post_as, serve_config};
use super::moto::http;
use super::seed::{PORT, World, svc};

/// A load balancer of `kind` with a listener forwarding to a new IP target
/// group whose attributes are set to `attrs`; the group's ARN.
async fn target_group(
    world: &World,
    name: &str,
    kind: LoadBalancerTypeEnum,
    attrs: &[(&str, &str)],
) -> String {
    let protocol = if kind == LoadBalancerTypeEnum::Network {
        ProtocolEnum::Tcp
    } else {
        ProtocolEnum::Http
    };
    let lb = world
        .elb
        .create_load_balancer()
        .name(format!("lb-{name}"))
        .subnets(&world.subnet)
        .r#type(kind)
        .send()
        .await
        .expect("create_load_balancer");
    let lb_arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let tg = world
        .elb
        .create_target_group()
        .name(format!("tg-{name}"))
        .protocol(protocol.clone())
        .port(i32::from(PORT))
        .vpc_id(&world.vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .expect("create_target_group");
    let tg_arn = tg.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    world
        .elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(protocol)
        .port(80)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg_arn)
                .build(),
        )
        .send()
        .await
        .expect("create_listener");
    let attributes: Vec<TargetGroupAttribute> = attrs
        .iter()
        .map(|(k, v)| TargetGroupAttribute::builder().key(*k).value(*v).build())
        .collect();
    world
        .elb
        .modify_target_group_attributes()
        .target_group_arn(&tg_arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .expect("modify_target_group_attributes");
    tg_arn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_reads_how_alb_and_nlb_target_groups_drain_and_caches_it() {
    let world = World::start().await;
    let alb = target_group(
        &world,
        "alb",
        LoadBalancerTypeEnum::Application,
        &[("deregistration_delay.timeout_seconds", "900")],
    )
    .await;
    let nlb = target_group(
        &world,
        "nlb",
        LoadBalancerTypeEnum::Network,
        &[
            // moto refuses 3600 (AWS's own maximum): 1800 reads back the same way.
            ("deregistration_delay.timeout_seconds", "1800"),
            (
                "deregistration_delay.connection_termination.enabled",
                "true",
            ),
        ],
    )
    .await;
    let provider = world.provider("sessions");

    let a = provider.target_group_info(&alb).await.unwrap();
    assert_eq!(
        (a.kind, a.deregistration_delay_s, a.connection_termination),
        (LoadBalancerKind::Application, 900, false)
    );
    assert!(
        !a.keeps_connections(),
        "an ALB closes connections at the end of the delay"
    );
    let n = provider.target_group_info(&nlb).await.unwrap();
    assert_eq!(
        (n.kind, n.deregistration_delay_s, n.connection_termination),
        (LoadBalancerKind::Network, 1800, true)
    );
    assert!(!n.keeps_connections(), "connection termination is on");

    // Three calls per group, then the cache answers.
    let calls = provider.calls().snapshot();
    assert_eq!(
        (
            calls.calls("DescribeTargetGroups"),
            calls.calls("DescribeLoadBalancers"),
            calls.calls("DescribeTargetGroupAttributes")
        ),
        (2, 2, 2),
        "{calls}"
    );
    assert_eq!(provider.target_group_info(&alb).await.unwrap(), a);
    assert_eq!(
        provider.calls().snapshot().calls("DescribeTargetGroups"),
        2,
        "cached"
    );

    // An NLB with connection termination off keeps connections.
    let kept = target_group(&world, "kept", LoadBalancerTypeEnum::Network, &[]).await;
    let k = provider.target_group_info(&kept).await.unwrap();
    assert_eq!(k.kind, LoadBalancerKind::Network);
    assert!(k.keeps_connections());

    let missing =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/none/0123456789abcdef";
    let err = provider.target_group_info(missing).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_layer_keeps_the_app_cordon_in_the_sessions_table_and_never_counts_it() {
    let world = World::start().await;
    let table = "sessions";
    world.sessions_table(table).await;
    let web = svc("prod", "web");
    world.session(table, &web, "t1", "s1", NOW - 60, None).await;
    let provider = world.provider(table);

    provider.set_cordon(&web, "t1", Some(NOW)).await.unwrap();
    provider
        .set_cordon(&web, "t2", Some(NOW - 5))
        .await
        .unwrap();
    provider
        .set_cordon(&web, "t2", Some(NOW - 5))
        .await
        .unwrap(); // idempotent
    let store = provider.session_store();
    assert_eq!(
        store.cordoned_since("prod", "web", "t1").await.unwrap(),
        Some(NOW)
    );
    assert_eq!(
        store.cordoned_since("prod", "web", "t2").await.unwrap(),
        Some(NOW - 5)
    );
    assert_eq!(
        store.cordoned_since("prod", "web", "t3").await.unwrap(),
        None
    );
    let items = world.items(table).await;
    assert_eq!(items.len(), 3, "one session and two cordon items");
    assert!(
        items
            .iter()
            .any(|i| i["task_session"].as_s().unwrap() == "#cordon#t1")
    );

    // The count sees the session only: no task "" and no extra session on t1 or t2.
    let counts = provider.sessions_by_task(&web, NOW).await.unwrap();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(counts["t1"], 1);
    // Nor does the listing, and nothing is swept as expired.
    let listed = autoscaler::sessions::list::list_by_task(store, "prod", "web", NOW)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(world.items(table).await.len(), 3);

    provider.set_cordon(&web, "t1", None).await.unwrap();
    provider.set_cordon(&web, "t1", None).await.unwrap(); // idempotent
    assert_eq!(
        store.cordoned_since("prod", "web", "t1").await.unwrap(),
        None
    );
    assert_eq!(world.items(table).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_answers_accepting_false_for_a_cordoned_task() {
    let world = World::start().await;
    world.sessions_table("sessions").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ingest_config(dir.path(), "");
    let served = serve_config(world.store("sessions"), cfg, dir).await;
    let addr = served.addr;
    let provider = world.provider("sessions");
    let web = svc("prod", "web");

    let start = post_as(
        addr,
        TOKEN,
        &event_on("t1", "start", "s1", r#","ttl_seconds":120"#),
    )
    .await;
    assert_eq!(start.status, 200, "{}", start.body);
    assert_eq!(
        start.json()["accepting"],
        serde_json::json!(true),
        "{}",
        start.body
    );

    provider
        .set_cordon(&web, "t1", Some(NOW - 30))
        .await
        .unwrap();
    let beat = post_as(
        addr,
        TOKEN,
        &event_on("t1", "heartbeat", "s1", r#","ttl_seconds":120"#),
    )
    .await;
    assert_eq!(beat.status, 200, "{}", beat.body);
    assert_eq!(
        beat.json()["accepting"],
        serde_json::json!(false),
        "{}",
        beat.body
    );
    // A start on a cordoned task is still stored (the session exists), and told so.
    let late = post_as(
        addr,
        TOKEN,
        &event_on("t1", "start", "s2", r#","ttl_seconds":120"#),
    )
    .await;
    assert_eq!(
        (late.status, late.json()["accepting"].clone()),
        (200, serde_json::json!(false)),
        "{}",
        late.body
    );
    // Another task accepts.
    let other = post_as(
        addr,
        TOKEN,
        &event_on("t2", "start", "s3", r#","ttl_seconds":120"#),
    )
    .await;
    assert_eq!(
        other.json()["accepting"],
        serde_json::json!(true),
        "{}",
        other.body
    );

    let auth = format!("Bearer {TOKEN}");
    let get = |path: &'static str, auth: Option<String>| async move {
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        http(addr, "GET", path, &headers, b"").await.unwrap()
    };
    let task = get("/v1/tasks/t1?cluster=prod&service=web", Some(auth.clone())).await;
    assert_eq!(task.status, 200, "{}", task.body);
    assert_eq!(
        task.json(),
        serde_json::json!({"task_id": "t1", "accepting": false, "cordoned_since": NOW - 30})
    );
    let unauthenticated = get("/v1/tasks/t1?cluster=prod&service=web", None).await;
    assert_eq!(unauthenticated.status, 401, "{}", unauthenticated.body);
    let unknown = get("/v1/tasks/t9?cluster=prod&service=web", Some(auth.clone())).await;
    assert_eq!(
        (unknown.status, unknown.json()["field"].as_str()),
        (422, Some("task_id")),
        "{}",
        unknown.body
    );
    let bad = get("/v1/tasks/t1?cluster=prod", Some(auth.clone())).await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    provider.set_cordon(&web, "t1", None).await.unwrap();
    let task = get("/v1/tasks/t1?cluster=prod&service=web", Some(auth)).await;
    assert_eq!(
        task.json(),
        serde_json::json!({"task_id": "t1", "accepting": true, "cordoned_since": null})
    );
    // The cordon item never counted as a session: t1 has its two, t2 one.
    let counts = provider.sessions_by_task(&web, NOW).await.unwrap();
    assert_eq!((counts["t1"], counts["t2"], counts.len()), (2, 1, 2));
}
