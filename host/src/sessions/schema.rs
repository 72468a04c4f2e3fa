//! The session item's attributes and keys, and their conversion from DynamoDB items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

/// The table name used when the config names none.
pub const DEFAULT_TABLE: &str = "autoscaler-sessions";

/// Attribute names of a session item.
pub mod attr {
    /// Partition key: `cluster/service`.
    pub const SERVICE: &str = "service";
    /// Sort key: `task_id#session_id`.
    pub const TASK_SESSION: &str = "task_session";
    /// Start time, Unix seconds.
    pub const STARTED_AT: &str = "started_at";
    /// Optional heartbeat deadline, Unix seconds.
    pub const EXPIRES_AT: &str = "expires_at";
    /// On a cordon item: since when the task is cordoned, Unix seconds.
    pub const CORDONED_SINCE: &str = "cordoned_since";
}

/// The sort key prefix of a cordon item (`#cordon#TASK_ID`): a session's
/// sort key starts with its task ID, which is never empty and holds no `#`,
/// so the two can never collide, and readers of sessions skip items that
/// start with `#`.
pub const CORDON_PREFIX: &str = "#cordon#";

/// How long a cordon item outlives its cordon if the host never lifts it
/// (DynamoDB's TTL removes it): the host lifts it when the task stops, is
/// uncordoned or its drain rolls back, so this only bounds leftovers.
pub const CORDON_ITEM_TTL_S: u64 = 14 * 24 * 3600;

/// The sort key of a task's cordon item.
pub fn cordon_sort_key(task_id: &str) -> String {
    format!("{CORDON_PREFIX}{task_id}")
}

/// The cluster's name, given its name or ARN (`arn:aws:ecs:...:cluster/NAME`).
pub fn cluster_name(cluster: &str) -> &str {
    if cluster.starts_with("arn:") {
        cluster.rsplit('/').next().unwrap_or(cluster)
    } else {
        cluster
    }
}

/// The partition key of a service's sessions: `cluster-name/service`.
pub fn partition_key(cluster: &str, service: &str) -> String {
    format!("{}/{}", cluster_name(cluster), service)
}

/// Names one session of one task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// The ECS cluster name (an ARN is reduced to its name in the key).
    pub cluster: String,
    /// The ECS service name.
    pub service: String,
    /// The ECS task ID (last part of the task ARN); holds no `#`.
    pub task_id: String,
    /// The application's session ID.
    pub session_id: String,
}

impl SessionKey {
    /// The item's partition key.
    pub fn partition_key(&self) -> String {
        partition_key(&self.cluster, &self.service)
    }

    /// The item's sort key: `task_id#session_id`.
    pub fn sort_key(&self) -> String {
        format!("{}#{}", self.task_id, self.session_id)
    }

    /// The item's primary key, as DynamoDB takes it.
    pub(crate) fn item_key(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                attr::SERVICE.to_string(),
                AttributeValue::S(self.partition_key()),
            ),
            (
                attr::TASK_SESSION.to_string(),
                AttributeValue::S(self.sort_key()),
            ),
        ])
    }
}

/// One stored session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// The task carrying it.
    pub task_id: String,
    /// The application's session ID.
    pub session_id: String,
    /// When it started, Unix seconds.
    pub started_at: u64,
    /// Its heartbeat deadline, Unix seconds; none when it lives until its end event.
    pub expires_at: Option<u64>,
}

impl SessionRecord {
    /// Whether the session counts at `now`: it has no deadline, or the deadline
    /// has not passed. A deadline equal to `now` still counts, erring on the
    /// side of keeping a task.
    pub fn is_active(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|deadline| deadline >= now)
    }

    /// Reads an item; the error says which attribute is wrong.
    pub(crate) fn from_item(
        item: &HashMap<String, AttributeValue>,
    ) -> Result<SessionRecord, String> {
        let sort_key = match item.get(attr::TASK_SESSION) {
            Some(AttributeValue::S(s)) => s,
            _ => {
                return Err(format!(
                    "attribute {} is missing or not a string",
                    attr::TASK_SESSION
                ));
            }
        };
        let Some((task_id, session_id)) = sort_key.split_once('#') else {
            return Err(format!(
                "{} {sort_key:?} has no '#' between task and session",
                attr::TASK_SESSION
            ));
        };
        let number = |name: &str| -> Result<Option<u64>, String> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::N(n)) => {
                    // Written by other tools, a number may carry a fraction: keep whole seconds.
                    let value: f64 = n
                        .parse()
                        .map_err(|_| format!("attribute {name} is not a number: {n:?}"))?;
                    if value.is_finite() && value >= 0.0 {
                        Ok(Some(value as u64))
                    } else {
                        Err(format!("attribute {name} is out of range: {n}"))
                    }
                }
                Some(_) => Err(format!("attribute {name} is not a number")),
            }
        };
        Ok(SessionRecord {
            task_id: task_id.to_string(),
            session_id: session_id.to_string(),
            started_at: number(attr::STARTED_AT)?.unwrap_or(0),
            expires_at: number(attr::EXPIRES_AT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn cluster_arns_reduce_to_names() {
        assert_eq!(
            cluster_name("arn:aws:ecs:eu-west-1:123456789012:cluster/prod"),
            "prod"
        );
        assert_eq!(cluster_name("prod"), "prod");
        assert_eq!(
            partition_key("arn:aws:ecs:eu-west-1:1:cluster/prod", "web"),
            "prod/web"
        );
    }

    #[test]
    fn keys_follow_the_schema() {
        let key = SessionKey {
            cluster: "prod".into(),
            service: "web".into(),
            task_id: "abc".into(),
            session_id: "s#1".into(),
        };
        assert_eq!(key.partition_key(), "prod/web");
        assert_eq!(key.sort_key(), "abc#s#1");
    }

    #[test]
    fn items_parse_and_split_at_the_first_hash() {
        let r = SessionRecord::from_item(&item(&[
            (attr::TASK_SESSION, AttributeValue::S("t1#s#2".into())),
            (attr::STARTED_AT, AttributeValue::N("100".into())),
            (attr::EXPIRES_AT, AttributeValue::N("160.5".into())),
        ]))
        .unwrap();
        assert_eq!((r.task_id.as_str(), r.session_id.as_str()), ("t1", "s#2"));
        assert_eq!((r.started_at, r.expires_at), (100, Some(160)));
        assert!(r.is_active(160));
        assert!(!r.is_active(161));
    }

    #[test]
    fn bad_items_name_the_attribute() {
        let err = SessionRecord::from_item(&item(&[(
            attr::TASK_SESSION,
            AttributeValue::S("nohash".into()),
        )]));
        assert!(err.unwrap_err().contains("task_session"));
        let err = SessionRecord::from_item(&item(&[
            (attr::TASK_SESSION, AttributeValue::S("t#s".into())),
            (attr::EXPIRES_AT, AttributeValue::S("soon".into())),
        ]));
        assert!(err.unwrap_err().contains("expires_at"));
    }

    #[test]
    fn sessions_without_deadline_are_always_active() {
        let r = SessionRecord {
            task_id: "t".into(),
            session_id: "s".into(),
            started_at: 1,
            expires_at: None,
        };
        assert!(r.is_active(u64::MAX));
    }
}
