//! Fault injection for the simulated provider, as data: a [`FaultPlan`] says,
//! per kind of provider call, how often the call is throttled, fails with a
//! 5xx, times out after it took effect, fails part-way through a batch, or is
//! answered from a state that lags the latest writes (eventual consistency).
//!
//! The plan is what `[provider.faults]` holds in the daemon's config and what
//! tests build directly. Its draws come from a seeded stream of their own, so
//! a plan never shifts the world's randomness, and the same world, plan and
//! sequence of calls fail in exactly the same way.
//!
//! ```toml
//! [provider.faults]
//! seed = 7
//! [provider.faults.all]          # every call without an entry of its own
//! throttle = 0.02
//! server_error = 0.01
//! [provider.faults.set_desired]  # replaces `all` for UpdateService
//! timeout = 0.1                  # the request lands, the response is lost
//! [provider.faults.targets]      # DescribeTargetHealth
//! stale = 0.5                    # half the reads made within 20 s of a write
//! lag = "20s"                    # see the state from before that write
//! ```
//!
//! What each fault does:
//! - `throttle` and `server_error`: a transient error; the call has no effect.
//! - `timeout`: a transient error; a write has taken effect all the same (the
//!   request landed and its response was lost), a read has not.
//! - `partial`: batch writes only (`set_protection`, `register`,
//!   `deregister`) with more than one item: a random non-empty part of the
//!   batch is applied, then the call fails with a transient error.
//! - `stale` with `lag`: reads of the cluster and the load balancer only
//!   (`service`, `tasks`, `task_status`, `targets`): with probability `stale`,
//!   a read made less than `lag` after a write is answered from the world as
//!   it was just before the oldest such write. Reads of the session store and
//!   metrics do not lag writes (the host never writes them); a session reported
//!   late is modelled by [`crate::sim::SimWorld::open_session`].

mod op;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::error::SimError;
use super::world::SimWorld;
use crate::providers::ProviderError;
pub use op::SimOp;

/// Faults for one kind of call: probabilities per call, each within 0..=1,
/// and the errors' total at most 1.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpFaults {
    /// A throttling error (`ThrottlingException`); the call has no effect.
    pub throttle: f64,
    /// A 5xx from the service; the call has no effect.
    pub server_error: f64,
    /// A timeout: the caller sees a transient error, but a write took effect.
    pub timeout: f64,
    /// Batch writes of two or more items: part of the batch is applied, then a transient error.
    pub partial: f64,
    /// Reads of the cluster and load balancer: the chance that a read within
    /// `lag` of a write sees the state from before the write.
    pub stale: f64,
    /// How long reads may lag writes (with `stale`).
    #[serde(with = "humantime_serde")]
    pub lag: Duration,
}

/// What can go wrong with the simulated provider's calls: `all` for every
/// kind of call, and an entry per kind that replaces `all` for that kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// The seed of the fault draws (independent of the world's seed).
    pub seed: u64,
    /// Faults of every call that has no entry of its own. Its `partial`
    /// applies to batch writes only, its `stale` and `lag` to lagging reads only.
    pub all: OpFaults,
    /// DescribeServices.
    pub service: Option<OpFaults>,
    /// ListTasks and DescribeTasks of the whole service.
    pub tasks: Option<OpFaults>,
    /// DescribeTasks of given tasks.
    pub task_status: Option<OpFaults>,
    /// UpdateService (the desired count).
    pub set_desired: Option<OpFaults>,
    /// UpdateTaskProtection.
    pub set_protection: Option<OpFaults>,
    /// DescribeTargetHealth.
    pub targets: Option<OpFaults>,
    /// DeregisterTargets.
    pub deregister: Option<OpFaults>,
    /// RegisterTargets.
    pub register: Option<OpFaults>,
    /// GetMetricData (CPU and memory).
    pub utilization: Option<OpFaults>,
    /// The session store's query.
    pub sessions: Option<OpFaults>,
    /// The session store's cordon item (app-level cordon).
    pub set_cordon: Option<OpFaults>,
    /// DescribeTargetGroups and DescribeTargetGroupAttributes.
    pub target_group_info: Option<OpFaults>,
}

/// A kind of injected fault, for counts and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// A throttling error.
    Throttle,
    /// A 5xx.
    ServerError,
    /// A timeout (after the effect, for writes).
    Timeout,
    /// Part of a batch applied, then an error.
    Partial,
    /// A read answered from a lagging state.
    Stale,
}

impl FaultPlan {
    /// The entry of one kind of call, if it has its own.
    fn own(&self, op: SimOp) -> Option<OpFaults> {
        match op {
            SimOp::Service => self.service,
            SimOp::Tasks => self.tasks,
            SimOp::TaskStatus => self.task_status,
            SimOp::SetDesired => self.set_desired,
            SimOp::SetProtection => self.set_protection,
            SimOp::Targets => self.targets,
            SimOp::Deregister => self.deregister,
            SimOp::Register => self.register,
            SimOp::Utilization => self.utilization,
            SimOp::Sessions => self.sessions,
            SimOp::SetCordon => self.set_cordon,
            SimOp::TargetGroupInfo => self.target_group_info,
        }
    }

    /// The faults of one kind of call: its own entry, or `all`.
    pub fn for_op(&self, op: SimOp) -> OpFaults {
        self.own(op).unwrap_or(self.all)
    }

    /// Checks every probability and that `partial`, `stale` and `lag` are set
    /// only where they mean something. Errors name the field.
    pub fn validate(&self) -> Result<(), SimError> {
        check_faults("all", &self.all, None)?;
        for op in SimOp::ALL {
            if let Some(f) = self.own(op) {
                check_faults(op.name(), &f, Some(op))?;
            }
        }
        Ok(())
    }

    /// The longest lag of any call, in seconds.
    fn max_lag(&self) -> u64 {
        SimOp::ALL
            .iter()
            .filter(|op| op.can_lag())
            .map(|&op| self.for_op(op))
            .filter(|f| f.stale > 0.0)
            .map(|f| f.lag.as_secs())
            .max()
            .unwrap_or(0)
    }
}

fn check_faults(entry: &str, f: &OpFaults, op: Option<SimOp>) -> Result<(), SimError> {
    for (name, p) in [
        ("throttle", f.throttle),
        ("server_error", f.server_error),
        ("timeout", f.timeout),
        ("partial", f.partial),
        ("stale", f.stale),
    ] {
        if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
            return Err(SimError::config(
                format!("faults.{entry}.{name}"),
                format!("expected a probability within 0..=1, found {p}"),
            ));
        }
    }
    let total = f.throttle + f.server_error + f.timeout + f.partial;
    if total > 1.0 + 1e-9 {
        return Err(SimError::config(
            format!("faults.{entry}"),
            format!(
                "throttle, server_error, timeout and partial add up to {total}; expected at most 1"
            ),
        ));
    }
    if let Some(op) = op {
        if f.partial > 0.0 && !op.is_batch() {
            return Err(SimError::config(
                format!("faults.{entry}.partial"),
                "only batch writes (set_protection, register, deregister) can fail part-way",
            ));
        }
        if (f.stale > 0.0 || !f.lag.is_zero()) && !op.can_lag() {
            return Err(SimError::config(
                format!("faults.{entry}.stale"),
                "only reads of the cluster and load balancer (service, tasks, task_status, targets) can lag writes",
            ));
        }
    }
    if f.stale > 0.0 && f.lag.is_zero() {
        return Err(SimError::config(
            format!("faults.{entry}.lag"),
            "`stale` needs a `lag` (such as \"20s\") for reads to lag by",
        ));
    }
    Ok(())
}

/// What the injector decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Draw {
    /// The call goes through.
    Pass,
    /// The call fails without effect.
    Fail(FaultKind),
    /// The call takes effect, then fails.
    AfterEffect(FaultKind),
    /// A batch call applies its first `n` items, then fails.
    Partial(usize),
    /// A read is answered from the world as it was before a recent write.
    Stale,
}

/// A [`FaultPlan`] in action: its random stream, the lagging views of the
/// world kept for stale reads, and what it injected.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    plan: FaultPlan,
    rng: SmallRng,
    max_lag: u64,
    /// The world just before each write of the last `max_lag` seconds, oldest first.
    views: VecDeque<(u64, SimWorld)>,
    counts: BTreeMap<(SimOp, FaultKind), u64>,
}

impl FaultInjector {
    /// An injector for a checked plan.
    pub fn new(plan: FaultPlan) -> Result<FaultInjector, SimError> {
        plan.validate()?;
        Ok(FaultInjector {
            rng: SmallRng::seed_from_u64(super::random::splitmix64(plan.seed ^ 0xFA17)),
            max_lag: plan.max_lag(),
            plan,
            views: VecDeque::new(),
            counts: BTreeMap::new(),
        })
    }

    /// What happens to a call of `op` with `items` items (1 for a call that is not a batch).
    pub fn draw(&mut self, op: SimOp, items: usize, world_now: u64) -> Draw {
        let f = self.plan.for_op(op);
        let partial = if op.is_batch() { f.partial } else { 0.0 };
        let u: f64 = self.rng.random();
        let throttle = f.throttle;
        let server_error = throttle + f.server_error;
        let timeout = server_error + f.timeout;
        let partial = timeout + partial;
        let draw = if u < throttle {
            Draw::Fail(FaultKind::Throttle)
        } else if u < server_error {
            Draw::Fail(FaultKind::ServerError)
        } else if u < timeout {
            if op.is_write() {
                Draw::AfterEffect(FaultKind::Timeout)
            } else {
                Draw::Fail(FaultKind::Timeout)
            }
        } else if u < partial {
            if items > 1 {
                Draw::Partial(self.rng.random_range(1..items))
            } else {
                Draw::Pass
            }
        } else if op.can_lag() && f.stale > 0.0 && self.has_view(world_now, f.lag.as_secs()) {
            if self.rng.random::<f64>() < f.stale {
                Draw::Stale
            } else {
                Draw::Pass
            }
        } else {
            Draw::Pass
        };
        let kind = match draw {
            Draw::Pass => None,
            Draw::Fail(k) | Draw::AfterEffect(k) => Some(k),
            Draw::Partial(_) => Some(FaultKind::Partial),
            Draw::Stale => Some(FaultKind::Stale),
        };
        if let Some(k) = kind {
            *self.counts.entry((op, k)).or_default() += 1;
        }
        draw
    }

    /// The error a faulted call returns.
    pub fn error(op: SimOp, kind: FaultKind) -> ProviderError {
        let message = match kind {
            FaultKind::Throttle => "injected fault: ThrottlingException: Rate exceeded",
            FaultKind::ServerError => "injected fault: ServerException (HTTP 503)",
            FaultKind::Timeout => "injected fault: the request timed out",
            FaultKind::Partial => "injected fault: some items of the batch failed",
            FaultKind::Stale => "injected fault: stale read",
        };
        ProviderError::Transient {
            service: op.service(),
            message: message.into(),
        }
    }

    /// Keeps the world as it is just before a write, for lagging reads.
    pub fn before_write(&mut self, world: &SimWorld) {
        if self.max_lag == 0 {
            return;
        }
        let now = world.now();
        self.trim(now);
        if self.views.back().is_some_and(|(t, _)| *t == now) {
            return; // An earlier write at this second kept the older state already.
        }
        self.views.push_back((now, world.clone()));
    }

    fn trim(&mut self, now: u64) {
        while self
            .views
            .front()
            .is_some_and(|(t, _)| t + self.max_lag <= now)
        {
            self.views.pop_front();
        }
    }

    fn has_view(&self, now: u64, lag: u64) -> bool {
        self.views.iter().any(|(t, _)| t + lag > now)
    }

    /// The world as it was before the oldest write less than `op`'s lag ago.
    pub fn stale_view(&mut self, op: SimOp, now: u64) -> Option<&mut SimWorld> {
        let lag = self.plan.for_op(op).lag.as_secs();
        self.trim(now);
        self.views
            .iter_mut()
            .find(|(t, _)| *t + lag > now)
            .map(|(_, w)| w)
    }

    /// How many faults of each kind each call has met.
    pub fn counts(&self) -> &BTreeMap<(SimOp, FaultKind), u64> {
        &self.counts
    }
}
