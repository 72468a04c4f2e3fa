//! The DynamoDB drain journal against moto: items and their schema, reading
//! back each host's unfinished workflows, conditional writes refusing a stale
//! host, a write whose answer was lost, and the `journal` config setting.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use autoscaler::config::{Config, JournalConfig};
use autoscaler::providers::Target;
use autoscaler::providers::aws::journal::{DynamoJournal, attr};
use autoscaler::workflow::{DrainConfig, DrainWorkflow, Journal, JournalError, Outcome, Step};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use super::seed::World;

const TABLE: &str = "autoscaler-drains";

fn wf(service: &str, task: &str) -> DrainWorkflow {
    DrainWorkflow::new(
        service,
        task,
        Some(target()),
        1_000,
        &DrainConfig::default(),
    )
}

/// The victims' target (the deregister and wait steps carry it).
fn target() -> Target {
    Target {
        ip: [10, 0, 0, 1].into(),
        port: 3389,
    }
}

fn journal(world: &World, services: &[&str]) -> DynamoJournal {
    DynamoJournal::new(
        world.ddb.clone(),
        TABLE,
        services.iter().map(|s| s.to_string()).collect(),
    )
}

/// The stored item of a workflow.
async fn item(world: &World, wf: &DrainWorkflow) -> HashMap<String, AttributeValue> {
    world
        .ddb
        .get_item()
        .table_name(TABLE)
        .key(attr::SERVICE, AttributeValue::S(wf.service.clone()))
        .key(attr::WORKFLOW_ID, AttributeValue::S(wf.id.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .unwrap_or_else(|| panic!("no item for {}", wf.id))
}

fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_journal_stores_one_item_per_workflow_and_reads_back_each_hosts_unfinished_ones() {
    let world = World::start().await;
    world.drains_table(TABLE).await;
    let j = journal(&world, &["prod/web"]);

    let mut a = wf("prod/web", "a");
    j.record(&a).unwrap();
    a.step = Step::Deregister { target: target() };
    j.record(&a).unwrap();
    a.step = Step::Wait {
        next_check_at: 1_200,
        target: target(),
    };
    j.record(&a).unwrap();
    let mut done = wf("prod/web", "b");
    j.record(&done).unwrap();
    done.step = Step::Done {
        outcome: Outcome::Stopped,
    };
    j.record(&done).unwrap();
    let other = wf("prod/api", "c");
    j.record(&other).unwrap();

    let stored = item(&world, &a).await;
    assert_eq!(n(&stored, attr::VERSION), 3, "one version per write");
    assert_eq!(stored[attr::FINISHED], AttributeValue::Bool(false));
    assert_eq!(stored[attr::STEP], AttributeValue::S("wait".into()));
    assert_eq!(stored[attr::TASK_ID], AttributeValue::S("a".into()));
    assert!(
        !stored.contains_key(attr::EXPIRES_AT),
        "open items never expire"
    );
    let state: DrainWorkflow = serde_json::from_str(stored[attr::STATE].as_s().unwrap()).unwrap();
    assert_eq!(state, a, "the item holds the whole workflow");

    let finished = item(&world, &done).await;
    assert_eq!(finished[attr::FINISHED], AttributeValue::Bool(true));
    let expires = n(&finished, attr::EXPIRES_AT);
    let updated = n(&finished, attr::UPDATED_AT);
    assert_eq!(
        expires - updated,
        7 * 24 * 3600,
        "finished items expire after 7 days"
    );
    assert_eq!(world.items(TABLE).await.len(), 3, "one item per workflow");

    // Another host (a fresh journal) sees only its own services' open workflows.
    assert_eq!(
        journal(&world, &["prod/web"]).unfinished().unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        journal(&world, &["prod/api"]).unfinished().unwrap(),
        vec![other.clone()]
    );
    let both = journal(&world, &["prod/web", "prod/api"])
        .unfinished()
        .unwrap();
    assert_eq!(both, vec![a, other]);
    assert!(
        journal(&world, &["prod/none"])
            .unfinished()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_journal_refuses_a_stale_host_and_keeps_the_newer_step() {
    let world = World::start().await;
    world.drains_table(TABLE).await;
    let old_host = journal(&world, &["prod/web"]);
    let mut wf = wf("prod/web", "a");
    old_host.record(&wf).unwrap();
    wf.step = Step::Deregister { target: target() };
    old_host.record(&wf).unwrap();

    // A second host takes the workflow over and moves it on.
    let new_host = journal(&world, &["prod/web"]);
    let mut taken = new_host.unfinished().unwrap();
    assert_eq!(taken, vec![wf.clone()]);
    taken[0].step = Step::Wait {
        next_check_at: 1_300,
        target: target(),
    };
    new_host.record(&taken[0]).unwrap();

    // The first host, stale, tries to write its own next step: refused.
    let mut stale = wf.clone();
    stale.step = Step::Recheck;
    let err = old_host.record(&stale).unwrap_err();
    match &err {
        JournalError::Conflict {
            id,
            expected,
            found,
        } => {
            assert_eq!(id, &wf.id);
            assert_eq!((*expected, *found), (Some(2), Some(3)));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(err.to_string().contains("written by another host"), "{err}");
    let stored = item(&world, &wf).await;
    assert_eq!(n(&stored, attr::VERSION), 3);
    assert_eq!(
        stored[attr::STEP],
        AttributeValue::S("wait".into()),
        "the newer step stays"
    );

    // A host that never saw the workflow cannot create it over the stored one.
    let stranger = journal(&world, &["prod/other"]);
    let err = stranger.record(&stale).unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Conflict {
                expected: None,
                found: Some(3),
                ..
            }
        ),
        "{err:?}"
    );

    // The host that holds the newest version goes on.
    taken[0].step = Step::Recheck;
    new_host.record(&taken[0]).unwrap();
    assert_eq!(n(&item(&world, &wf).await, attr::VERSION), 4);
}

/// An HTTP client that lets one chosen PutItem reach the server, then loses
/// its answer (a 503 instead), so the SDK retries a write that already landed.
#[derive(Debug, Clone)]
struct LoseAnswer {
    inner: SharedHttpClient,
    /// PutItem calls to let through before the one whose answer is lost.
    put_items_before: usize,
    seen: Arc<AtomicUsize>,
}

impl HttpClient for LoseAnswer {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LoseAnswerConnector {
            inner: self.inner.http_connector(settings, components),
            put_items_before: self.put_items_before,
            seen: self.seen.clone(),
        })
    }
}

#[derive(Debug)]
struct LoseAnswerConnector {
    inner: SharedHttpConnector,
    put_items_before: usize,
    seen: Arc<AtomicUsize>,
}

impl HttpConnector for LoseAnswerConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let put = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".PutItem"));
        let lose = put && self.seen.fetch_add(1, Ordering::SeqCst) == self.put_items_before;
        let answer = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let response = answer.await?;
            if !lose {
                return Ok(response);
            }
            assert!(response.status().is_success(), "the write itself landed");
            let mut lost = HttpResponse::new(
                503.try_into().unwrap(),
                SdkBody::from(
                    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ServiceUnavailable","message":"lost"}"#,
                ),
            );
            lost.headers_mut()
                .insert("content-type", "application/x-amz-json-1.0");
            Ok(lost)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_journal_accepts_its_own_write_whose_answer_was_lost() {
    let world = World::start().await;
    world.drains_table(TABLE).await;
    let seen = Arc::new(AtomicUsize::new(0));
    let sdk = world
        .sdk
        .to_builder()
        .http_client(LoseAnswer {
            inner: world.sdk.http_client().expect("the test SDK has a client"),
            put_items_before: 1,
            seen: seen.clone(),
        })
        .build();
    let j = DynamoJournal::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        TABLE,
        vec!["prod/web".into()],
    );
    let mut wf = wf("prod/web", "a");
    j.record(&wf).unwrap();
    wf.step = Step::Deregister { target: target() };
    // This write lands, its answer is lost, the SDK retries, the condition
    // refuses the retry, and the journal finds its own state stored.
    j.record(&wf).unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "the second write was sent twice"
    );
    assert_eq!(n(&item(&world, &wf).await, attr::VERSION), 2);
    wf.step = Step::Wait {
        next_check_at: 1_300,
        target: target(),
    };
    j.record(&wf).unwrap();
    assert_eq!(n(&item(&world, &wf).await, attr::VERSION), 3);
    assert_eq!(j.unfinished().unwrap(), vec![wf]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_journal_reports_a_missing_table_naming_it() {
    let world = World::start().await;
    let j = journal(&world, &["prod/web"]);
    let err = j.record(&wf("prod/web", "a")).unwrap_err();
    assert!(matches!(err, JournalError::Remote(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("PutItem on table autoscaler-drains"),
        "{err}"
    );
    let err = j.unfinished().unwrap_err();
    assert!(
        err.to_string().contains("Query on table autoscaler-drains"),
        "{err}"
    );
}

fn parse(provider: &str, journal: &str) -> Result<Config, autoscaler::config::ConfigError> {
    let policy = autoscaler::artifacts::SESSION_AWARE;
    let text = format!(
        "{journal}\n{provider}\n[[service]]\nname = \"web\"\ncluster = \"prod\"\ntarget_group = \"tg\"\npolicy = {policy:?}\n"
    );
    Config::parse(&text, std::path::Path::new("/etc/autoscaler/test.toml"))
}

#[test]
fn aws_journal_setting_defaults_to_the_file_and_needs_aws_for_dynamodb() {
    let aws = "[provider]\nkind = \"aws\"";
    let sim = "[provider]\nkind = \"sim\"";
    assert_eq!(parse(aws, "").unwrap().journal, JournalConfig::File);
    assert_eq!(
        parse(aws, "journal = { kind = \"file\" }").unwrap().journal,
        JournalConfig::File
    );
    assert_eq!(
        parse(aws, "journal = { kind = \"dynamodb\", table = \"drains\" }")
            .unwrap()
            .journal,
        JournalConfig::Dynamodb {
            table: "drains".into()
        }
    );
    assert_eq!(
        parse(aws, "journal = { kind = \"dynamodb\" }")
            .unwrap()
            .journal,
        JournalConfig::Dynamodb {
            table: "autoscaler-drains".into()
        },
        "the table has a default"
    );
    let err = parse(sim, "journal = { kind = \"dynamodb\" }").unwrap_err();
    assert!(
        err.to_string().contains("field `journal.kind`")
            && err.to_string().contains("provider.kind = \"aws\""),
        "{err}"
    );
    let err = parse(aws, "journal = { kind = \"dynamodb\", table = \" \" }").unwrap_err();
    assert!(err.to_string().contains("field `journal.table`"), "{err}");
    let err = parse(aws, "journal = { kind = \"s3\" }").unwrap_err();
    assert!(err.to_string().contains("s3"), "{err}");
}
