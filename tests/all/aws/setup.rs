//! `autoscaler setup` against moto: creates the sessions and journal tables
//! with their documented keys and TTL, says so, and a second run changes
//! nothing and says that; a table with other keys is refused, untouched.

use std::ffi::OsString;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveStatus,
};

use super::moto::Moto;
use super::process::command;

fn config(moto: &Moto, dir: &std::path::Path, sessions: &str, journal: &str) -> std::path::PathBuf {
    let path = dir.join("autoscaler.toml");
    std::fs::write(dir.join("p.wasm"), b"").unwrap();
    std::fs::write(
        &path,
        format!(
            r#"
journal = {{ kind = "dynamodb", table = "{journal}" }}
[provider]
kind = "aws"
region = "us-east-1"
endpoint_url = "{}"
sessions_table = "{sessions}"
[[service]]
name = "web"
cluster = "prod"
target_group = "tg"
policy = "p.wasm"
"#,
            moto.endpoint()
        ),
    )
    .unwrap();
    path
}

fn setup(config: &std::path::Path, dir: &std::path::Path) -> (bool, String) {
    let args: Vec<OsString> = vec!["setup".into(), "--config".into(), config.into()];
    let out = command(&args, None, dir).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn keys(client: &aws_sdk_dynamodb::Client, table: &str) -> (String, String, String) {
    let t = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let t = t.table().unwrap();
    let key = |kt: KeyType| {
        t.key_schema()
            .iter()
            .find(|k| *k.key_type() == kt)
            .unwrap()
            .attribute_name()
            .to_string()
    };
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    (
        key(KeyType::Hash),
        key(KeyType::Range),
        ttl.attribute_name().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_creates_the_tables_once_and_refuses_one_with_other_keys() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&moto, dir.path(), "my-sessions", "my-drains");

    let (ok, first) = setup(&cfg, dir.path());
    assert!(ok, "{first}");
    assert!(
        first.contains(
            "sessions table my-sessions: created (keys service + task_session, TTL on `expires_at`)"
        ),
        "{first}"
    );
    assert!(
        first.contains("drain journal table my-drains: created (keys service + workflow_id, TTL on `expires_at`)"),
        "{first}"
    );
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    assert_eq!(
        keys(&ddb, "my-sessions").await,
        ("service".into(), "task_session".into(), "expires_at".into())
    );
    assert_eq!(
        keys(&ddb, "my-drains").await,
        ("service".into(), "workflow_id".into(), "expires_at".into())
    );

    let (ok, second) = setup(&cfg, dir.path());
    assert!(ok, "{second}");
    assert!(
        second.contains("sessions table my-sessions: already there (keys service + task_session, TTL already on `expires_at`)"),
        "{second}"
    );
    assert!(
        second.contains("drain journal table my-drains: already there"),
        "{second}"
    );
    assert!(!second.contains("created"), "{second}");
    let tables = ddb.list_tables().send().await.unwrap();
    assert_eq!(tables.table_names().len(), 2);

    // A table of that name with other keys: refused, and left as it was.
    ddb.create_table()
        .table_name("wrong")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let cfg = config(&moto, dir.path(), "wrong", "my-drains");
    let (ok, text) = setup(&cfg, dir.path());
    assert!(!ok, "{text}");
    assert!(
        text.contains("sessions table wrong exists with keys id (HASH), not service (HASH) + task_session (RANGE)"),
        "{text}"
    );
    let t = ddb
        .describe_table()
        .table_name("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(t.table().unwrap().key_schema().len(), 1);
}
