//! `autoscaler setup`: creating the DynamoDB tables a config names, with
//! their documented keys and TTL, idempotently. A table that exists is left
//! as it is when its keys match (its TTL is switched on if it is off); one
//! whose keys differ is an error naming both schemas, never altered.
//!
//! | table | partition key | sort key | TTL attribute |
//! |---|---|---|---|
//! | sessions (`provider.sessions_table`) | `service` (S) | `task_session` (S) | `expires_at` |
//! | drain journal (`journal.table`, with `kind = "dynamodb"`) | `service` (S) | `workflow_id` (S) | `expires_at` |
//! | leases (`ha.table`, with `[ha]`) | `group` (S) | `id` (S) | `expires_at` |
//!
//! All are on-demand (`PAY_PER_REQUEST`).

use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::escape::escape;

/// How long a new table may take to become ACTIVE before setup gives up.
pub const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// One table to set up: its name, keys and TTL attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// What the table is for, for people ("sessions", "drain journal").
    pub role: &'static str,
    /// The table's name.
    pub name: String,
    /// The partition key (a string attribute).
    pub partition_key: &'static str,
    /// The sort key (a string attribute).
    pub sort_key: &'static str,
    /// The attribute DynamoDB's TTL reads.
    pub ttl_attribute: &'static str,
}

impl TableSpec {
    /// The sessions table (schema in [`crate::sessions`]).
    pub fn sessions(name: &str) -> TableSpec {
        use crate::sessions::attr;
        TableSpec {
            role: "sessions",
            name: name.to_string(),
            partition_key: attr::SERVICE,
            sort_key: attr::TASK_SESSION,
            ttl_attribute: attr::EXPIRES_AT,
        }
    }

    /// The lease table of `[ha]` (schema in [`crate::ha::table`]).
    pub fn leases(name: &str) -> TableSpec {
        use crate::ha::table::attr;
        TableSpec {
            role: "leases",
            name: name.to_string(),
            partition_key: attr::GROUP,
            sort_key: attr::ID,
            ttl_attribute: attr::EXPIRES_AT,
        }
    }

    /// The drain journal table (schema in [`super::journal`]).
    pub fn journal(name: &str) -> TableSpec {
        use super::journal::attr;
        TableSpec {
            role: "drain journal",
            name: name.to_string(),
            partition_key: attr::SERVICE,
            sort_key: attr::WORKFLOW_ID,
            ttl_attribute: attr::EXPIRES_AT,
        }
    }
}

/// What setup did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOutcome {
    /// The table.
    pub spec: TableSpec,
    /// Whether it was created now (else it was already there).
    pub created: bool,
    /// Whether its TTL was switched on now (else it was already on).
    pub ttl_enabled: bool,
}

impl fmt::Display for TableOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let what = if self.created {
            "created"
        } else {
            "already there"
        };
        let ttl = match (self.created, self.ttl_enabled) {
            (true, _) => "TTL on",
            (false, true) => "TTL was off: switched on",
            (false, false) => "TTL already on",
        };
        write!(
            f,
            "{} table {}: {what} (keys {} + {}, {ttl} `{}`)",
            s.role, s.name, s.partition_key, s.sort_key, s.ttl_attribute
        )
    }
}

/// Why setup failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The table exists with other keys.
    #[error(
        "{role} table {name} exists with keys {found}, not {partition_key} (HASH) + {sort_key} (RANGE); the host cannot use it: name another table in the config or remove this one"
    )]
    WrongKeys {
        /// What the table is for.
        role: &'static str,
        /// The table.
        name: String,
        /// Its keys.
        found: String,
        /// The expected partition key.
        partition_key: &'static str,
        /// The expected sort key.
        sort_key: &'static str,
    },
    /// A call failed.
    #[error("{call} on table {name} failed: {message}")]
    Call {
        /// The API call.
        call: &'static str,
        /// The table.
        name: String,
        /// What went wrong (escaped).
        message: String,
    },
    /// The table did not become active in time.
    #[error("table {name} was not ACTIVE within {} s of being created; check it in the DynamoDB console and run setup again", ACTIVE_TIMEOUT.as_secs())]
    NotActive {
        /// The table.
        name: String,
    },
}

fn call_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: fmt::Debug>(
    call: &'static str,
    name: &str,
) -> impl FnOnce(SdkError<E, R>) -> TableError {
    let name = name.to_string();
    move |e| TableError::Call {
        call,
        name,
        message: escape(&DisplayErrorContext(&e).to_string()).into_owned(),
    }
}

/// Creates `spec`'s table if it is missing (and waits until it is ACTIVE),
/// checks its keys if it exists, and switches its TTL on if it is off.
pub async fn ensure_table(client: &Client, spec: &TableSpec) -> Result<TableOutcome, TableError> {
    let name = spec.name.as_str();
    let described = client.describe_table().table_name(name).send().await;
    let created = match described {
        Ok(out) => {
            let keys = out
                .table()
                .map(|t| t.key_schema().to_vec())
                .unwrap_or_default();
            check_keys(spec, &keys)?;
            false
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            create(client, spec).await?;
            true
        }
        Err(e) => return Err(call_error("DescribeTable", name)(e)),
    };
    let ttl = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(call_error("DescribeTimeToLive", name))?;
    let on = ttl.time_to_live_description().is_some_and(|d| {
        matches!(
            d.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) && d.attribute_name() == Some(spec.ttl_attribute)
    });
    if !on {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(spec.ttl_attribute)
                    .build()
                    .expect("enabled and attribute_name are set"),
            )
            .send()
            .await
            .map_err(call_error("UpdateTimeToLive", name))?;
    }
    Ok(TableOutcome {
        spec: spec.clone(),
        created,
        ttl_enabled: !on,
    })
}

fn check_keys(spec: &TableSpec, keys: &[KeySchemaElement]) -> Result<(), TableError> {
    let key = |t: KeyType| {
        keys.iter()
            .find(|k| *k.key_type() == t)
            .map(|k| k.attribute_name().to_string())
    };
    let (hash, range) = (key(KeyType::Hash), key(KeyType::Range));
    if hash.as_deref() == Some(spec.partition_key) && range.as_deref() == Some(spec.sort_key) {
        return Ok(());
    }
    let found = format!(
        "{} (HASH){}",
        hash.as_deref().unwrap_or("none"),
        range.map(|r| format!(" + {r} (RANGE)")).unwrap_or_default()
    );
    Err(TableError::WrongKeys {
        role: spec.role,
        name: spec.name.clone(),
        found: escape(&found).into_owned(),
        partition_key: spec.partition_key,
        sort_key: spec.sort_key,
    })
}

async fn create(client: &Client, spec: &TableSpec) -> Result<(), TableError> {
    let name = spec.name.as_str();
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("name and type are set")
    };
    let created = client
        .create_table()
        .table_name(name)
        .attribute_definitions(attr(spec.partition_key))
        .attribute_definitions(attr(spec.sort_key))
        .key_schema(key(spec.partition_key, KeyType::Hash))
        .key_schema(key(spec.sort_key, KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Another setup created it meanwhile: check it like an existing one.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(call_error("CreateTable", name)(e)),
    }
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(call_error("DescribeTable", name))?;
        let table = out.table();
        check_keys(spec, table.map(|t| t.key_schema()).unwrap_or_default())?;
        if table.and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TableError::NotActive {
                name: name.to_string(),
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
