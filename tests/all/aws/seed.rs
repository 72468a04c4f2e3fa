//! Test support: seeds moto through the Rust SDK clients (no boto3): a
//! cluster, a Fargate service behind an IP target group, tasks started with
//! `run_task(group = "service:NAME")` (moto runs no scheduler), targets,
//! CloudWatch datapoints and session items.

use autoscaler::providers::aws::{AwsConfig, AwsProvider};
use autoscaler::providers::{ServiceRef, Target};
use autoscaler::sessions::{SessionStore, attr};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType,
    LoadBalancer, NetworkConfiguration, NetworkMode, PortMapping,
};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};

use super::moto::Moto;

/// The container port every seeded service uses.
pub const PORT: u16 = 8443;

/// A moto server with SDK clients for seeding and inspecting it.
pub struct World {
    /// The server (killed when the world is dropped).
    pub moto: Moto,
    /// Its SDK configuration.
    pub sdk: SdkConfig,
    /// ECS, for seeding and checking.
    pub ecs: aws_sdk_ecs::Client,
    /// ELBv2, for seeding and checking.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// CloudWatch, for seeding.
    pub cw: aws_sdk_cloudwatch::Client,
    /// DynamoDB, for seeding and checking.
    pub ddb: aws_sdk_dynamodb::Client,
    /// The default VPC.
    pub vpc: String,
    /// A default subnet.
    pub subnet: String,
    /// The default VPC's default security group.
    pub security_group: String,
}

fn between<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = start
        + xml[start..]
            .find(&format!("</{tag}>"))
            .expect("closing tag");
    &xml[start..end]
}

impl World {
    /// A fresh moto server, and its default VPC and subnet.
    pub async fn start() -> World {
        let moto = Moto::start().await;
        let sdk = moto.sdk_config();
        let subnets = moto.ec2("Action=DescribeSubnets&Version=2016-11-15").await;
        let (vpc, subnet) = (
            between(&subnets, "vpcId").to_string(),
            between(&subnets, "subnetId").to_string(),
        );
        let groups = moto
            .ec2(&format!(
                "Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"
            ))
            .await;
        let security_group = between(&groups, "groupId").to_string();
        World {
            ecs: aws_sdk_ecs::Client::new(&sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
            cw: aws_sdk_cloudwatch::Client::new(&sdk),
            ddb: aws_sdk_dynamodb::Client::new(&sdk),
            moto,
            sdk,
            vpc,
            subnet,
            security_group,
        }
    }

    /// The provider under test, pointed at this server, with a fresh call counter.
    pub fn provider(&self, table: &str) -> AwsProvider {
        AwsProvider::from_sdk_config(
            &self.sdk,
            AwsConfig {
                sessions_table: table.into(),
                ..AwsConfig::default()
            },
        )
    }

    /// A session store over `table`, not counting calls.
    pub fn store(&self, table: &str) -> SessionStore {
        SessionStore::new(self.ddb.clone(), table)
    }

    fn network(&self) -> NetworkConfiguration {
        NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets(&self.subnet)
                    .security_groups(&self.security_group)
                    .assign_public_ip(AssignPublicIp::Disabled)
                    .build()
                    .expect("awsvpc configuration"),
            )
            .build()
    }

    /// Creates the cluster (if needed), a Fargate task definition, an IP
    /// target group on [`PORT`] and a service registering its tasks there.
    pub async fn service(&self, cluster: &str, service: &str, desired: i32) -> ServiceRef {
        self.ecs
            .create_cluster()
            .cluster_name(cluster)
            .send()
            .await
            .expect("create_cluster");
        self.ecs
            .register_task_definition()
            .family(service)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("example/app:1")
                    // moto needs a memory figure per container.
                    .memory_reservation(512)
                    .port_mappings(
                        PortMapping::builder()
                            .container_port(i32::from(PORT))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("register_task_definition");
        let tg = self
            .elb
            .create_target_group()
            .name(format!("tg-{service}"))
            .protocol(ProtocolEnum::Http)
            .port(i32::from(PORT))
            .vpc_id(&self.vpc)
            .target_type(TargetTypeEnum::Ip)
            .send()
            .await
            .expect("create_target_group");
        let tg_arn = tg.target_groups()[0]
            .target_group_arn()
            .expect("target group ARN")
            .to_string();
        self.ecs
            .create_service()
            .cluster(cluster)
            .service_name(service)
            .task_definition(service)
            .desired_count(desired)
            .launch_type(LaunchType::Fargate)
            .network_configuration(self.network())
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(&tg_arn)
                    .container_name("app")
                    .container_port(i32::from(PORT))
                    .build(),
            )
            .send()
            .await
            .expect("create_service");
        ServiceRef {
            cluster: cluster.into(),
            service: service.into(),
            target_group: tg_arn,
        }
    }

    /// Starts `n` tasks in group `group` (ten per call), returning their IDs and IPs.
    pub async fn run_tasks_in_group(
        &self,
        cluster: &str,
        family: &str,
        group: &str,
        n: usize,
    ) -> Vec<(String, String)> {
        let mut started = Vec::new();
        while started.len() < n {
            let count = (n - started.len()).min(10) as i32;
            let out = self
                .ecs
                .run_task()
                .cluster(cluster)
                .task_definition(family)
                .launch_type(LaunchType::Fargate)
                .network_configuration(self.network())
                .group(group)
                .count(count)
                .send()
                .await
                .expect("run_task");
            for t in out.tasks() {
                let id = t
                    .task_arn()
                    .expect("task ARN")
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string();
                let ip = t
                    .attachments()
                    .iter()
                    .flat_map(|a| a.details())
                    .find(|d| d.name() == Some("privateIPv4Address"))
                    .and_then(|d| d.value())
                    .expect("moto gives awsvpc tasks an ENI IP")
                    .to_string();
                started.push((id, ip));
            }
        }
        started
    }

    /// Starts `n` tasks of the service, as the ECS scheduler would (group `service:NAME`).
    pub async fn run_tasks(&self, svc: &ServiceRef, n: usize) -> Vec<(String, String)> {
        self.run_tasks_in_group(
            &svc.cluster,
            &svc.service,
            &format!("service:{}", svc.service),
            n,
        )
        .await
    }

    /// Registers the tasks' IPs on [`PORT`] in the service's target group, as ECS would.
    pub async fn register(&self, svc: &ServiceRef, tasks: &[(String, String)]) {
        let targets = tasks.iter().map(|(_, ip)| {
            TargetDescription::builder()
                .id(ip)
                .port(i32::from(PORT))
                .build()
        });
        self.elb
            .register_targets()
            .target_group_arn(&svc.target_group)
            .set_targets(Some(targets.collect()))
            .send()
            .await
            .expect("register_targets");
    }

    /// The target group's targets, as ELBv2 reports them to anyone.
    pub async fn registered(&self, target_group: &str) -> Vec<Target> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .expect("describe_target_health");
        let mut targets: Vec<Target> = out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target())
            .map(|t| Target {
                ip: t.id().unwrap().parse().expect("an IP target"),
                port: t.port().unwrap() as u16,
            })
            .collect();
        targets.sort();
        targets
    }

    /// Puts one `AWS/ECS` datapoint for the service at `at` (Unix seconds).
    pub async fn metric(&self, svc: &ServiceRef, name: &str, value: f64, at: u64) {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        self.cw
            .put_metric_data()
            .namespace("AWS/ECS")
            .metric_data(
                MetricDatum::builder()
                    .metric_name(name)
                    .dimensions(
                        Dimension::builder()
                            .name("ClusterName")
                            .value(&svc.cluster)
                            .build(),
                    )
                    .dimensions(
                        Dimension::builder()
                            .name("ServiceName")
                            .value(&svc.service)
                            .build(),
                    )
                    .timestamp(aws_smithy_types::DateTime::from_secs(at as i64))
                    .value(value)
                    .unit(StandardUnit::Percent)
                    .build(),
            )
            .send()
            .await
            .expect("put_metric_data");
    }

    /// Creates the sessions table with the documented key schema.
    pub async fn sessions_table(&self, table: &str) {
        self.table(table, attr::SERVICE, attr::TASK_SESSION).await;
    }

    /// Creates a drain journal table with the documented key schema.
    pub async fn drains_table(&self, table: &str) {
        use autoscaler::providers::aws::journal::attr as drain;
        self.table(table, drain::SERVICE, drain::WORKFLOW_ID).await;
    }

    async fn table(&self, table: &str, partition: &str, sort: &str) {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .unwrap()
        };
        self.ddb
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(partition))
            .attribute_definitions(attribute(sort))
            .key_schema(key(partition, KeyType::Hash))
            .key_schema(key(sort, KeyType::Range))
            .send()
            .await
            .expect("create_table");
    }

    /// Writes a session item directly, as an application's own writer would.
    pub async fn session(
        &self,
        table: &str,
        svc: &ServiceRef,
        task: &str,
        session: &str,
        started: u64,
        expires: Option<u64>,
    ) {
        let mut put = self
            .ddb
            .put_item()
            .table_name(table)
            .item(
                attr::SERVICE,
                AttributeValue::S(format!("{}/{}", svc.cluster, svc.service)),
            )
            .item(
                attr::TASK_SESSION,
                AttributeValue::S(format!("{task}#{session}")),
            )
            .item(attr::STARTED_AT, AttributeValue::N(started.to_string()));
        if let Some(e) = expires {
            put = put.item(attr::EXPIRES_AT, AttributeValue::N(e.to_string()));
        }
        put.send().await.expect("put_item");
    }

    /// Writes many session items without deadlines, 25 per BatchWriteItem.
    pub async fn many_sessions(
        &self,
        table: &str,
        svc: &ServiceRef,
        sessions: &[(String, String)],
        started: u64,
    ) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for batch in sessions.chunks(25) {
            let writes = batch.iter().map(|(task, session)| {
                let put = PutRequest::builder()
                    .item(
                        attr::SERVICE,
                        AttributeValue::S(format!("{}/{}", svc.cluster, svc.service)),
                    )
                    .item(
                        attr::TASK_SESSION,
                        AttributeValue::S(format!("{task}#{session}")),
                    )
                    .item(attr::STARTED_AT, AttributeValue::N(started.to_string()))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
            });
            let out = self
                .ddb
                .batch_write_item()
                .request_items(table, writes.collect())
                .send()
                .await
                .expect("batch_write_item");
            assert!(
                out.unprocessed_items().is_none_or(|u| u.is_empty()),
                "moto processes every write"
            );
        }
    }

    /// Every item in the table (a Scan: for checking only).
    pub async fn items(
        &self,
        table: &str,
    ) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        self.ddb
            .scan()
            .table_name(table)
            .send()
            .await
            .expect("scan")
            .items()
            .to_vec()
    }
}

/// A service reference for the provider's read calls, which need no target group.
pub fn svc(cluster: &str, service: &str) -> ServiceRef {
    ServiceRef {
        cluster: cluster.into(),
        service: service.into(),
        target_group: "unused".into(),
    }
}

/// The wall clock, in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
