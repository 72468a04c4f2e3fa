//! deploy/cloudformation.yaml deployed into moto's CloudFormation.
//!
//! # What moto proves, and what it cannot
//!
//! moto 5.2 has no CloudFormation model for `AWS::ServiceDiscovery::*` and
//! `AWS::SecretsManager::Secret`, and refuses a whole stack that refers to
//! one. `cfn/deploy.py` removes exactly those three resources and every
//! property that refers to them (the test asserts the list), then deploys
//! the rest. Of what it deploys, moto really creates and this test reads
//! back through the APIs:
//! - both tables, with their partition and sort keys;
//! - the bucket, with its default encryption;
//! - the task role, whose inline policy grants exactly the actions of
//!   deploy/iam-policy.json, scoped to the cluster, the target groups, the
//!   tables and the bucket; the execution role;
//! - the ingest security group, admitting the ingest port from the given
//!   source security group only;
//! - the log group and its retention;
//! - the task definition's container (image, entry point, command,
//!   environment, port, logs) and the service in the cluster, one task.
//!
//! moto's CloudFormation accepts but drops these, so they are checked in the
//! template itself (the decoded YAML), not in a deployed resource: the
//! tables' TTL and point-in-time recovery, the bucket's versioning and public
//! access block, the execution role's managed policy, the task definition's
//! roles, Fargate, `awsvpc` and size, the service's Fargate launch, network
//! configuration, deployment limits and Cloud Map registry, and the secret
//! passed to the container. `cfn-lint` (scripts/test) checks every
//! resource's properties against AWS's schemas.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::moto::Moto;
use crate::support::root;

/// The text between `<tag>` and `</tag>` in an EC2 answer.
fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap();
    xml[start..start + end].to_string()
}

/// A raw ECS JSON call to moto.
async fn ecs_json(moto: &Moto, op: &str, body: &str) -> Value {
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0";
    let target = format!("AmazonEC2ContainerServiceV20141113.{op}");
    let reply = super::moto::http(
        moto.addr(),
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", &target),
            ("Authorization", auth),
        ],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{op}: {}", reply.body);
    reply.json()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        other => panic!("Action: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cloudformation_template_deploys_into_moto() {
    let moto = Moto::start().await;
    let vpc = xml_value(
        &moto
            .ec2("Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0/16")
            .await,
        "vpcId",
    );
    let subnet = xml_value(
        &moto
            .ec2(&format!(
                "Action=CreateSubnet&Version=2016-11-15&VpcId={vpc}&CidrBlock=10.0.1.0/24"
            ))
            .await,
        "subnetId",
    );
    let app_sg = xml_value(
        &moto
            .ec2(&format!(
                "Action=CreateSecurityGroup&Version=2016-11-15&VpcId={vpc}&GroupName=app&GroupDescription=app"
            ))
            .await,
        "groupId",
    );
    let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config());
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";
    let params = json!({
        "ClusterName": "prod",
        "TargetGroupArns": tg,
        "VpcId": vpc,
        "Subnets": subnet,
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/autoscaler:1.0",
        "IngestSourceSecurityGroupId": app_sg,
    });
    let python = root().join(".venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg(root().join("tests/all/aws/cfn/deploy.py"))
        .arg(root().join("deploy/cloudformation.yaml"))
        .arg(moto.endpoint())
        .arg(params.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/test installs it)", python.display()));
    assert!(
        out.status.success(),
        "deploy.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stack: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{}", stack["reason"]);

    // Exactly the resources moto cannot create were removed, and what refers to them.
    let removed: Vec<&str> = stack["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        removed,
        [
            "Resources.IngestName (AWS::ServiceDiscovery::Service)",
            "Resources.IngestToken (AWS::SecretsManager::Secret)",
            "Resources.Namespace (AWS::ServiceDiscovery::PrivateDnsNamespace)",
            ".Resources.ExecutionRole.Properties.Policies[0].PolicyDocument.Statement[0].Resource[0]",
            ".Resources.TaskDefinition.Properties.ContainerDefinitions[0].Secrets[0].ValueFrom",
            ".Resources.Service.Properties.ServiceRegistries[0].RegistryArn",
            ".Resources.Service.Properties.ServiceRegistries[0]",
            ".Resources.Service.Properties.ServiceRegistries",
            ".Outputs.IngestTokenSecretArn.Value",
        ]
    );
    let template = &stack["template"];
    let deployed: BTreeSet<&str> = stack["resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, r)| {
            assert_eq!(r["status"], "CREATE_COMPLETE", "{name}: {r}");
            name.as_str()
        })
        .collect();
    let declared: BTreeSet<&str> = template["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|n| !["IngestName", "IngestToken", "Namespace"].contains(n))
        .collect();
    assert_eq!(deployed, declared);

    // The tables, with their keys.
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    for (table, sort) in [
        ("autoscaler-sessions", "task_session"),
        ("autoscaler-drains", "workflow_id"),
    ] {
        let t = ddb.describe_table().table_name(table).send().await.unwrap();
        let keys: Vec<(String, String)> = t
            .table()
            .unwrap()
            .key_schema()
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_string(),
                    k.key_type().as_str().to_string(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("service".to_string(), "HASH".to_string()),
                (sort.to_string(), "RANGE".to_string())
            ]
        );
    }

    // The bucket, encrypted.
    let bucket = stack["outputs"]["PolicyBucketName"].as_str().unwrap();
    assert_eq!(bucket, "autoscaler-policies-123456789012-us-east-1");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto.sdk_config())
            .force_path_style(true)
            .build(),
    );
    let enc = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    assert_eq!(
        stack["outputs"]["ConfigLocation"],
        format!("s3://{bucket}/autoscaler.toml").as_str()
    );

    // The task role: exactly the actions of deploy/iam-policy.json, scoped.
    let iam: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/iam-policy.json")).unwrap(),
    )
    .unwrap();
    let by_sid = |doc: &Value| -> Vec<(String, Vec<String>)> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["Sid"].as_str().unwrap().to_string(), actions(s)))
            .collect()
    };
    let role = &stack["role_policies"]["TaskRole"]["autoscaler"];
    assert_eq!(
        by_sid(role),
        by_sid(&iam),
        "the task role's statements and actions"
    );
    let resource = |sid: &str| -> Value {
        role["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap()["Resource"]
            .clone()
    };
    assert_eq!(
        resource("ReadServicesAndSetTheirDesiredCount"),
        "arn:aws:ecs:us-east-1:123456789012:service/prod/*"
    );
    assert_eq!(
        resource("ReadTasksAndTheirScaleInProtection"),
        "arn:aws:ecs:us-east-1:123456789012:task/prod/*"
    );
    assert_eq!(resource("DrainAndRestoreTargets"), json!([tg]));
    assert_eq!(
        resource("CountSessions"),
        "arn:aws:dynamodb:us-east-1:123456789012:table/autoscaler-sessions"
    );
    assert_eq!(
        resource("IngestSessions"),
        "arn:aws:dynamodb:us-east-1:123456789012:table/autoscaler-sessions"
    );
    assert_eq!(
        resource("DrainJournal"),
        "arn:aws:dynamodb:us-east-1:123456789012:table/autoscaler-drains"
    );
    assert_eq!(
        resource("HaLeases"),
        "arn:aws:dynamodb:us-east-1:123456789012:table/autoscaler-leases"
    );
    assert_eq!(
        resource("ReadPoliciesAndConfigFromS3"),
        format!("arn:aws:s3:::{bucket}/*").as_str()
    );
    assert_eq!(
        resource("ListThePolicyBucketSoAMissingObjectReads404"),
        format!("arn:aws:s3:::{bucket}").as_str()
    );
    let list_tasks = role["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ListTasks")
        .unwrap();
    assert_eq!(
        list_tasks["Condition"]["ArnEquals"]["ecs:cluster"],
        "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
    );
    assert!(stack["role_policies"]["ExecutionRole"]["ReadTheIngestToken"].is_object());

    // The ingest port, from the application's security group only.
    let groups = moto
        .ec2(&format!(
            "Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1={}",
            stack["resources"]["IngestSecurityGroup"]["id"]
                .as_str()
                .unwrap()
        ))
        .await;
    let ingress =
        &groups[groups.find("<ipPermissions>").unwrap()..groups.find("</ipPermissions>").unwrap()];
    assert_eq!(
        ingress.matches("<item>").count(),
        2,
        "one rule, one source: {ingress}"
    );
    assert_eq!(xml_value(ingress, "fromPort"), "9443");
    assert_eq!(xml_value(ingress, "toPort"), "9443");
    assert_eq!(xml_value(ingress, "groupId"), app_sg);
    assert!(
        !ingress.contains("<cidrIp>"),
        "no address range is admitted: {ingress}"
    );

    // The task definition's container and the one-task service. Read raw:
    // moto writes each `AWS::NoValue` of the Secrets list as a null, which
    // the SDK refuses.
    let td = ecs_json(
        &moto,
        "DescribeTaskDefinition",
        r#"{"taskDefinition":"autoscaler"}"#,
    )
    .await;
    let c = &td["taskDefinition"]["containerDefinitions"][0];
    assert_eq!(
        c["image"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/autoscaler:1.0"
    );
    assert_eq!(c["entryPoint"], json!(["/bin/sh", "-c"]));
    let command = c["command"][0].as_str().unwrap();
    assert!(
        command.contains("umask 077")
            && command.contains("> /var/lib/autoscaler/ingest-tokens")
            && command.contains("unset INGEST_TOKEN")
            && command.contains("exec /usr/local/bin/autoscaler run --no-status --wait-for-config --config \"$AUTOSCALER_CONFIG\""),
        "{command}"
    );
    assert!(
        c["environment"].as_array().unwrap().contains(
            &json!({"name": "AUTOSCALER_CONFIG", "value": format!("s3://{bucket}/autoscaler.toml")})
        ),
        "{c}"
    );
    assert_eq!(c["portMappings"][0]["containerPort"], 9443);
    assert_eq!(
        c["logConfiguration"]["options"]["awslogs-group"],
        "/ecs/autoscaler"
    );
    let svc = ecs
        .describe_services()
        .cluster("prod")
        .services("autoscaler")
        .send()
        .await
        .unwrap();
    assert_eq!(svc.services()[0].desired_count(), 1);

    // What moto drops, checked in the template itself.
    let r = &template["Resources"];
    for table in ["SessionsTable", "JournalTable", "LeasesTable"] {
        let p = &r[table]["Properties"];
        assert_eq!(
            p["TimeToLiveSpecification"],
            json!({"AttributeName": "expires_at", "Enabled": true})
        );
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true
        );
        assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    }
    let b = &r["PolicyBucket"]["Properties"];
    assert_eq!(b["VersioningConfiguration"]["Status"], "Enabled");
    for key in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(b["PublicAccessBlockConfiguration"][key], true, "{key}");
    }
    let t = &r["TaskDefinition"]["Properties"];
    assert_eq!(t["RequiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(t["NetworkMode"], "awsvpc");
    assert_eq!(t["TaskRoleArn"], json!({"Fn::GetAtt": ["TaskRole", "Arn"]}));
    assert_eq!(
        t["ExecutionRoleArn"],
        json!({"Fn::GetAtt": ["ExecutionRole", "Arn"]})
    );
    assert_eq!(
        t["ContainerDefinitions"][0]["Secrets"][0],
        json!({"Name": "INGEST_TOKEN", "ValueFrom": {"Ref": "IngestToken"}})
    );
    let s = &r["Service"]["Properties"];
    assert_eq!(s["LaunchType"], "FARGATE");
    assert_eq!(
        s["DeploymentConfiguration"],
        json!({"MinimumHealthyPercent": 0, "MaximumPercent": 100})
    );
    assert_eq!(
        s["ServiceRegistries"],
        json!([{"RegistryArn": {"Fn::GetAtt": ["IngestName", "Arn"]}}])
    );
    assert_eq!(
        s["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"],
        json!([{"Ref": "IngestSecurityGroup"}])
    );
}
