//! `deploy/iam-policy.json` lists exactly the AWS operations the code calls:
//! the provider and session sources are scanned for SDK client calls
//! (`client.operation_name()`), and the two sets must be equal. No server needed.
//! The drain journal's table has its own statement, so its actions may
//! repeat ones granted on the sessions table. The calls of `autoscaler setup`
//! and `policy publish` are an operator's, and must not be granted.

use std::collections::BTreeSet;
use std::path::Path;

/// Source files that call an SDK client, with the IAM service prefix of that client.
const SOURCES: &[(&str, &str)] = &[
    ("host/src/providers/aws/ecs.rs", "ecs"),
    ("host/src/providers/aws/protection.rs", "ecs"),
    ("host/src/providers/aws/elb.rs", "elasticloadbalancing"),
    ("host/src/providers/aws/cloudwatch.rs", "cloudwatch"),
    ("host/src/sessions/store/mod.rs", "dynamodb"),
    ("host/src/sessions/store/cordon.rs", "dynamodb"),
    ("host/src/providers/aws/journal/mod.rs", "dynamodb"),
    ("host/src/providers/aws/journal/write.rs", "dynamodb"),
    ("host/src/ha/table.rs", "dynamodb"),
    ("host/src/remote/s3.rs", "s3"),
];

/// Source files whose calls are an operator's, never the host's: `autoscaler
/// setup` (creates tables) and `autoscaler policy publish` (uploads). They
/// run with the operator's credentials, so the host's role must not grant them.
const OPERATOR_SOURCES: &[&str] = &[
    "host/src/providers/aws/tables.rs",
    "host/src/remote/publish.rs",
];

/// Actions granted without a call of their own, and why.
const GRANTED_WITHOUT_A_CALL: &[(&str, &str)] = &[(
    "s3:ListBucket",
    "without it, S3 answers GetObject of a missing key with 403 instead of 404",
)];

/// Folders whose every file must be listed in [`SOURCES`] (or
/// [`OPERATOR_SOURCES`]) if it calls a client.
const FOLDERS: &[&str] = &[
    "host/src/providers/aws",
    "host/src/sessions",
    "host/src/workflow",
    "host/src/remote",
    "host/src/ha",
];

/// Operations that are no IAM action of their own, and the actions that
/// govern them: a TransactWriteItems needs those of its parts (the journal's
/// Put, and the ConditionCheck on the `[ha]` lease item).
const GOVERNED_BY: &[(&str, &[&str])] = &[(
    "dynamodb:TransactWriteItems",
    &["dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
)];

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `describe_target_health` -> `DescribeTargetHealth`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Every `client . op (` in the text, where `client` is a whole word.
fn client_calls(text: &str) -> Vec<String> {
    let mut ops = Vec::new();
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices("client") {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let rest = text[at + "client".len()..].trim_start();
        let Some(rest) = rest.strip_prefix('.') else {
            continue;
        };
        let rest = rest.trim_start();
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !ident.is_empty() && rest[ident.len()..].starts_with('(') {
            ops.push(ident);
        }
    }
    ops
}

#[test]
fn iam_policy_lists_exactly_the_operations_the_code_calls() {
    let mut called = BTreeSet::new();
    for (file, prefix) in SOURCES {
        let text =
            std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let ops = client_calls(&text);
        assert!(
            !ops.is_empty(),
            "{file} is listed but calls no SDK operation"
        );
        called.extend(ops.iter().map(|op| format!("{prefix}:{}", pascal(op))));
    }
    // Subfolders too (a module that outgrew one file).
    let mut folders: Vec<_> = FOLDERS.iter().map(|f| root().join(f)).collect();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            if OPERATOR_SOURCES.contains(&rel.as_str()) {
                assert!(
                    !client_calls(&text).is_empty(),
                    "{rel} is listed as an operator's but calls no SDK operation"
                );
                continue;
            }
            if !SOURCES.iter().any(|(f, _)| *f == rel) {
                assert!(
                    client_calls(&text).is_empty(),
                    "{rel} calls an SDK client: add it to SOURCES with its IAM prefix"
                );
            }
        }
    }

    let policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/iam-policy.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    let mut granted = BTreeSet::new();
    for statement in policy["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Allow");
        let actions = match &statement["Action"] {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|v| v.as_str().unwrap().to_string()).collect()
            }
            other => panic!("Action must be a string or a list: {other}"),
        };
        // An action may appear in several statements (on different resources), once in each.
        let mut in_statement = BTreeSet::new();
        for action in actions {
            assert!(!action.contains('*'), "no wildcard actions: {action}");
            assert!(
                in_statement.insert(action.clone()),
                "{action} is listed twice in statement {}",
                statement["Sid"]
            );
            granted.insert(action);
        }
    }

    for (op, actions) in GOVERNED_BY {
        if called.remove(*op) {
            called.extend(actions.iter().map(|a| a.to_string()));
        }
    }
    called.extend(GRANTED_WITHOUT_A_CALL.iter().map(|(a, _)| a.to_string()));
    let missing: Vec<_> = called.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&called).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "policy is missing {missing:?} and grants unused {extra:?}"
    );
    for op in [
        "s3:PutObject",
        "dynamodb:CreateTable",
        "dynamodb:UpdateTimeToLive",
    ] {
        assert!(
            !granted.contains(op),
            "the host's role must not grant {op} (an operator's call)"
        );
    }
    // The scan itself works: these are certainly called.
    for op in [
        "ecs:DescribeTasks",
        "ecs:UpdateTaskProtection",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "cloudwatch:GetMetricData",
        "s3:GetObject",
    ] {
        assert!(
            called.contains(op),
            "{op} not found by the scan: {called:?}"
        );
    }
}

#[test]
fn iam_scan_finds_calls_split_across_lines() {
    let text = "let out = self\n    .client\n    .describe_services()\n    .cluster(x);\nmy_client.get();\nClient::new();";
    assert_eq!(client_calls(text), ["describe_services"]);
    assert_eq!(pascal("describe_target_health"), "DescribeTargetHealth");
}
