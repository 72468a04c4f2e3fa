//! [`Event`]: one per thing that happens in the host, with the fields its
//! log line and its metric labels are made of.

use std::time::Duration;

use crate::runtime::FaultKind;
use crate::tick::guard::Action;
use crate::tick::guard::GuardRule;
use crate::tick::outcome::DrainEnd;
use crate::workflow::{CordonMechanism, StepKind};

/// Something that happened in the host.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A tick of a service finished.
    TickFinished {
        /// The service key.
        service: &'a str,
        /// What the guard allowed.
        action: &'a Action,
        /// The status line: counts, load and the reason.
        summary: &'a str,
    },
    /// Gathering a snapshot failed; the tick held.
    GatherFailed {
        /// The service key.
        service: &'a str,
        /// What failed.
        error: &'a str,
    },
    /// A policy was called.
    PolicyCalled {
        /// The service key.
        service: &'a str,
        /// How long the call took.
        elapsed: Duration,
    },
    /// A policy faulted; the tick held.
    PolicyFaulted {
        /// The service key.
        service: &'a str,
        /// The policy's name.
        policy: &'a str,
        /// The fault kind.
        kind: FaultKind,
        /// The fault.
        message: &'a str,
        /// Whether it was a shadow policy.
        shadow: bool,
    },
    /// The guard changed a decision.
    GuardAdjusted {
        /// The service key.
        service: &'a str,
        /// The rule.
        rule: GuardRule,
        /// Why.
        reason: &'a str,
    },
    /// The desired count was set.
    DesiredSet {
        /// The service key.
        service: &'a str,
        /// The new desired count.
        desired: u32,
    },
    /// An action failed to execute.
    ActionFailed {
        /// The service key.
        service: &'a str,
        /// What failed.
        error: &'a str,
    },
    /// A drain step completed.
    DrainStep {
        /// The service key.
        service: &'a str,
        /// The victim.
        task: &'a str,
        /// The step.
        step: StepKind,
    },
    /// A drain step failed with a transient error; it is retried after a backoff.
    DrainRetried {
        /// The service key.
        service: &'a str,
        /// The victim.
        task: &'a str,
        /// The step that failed.
        step: StepKind,
        /// The error.
        error: &'a str,
    },
    /// A drain finished.
    DrainFinished {
        /// The service key.
        service: &'a str,
        /// The victim.
        task: &'a str,
        /// How it ended.
        outcome: DrainEnd,
        /// Why, for aborts and roll-backs.
        detail: &'a str,
    },
    /// A busy task was cordoned: its cordon workflow started.
    Cordoned {
        /// The service key.
        service: &'a str,
        /// The task.
        task: &'a str,
        /// How the cordon keeps new sessions off the task.
        mechanism: CordonMechanism,
    },
    /// A cordoned task serves new sessions again (its cordon stepped back).
    Uncordoned {
        /// The service key.
        service: &'a str,
        /// The task.
        task: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// A deregister-cordoned target was found registered again (by ECS or a
    /// person) and was deregistered again.
    ReDeregistered {
        /// The service key.
        service: &'a str,
        /// The task.
        task: &'a str,
        /// None when deregistered again; the error when that failed.
        error: Option<&'a str>,
    },
    /// How many tasks of the service are cordoned, at a tick (a gauge).
    CordonedTasks {
        /// The service key.
        service: &'a str,
        /// Tasks cordoned.
        count: u32,
    },
    /// The live policy kept faulting, so the fallback policy decided this tick.
    FallbackDecided {
        /// The service key.
        service: &'a str,
        /// The fallback policy's name.
        policy: &'a str,
        /// The live policy's faults among the last `window` ticks.
        faults: u32,
        /// The window, in ticks.
        window: u32,
    },
    /// A policy file was reloaded, or the reload was refused.
    PolicyReloaded {
        /// The service key.
        service: &'a str,
        /// The policy file.
        path: &'a str,
        /// None when swapped in; the error when refused.
        error: Option<&'a str>,
    },
}
