//! `[provider]` and `[journal]`: which world the daemon acts on, and where
//! drain workflows are journaled; each with its checks.

use std::time::Duration;

use serde::Deserialize;

use crate::sim::{FaultPlan, SimConfig, SimError};

/// Which world the daemon acts on.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ProviderConfig {
    /// The built-in simulated Fargate cluster: no AWS account needed.
    Sim {
        /// The simulated world (seed, metrics delay).
        #[serde(default)]
        world: SimConfig,
        /// Simulated seconds per wall-clock second; 0 runs as fast as the machine allows.
        #[serde(default = "default_speed")]
        speed: f64,
        /// Stop after this much simulated time, and print a summary.
        #[serde(default, with = "humantime_serde::option")]
        duration: Option<Duration>,
        /// Random faults in the simulated provider's calls (throttling, 5xx,
        /// timeouts, partial batches, reads that lag writes); none by default.
        /// See `autoscaler::sim::faults` for the table's fields.
        #[serde(default)]
        faults: Option<Box<FaultPlan>>,
    },
    /// Real AWS (or an AWS-compatible endpoint), with the default credential chain.
    Aws {
        /// The region; default: from the environment or profile.
        #[serde(default)]
        region: Option<String>,
        /// An endpoint to use instead of AWS's (also read from AWS_ENDPOINT_URL).
        #[serde(default)]
        endpoint_url: Option<String>,
        /// The DynamoDB table of active sessions.
        #[serde(default = "default_sessions_table")]
        sessions_table: String,
    },
}

/// Where the drain journal lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum JournalConfig {
    /// `drains.jsonl` in `state_dir`, fsynced on every write: one host per set of services.
    #[default]
    File,
    /// A DynamoDB table several hosts can share, with conditional writes
    /// (schema in [`crate::providers::aws::journal`]); needs `provider.kind = "aws"`.
    Dynamodb {
        /// The table's name.
        #[serde(default = "default_journal_table")]
        table: String,
    },
}

fn default_journal_table() -> String {
    crate::providers::aws::journal::DEFAULT_TABLE.into()
}

fn default_speed() -> f64 {
    60.0
}

fn default_sessions_table() -> String {
    "autoscaler-sessions".into()
}

impl ProviderConfig {
    /// Checks the simulated provider's speed, world and faults (AWS has
    /// nothing to check here). The error's field is relative to `provider`.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        let ProviderConfig::Sim {
            speed,
            world,
            faults,
            ..
        } = self
        else {
            return Ok(());
        };
        if !speed.is_finite() || *speed < 0.0 {
            return Err((
                "speed".into(),
                format!("expected a number of at least 0, found {speed}"),
            ));
        }
        world
            .validate()
            .map_err(|e| ("world".to_string(), e.to_string()))?;
        if let Some(plan) = faults {
            plan.validate().map_err(|e| match e {
                SimError::Config { field, message } => (field, message),
                other => ("faults".into(), other.to_string()),
            })?;
        }
        Ok(())
    }
}

impl JournalConfig {
    /// Checks the journal against the provider (`sim`: the simulated one).
    /// The error's field is relative to `journal`.
    pub(crate) fn validate(&self, sim: bool) -> Result<(), (String, String)> {
        match self {
            JournalConfig::Dynamodb { .. } if sim => Err((
                "kind".into(),
                "a \"dynamodb\" journal needs provider.kind = \"aws\"; the simulated cluster uses kind = \"file\"".into(),
            )),
            JournalConfig::Dynamodb { table } if table.trim().is_empty() => Err((
                "table".into(),
                "expected the name of a DynamoDB table".into(),
            )),
            _ => Ok(()),
        }
    }
}
