//! Counts AWS API calls per operation with an SDK interceptor, so the cost of
//! a tick can be measured, asserted in tests and exported as a metric.
//!
//! A *call* is one SDK operation as the code issues it; an *attempt* is one
//! HTTP request sent for it. They differ when the SDK retries.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Calls and attempts of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCount {
    /// Operations issued.
    pub calls: u64,
    /// HTTP requests sent for them, retries included.
    pub attempts: u64,
}

/// Counts per operation name (`DescribeServices`, `Query`, ...), as of some moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCounts {
    by_operation: BTreeMap<String, OpCount>,
}

impl CallCounts {
    /// Operations issued under this name.
    pub fn calls(&self, operation: &str) -> u64 {
        self.by_operation.get(operation).map_or(0, |c| c.calls)
    }

    /// HTTP requests sent for this operation, retries included.
    pub fn attempts(&self, operation: &str) -> u64 {
        self.by_operation.get(operation).map_or(0, |c| c.attempts)
    }

    /// Operations issued, all names together.
    pub fn total_calls(&self) -> u64 {
        self.by_operation.values().map(|c| c.calls).sum()
    }

    /// HTTP requests sent, all names together.
    pub fn total_attempts(&self) -> u64 {
        self.by_operation.values().map(|c| c.attempts).sum()
    }

    /// Each operation name with its counts, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, OpCount)> {
        self.by_operation.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// What happened between `earlier` and `self` (both from the same counter).
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        let by_operation = self
            .by_operation
            .iter()
            .filter_map(|(op, now)| {
                let before = earlier.by_operation.get(op).copied().unwrap_or_default();
                let diff = OpCount {
                    calls: now.calls.saturating_sub(before.calls),
                    attempts: now.attempts.saturating_sub(before.attempts),
                };
                (diff != OpCount::default()).then(|| (op.clone(), diff))
            })
            .collect();
        CallCounts { by_operation }
    }
}

impl fmt::Display for CallCounts {
    /// `DescribeServices=1 ListTasks=1 ... (6 calls, 6 attempts)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (op, c) in &self.by_operation {
            write!(f, "{op}={} ", c.calls)?;
        }
        write!(
            f,
            "({} calls, {} attempts)",
            self.total_calls(),
            self.total_attempts()
        )
    }
}

/// A cheap-to-clone counter shared by every SDK client of one provider.
/// Install it with each client config builder's `interceptor(...)`.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    inner: Arc<Mutex<CallCounts>>,
}

impl CallCounter {
    /// A counter at zero.
    pub fn new() -> CallCounter {
        CallCounter::default()
    }

    /// The counts so far.
    pub fn snapshot(&self) -> CallCounts {
        self.lock().clone()
    }

    /// The counts so far, resetting the counter to zero (for per-tick reports).
    pub fn take(&self) -> CallCounts {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, CallCounts> {
        // A panic while holding this lock cannot leave the counts inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self, cfg: &ConfigBag, f: impl FnOnce(&mut OpCount)) {
        let name = cfg
            .load::<Metadata>()
            .map_or("Unknown", |m| m.name())
            .to_string();
        f(self.lock().by_operation.entry(name).or_default());
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "autoscaler::CallCounter"
    }

    // Once per call, after the operation's configuration (which names it) is applied.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.calls += 1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.attempts += 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64, u64)]) -> CallCounts {
        CallCounts {
            by_operation: pairs
                .iter()
                .map(|(op, calls, attempts)| {
                    (
                        op.to_string(),
                        OpCount {
                            calls: *calls,
                            attempts: *attempts,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn since_keeps_only_what_changed() {
        let before = counts(&[("ListTasks", 2, 2), ("Query", 1, 1)]);
        let after = counts(&[
            ("ListTasks", 3, 4),
            ("Query", 1, 1),
            ("GetMetricData", 1, 1),
        ]);
        let diff = after.since(&before);
        assert_eq!(diff.calls("ListTasks"), 1);
        assert_eq!(diff.attempts("ListTasks"), 2);
        assert_eq!(diff.calls("Query"), 0);
        assert_eq!(diff.total_calls(), 2);
        assert_eq!(diff.iter().count(), 2);
        assert_eq!(
            diff.to_string(),
            "GetMetricData=1 ListTasks=1 (2 calls, 3 attempts)"
        );
    }

    #[test]
    fn take_resets() {
        let counter = CallCounter::new();
        counter.lock().by_operation.insert(
            "Query".into(),
            OpCount {
                calls: 1,
                attempts: 1,
            },
        );
        assert_eq!(counter.take().total_calls(), 1);
        assert_eq!(counter.snapshot().total_calls(), 0);
    }
}
