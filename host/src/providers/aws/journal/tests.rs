use super::*;
use crate::workflow::DrainConfig;

fn journal() -> DynamoJournal {
    // Never reached: the runtime check comes first.
    let conf = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    DynamoJournal::new(Client::from_conf(conf), "t", vec!["c/s".into()])
}

fn wf() -> DrainWorkflow {
    DrainWorkflow::new("c/s", "task", None, 100, &DrainConfig::default())
}

#[test]
fn outside_a_runtime_every_call_is_an_error_not_a_panic() {
    let j = journal();
    let err = j.record(&wf()).unwrap_err();
    assert!(
        err.to_string().contains("multi-threaded tokio runtime"),
        "{err}"
    );
    assert!(j.unfinished().is_err());
}

#[test]
fn on_a_current_thread_runtime_every_call_is_an_error_not_a_panic() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let j = journal();
    let err = rt.block_on(async { j.record(&wf()) }).unwrap_err();
    assert!(
        err.to_string().contains("multi-threaded tokio runtime"),
        "{err}"
    );
}

#[test]
fn an_item_without_a_workflow_is_refused_with_a_reason() {
    let mut item = HashMap::new();
    item.insert(attr::VERSION.to_string(), AttributeValue::N("3".into()));
    assert_eq!(parse_item(&item).unwrap_err(), "no string `state`");
    item.insert(attr::STATE.to_string(), AttributeValue::S("{}".into()));
    assert!(parse_item(&item).unwrap_err().contains("not a workflow"));
    let w = wf();
    item.insert(
        attr::STATE.to_string(),
        AttributeValue::S(serde_json::to_string(&w).unwrap()),
    );
    assert_eq!(parse_item(&item).unwrap(), (w, 3));
}
