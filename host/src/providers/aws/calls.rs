//! Counts AWS API calls per service and operation with an SDK interceptor, so
//! the cost of a tick can be measured, asserted in tests and exported as the
//! `autoscaler_aws_*` metrics (see [`CallCounter`]'s [`Collect`] impl).
//!
//! A *call* is one SDK operation as the code issues it; an *attempt* is one
//! HTTP request sent for it. They differ when the SDK retries. A call that
//! fails after its retries counts one error, of one [`ErrorKind`].

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write;
use std::sync::Arc;

use parking_lot::Mutex;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, Error,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::events::{Collect, labels};

/// Why a call failed, as the `autoscaler_aws_call_errors_total` metric counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum ErrorKind {
    /// HTTP 429 or a throttling error code (`ThrottlingException`, `Throttling`, ...).
    Throttling,
    /// Any other HTTP 5xx.
    Server,
    /// Any other HTTP 4xx: access denied, not found, invalid parameters.
    Client,
    /// No answer: the attempt or operation timed out, or the connection failed.
    Timeout,
    /// Anything else (the request could not be built, the answer not parsed).
    Other,
}

impl ErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Throttling,
        ErrorKind::Server,
        ErrorKind::Client,
        ErrorKind::Timeout,
        ErrorKind::Other,
    ];

    /// The metric label: `throttling`, `server`, `client`, `timeout` or `other`.
    pub fn label(self) -> &'static str {
        self.into()
    }

    /// Classifies a failed call by the SDK's error and the last HTTP response.
    fn of(error: &OrchestratorError<Error>, response: Option<&HttpResponse>) -> ErrorKind {
        if error.is_timeout_error() || error.is_connector_error() {
            return ErrorKind::Timeout;
        }
        match response {
            Some(r) => ErrorKind::of_response(r.status().as_u16(), error_code(r).as_deref()),
            None => ErrorKind::Other,
        }
    }

    fn of_response(status: u16, code: Option<&str>) -> ErrorKind {
        if status == 429 || code.is_some_and(|c| super::errors::THROTTLING_CODES.contains(&c)) {
            ErrorKind::Throttling
        } else if status >= 500 {
            ErrorKind::Server
        } else if status >= 400 {
            ErrorKind::Client
        } else {
            ErrorKind::Other
        }
    }
}

/// The error code of an error response: the `x-amzn-errortype` or
/// `x-amzn-query-error` header (JSON protocols: ECS, DynamoDB, CloudWatch),
/// else `<Code>` in an XML body (the query protocol: ELBv2).
fn error_code(r: &HttpResponse) -> Option<String> {
    let header = ["x-amzn-errortype", "x-amzn-query-error"]
        .iter()
        .find_map(|h| r.headers().get(*h));
    if let Some(h) = header {
        // `Code:uri` (JSON) or `Code;Sender` (query error): the code comes first.
        let code = h.split([':', ';']).next().unwrap_or(h);
        return Some(code.rsplit('#').next().unwrap_or(code).to_string());
    }
    let body = std::str::from_utf8(r.body().bytes()?).ok()?;
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    Some(body[start..start + len].to_string())
}

/// Calls, attempts and errors of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCount {
    /// Operations issued.
    pub calls: u64,
    /// HTTP requests sent for them, retries included.
    pub attempts: u64,
    /// Calls that failed (after the SDK's retries), by [`ErrorKind`] in
    /// [`ErrorKind::ALL`] order.
    pub errors: [u64; 5],
}

impl OpCount {
    /// Calls that failed with this kind of error.
    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors[kind as usize]
    }

    fn add(&mut self, other: &OpCount) {
        self.calls += other.calls;
        self.attempts += other.attempts;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
    }

    fn minus(&self, earlier: &OpCount) -> OpCount {
        let mut errors = self.errors;
        for (a, b) in errors.iter_mut().zip(earlier.errors) {
            *a = a.saturating_sub(b);
        }
        OpCount {
            calls: self.calls.saturating_sub(earlier.calls),
            attempts: self.attempts.saturating_sub(earlier.attempts),
            errors,
        }
    }
}

/// Counts per AWS service (`ecs`, `elbv2`, `cloudwatch`, `dynamodb`) and
/// operation name (`DescribeServices`, `Query`, ...), as of some moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCounts {
    by_operation: BTreeMap<(&'static str, String), OpCount>,
}

impl CallCounts {
    fn op(&self, operation: &str) -> OpCount {
        let mut total = OpCount::default();
        for ((_, op), c) in &self.by_operation {
            if op == operation {
                total.add(c);
            }
        }
        total
    }

    /// Operations issued under this name.
    pub fn calls(&self, operation: &str) -> u64 {
        self.op(operation).calls
    }

    /// HTTP requests sent for this operation, retries included.
    pub fn attempts(&self, operation: &str) -> u64 {
        self.op(operation).attempts
    }

    /// Calls of this operation that failed with this kind of error.
    pub fn errors(&self, operation: &str, kind: ErrorKind) -> u64 {
        self.op(operation).errors(kind)
    }

    /// Operations issued, all names together.
    pub fn total_calls(&self) -> u64 {
        self.by_operation.values().map(|c| c.calls).sum()
    }

    /// HTTP requests sent, all names together.
    pub fn total_attempts(&self) -> u64 {
        self.by_operation.values().map(|c| c.attempts).sum()
    }

    /// Each operation name with its counts (all services together), in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, OpCount)> {
        let mut merged: BTreeMap<&str, OpCount> = BTreeMap::new();
        for ((_, op), c) in &self.by_operation {
            merged.entry(op.as_str()).or_default().add(c);
        }
        merged.into_iter()
    }

    /// Each service and operation with its counts, in that order.
    pub fn iter_by_service(&self) -> impl Iterator<Item = (&'static str, &str, OpCount)> {
        self.by_operation
            .iter()
            .map(|((s, op), c)| (*s, op.as_str(), *c))
    }

    /// What happened between `earlier` and `self` (both from the same counter).
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        let by_operation = self
            .by_operation
            .iter()
            .filter_map(|(key, now)| {
                let before = earlier.by_operation.get(key).copied().unwrap_or_default();
                let diff = now.minus(&before);
                (diff != OpCount::default()).then(|| (key.clone(), diff))
            })
            .collect();
        CallCounts { by_operation }
    }
}

impl fmt::Display for CallCounts {
    /// `DescribeServices=1 ListTasks=1 ... (6 calls, 6 attempts)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (op, c) in self.iter() {
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
/// Install [`CallCounter::interceptor`] with each client config builder's
/// `interceptor(...)`, naming the client's service.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    inner: Arc<Mutex<CallCounts>>,
}

impl CallCounter {
    /// A counter at zero.
    pub fn new() -> CallCounter {
        CallCounter::default()
    }

    /// The interceptor that counts one client's calls under `service`
    /// (`ecs`, `elbv2`, `cloudwatch`, `dynamodb`).
    pub fn interceptor(&self, service: &'static str) -> ServiceCalls {
        ServiceCalls {
            counter: self.clone(),
            service,
        }
    }

    /// The counts so far.
    pub fn snapshot(&self) -> CallCounts {
        self.inner.lock().clone()
    }

    /// The counts so far, resetting the counter to zero (for per-tick reports).
    /// The exported metrics restart from zero too, which Prometheus reads as a
    /// counter reset; the daemon never calls this.
    pub fn take(&self) -> CallCounts {
        std::mem::take(&mut *self.inner.lock())
    }

    fn bump(&self, service: &'static str, cfg: &ConfigBag, f: impl FnOnce(&mut OpCount)) {
        let name = cfg
            .load::<Metadata>()
            .map_or("Unknown", |m| m.name())
            .to_string();
        f(self
            .inner
            .lock()
            .by_operation
            .entry((service, name))
            .or_default());
    }
}

impl Collect for CallCounter {
    fn collect(&self, out: &mut String) {
        let counts = self.snapshot();
        let families = [
            (
                "autoscaler_aws_calls_total",
                "AWS API operations issued, by AWS service and operation (one per call, retries not counted).",
            ),
            (
                "autoscaler_aws_call_attempts_total",
                "HTTP requests sent for AWS API operations, retries included.",
            ),
        ];
        for (i, (name, help)) in families.iter().enumerate() {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (service, op, c) in counts.iter_by_service() {
                let l = labels(&[("service", service), ("operation", op)]);
                let v = if i == 0 { c.calls } else { c.attempts };
                let _ = writeln!(out, "{name}{{{l}}} {v}");
            }
        }
        let name = "autoscaler_aws_call_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} AWS API operations that failed after the SDK's retries, by kind: throttling, server (5xx), client (4xx), timeout (timeout or connection failure), other."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for (service, op, c) in counts.iter_by_service() {
            for kind in ErrorKind::ALL.into_iter().filter(|k| c.errors(*k) > 0) {
                let l = labels(&[
                    ("service", service),
                    ("operation", op),
                    ("kind", kind.label()),
                ]);
                let _ = writeln!(out, "{name}{{{l}}} {}", c.errors(kind));
            }
        }
    }
}

/// The interceptor of one SDK client: counts into its [`CallCounter`] under
/// the client's service name.
#[derive(Debug, Clone)]
pub struct ServiceCalls {
    counter: CallCounter,
    service: &'static str,
}

impl Intercept for ServiceCalls {
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
        self.counter.bump(self.service, cfg, |c| c.calls += 1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.counter.bump(self.service, cfg, |c| c.attempts += 1);
        Ok(())
    }

    // Once per call, with its final result.
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Err(e)) = context.output_or_error() {
            let kind = ErrorKind::of(e, context.response());
            self.counter
                .bump(self.service, cfg, |c| c.errors[kind as usize] += 1);
        }
        Ok(())
    }
}
#[cfg(test)]
mod tests;
