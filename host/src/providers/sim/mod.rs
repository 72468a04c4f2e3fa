//! The simulated provider: [`SimProvider`], a cheap clonable handle on a
//! [`SimWorld`] that implements every provider trait, plus the controls a
//! backtest or a fault test needs (the clock, task stops and failures,
//! sessions reported late, injected API errors, statistics).
//!
//! Faults come two ways: scripted ([`SimProvider::inject_fault`]: the next N
//! calls of one kind fail) and random, from a [`FaultPlan`]
//! ([`SimProvider::set_fault_plan`]: throttling, 5xx, timeouts after the
//! effect, partial batches and reads that lag writes, with seeded draws).

mod engine;
mod traits;

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use self::engine::{Fault, State};
use super::{ProviderError, ProviderResult, ServiceRef};
use crate::sessions::SessionRecord;
pub use crate::sim::faults::SimOp;
use crate::sim::faults::{Draw, FaultInjector};
use crate::sim::{
    FaultKind, FaultPlan, SimConfig, SimError, SimServiceConfig, SimStats, SimTask, SimWorld,
};

/// The simulated world behind the provider traits. Clones share one world;
/// every call acts at the world's virtual time, which moves only through
/// [`SimProvider::advance_to`] and [`SimProvider::advance`].
#[derive(Debug, Clone)]
pub struct SimProvider {
    state: Arc<Mutex<State>>,
}

impl SimProvider {
    /// An empty world at virtual time 0.
    pub fn new(config: SimConfig) -> Result<SimProvider, SimError> {
        Ok(SimProvider::from_world(SimWorld::new(config)?))
    }

    /// A provider over an existing world (a fork of another run, say).
    pub fn from_world(world: SimWorld) -> SimProvider {
        let state = State {
            world,
            faults: BTreeMap::new(),
            faults_served: 0,
            injector: None,
        };
        SimProvider {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// An independent copy of the world as it is now, without injected faults:
    /// two policies can be compared from the same starting point, each on its fork.
    pub fn fork(&self) -> SimProvider {
        SimProvider::from_world(self.lock().world.clone())
    }

    /// Runs `f` on the world directly.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut SimWorld) -> R) -> R {
        f(&mut self.lock().world)
    }

    /// Adds a service at the current time (see [`SimWorld::add_service`]).
    pub fn add_service(&self, svc: ServiceRef, config: &SimServiceConfig) -> Result<(), SimError> {
        self.lock().world.add_service(svc, config)
    }

    /// Processes every event up to and including `t`, then sets the clock to `t`.
    pub fn advance_to(&self, t: u64) {
        self.lock().world.advance_to(t);
    }

    /// Advances the clock by `secs`.
    pub fn advance(&self, secs: u64) {
        self.lock().world.advance(secs);
    }

    /// The service's figures now.
    pub fn stats(&self, svc: &ServiceRef) -> Option<SimStats> {
        self.lock().world.stats(svc)
    }

    /// Every listed task of the service with its session figures.
    pub fn sim_tasks(&self, svc: &ServiceRef) -> Option<Vec<SimTask>> {
        self.lock().world.sim_tasks(svc)
    }

    /// ECS StopTask with the desired count unchanged: the task drains and
    /// stops, and a replacement starts.
    pub fn stop_task(&self, svc: &ServiceRef, id: &str) -> ProviderResult<()> {
        self.lock().world.stop_task(svc, id)
    }

    /// The task's container exits now, killing its sessions; a replacement starts.
    pub fn fail_task(&self, svc: &ServiceRef, id: &str) -> ProviderResult<()> {
        self.lock().world.fail_task(svc, id)
    }

    /// A session on a chosen task, reported from now on (see [`SimWorld::open_session`]).
    pub fn open_session(
        &self,
        svc: &ServiceRef,
        id: &str,
        duration: std::time::Duration,
    ) -> ProviderResult<()> {
        self.lock().world.open_session(svc, id, duration)
    }

    /// Starts keeping the service's active sessions as session store items
    /// (see [`SimWorld::track_session_items`]).
    pub fn track_session_items(&self, svc: &ServiceRef) -> ProviderResult<()> {
        self.lock().world.track_session_items(svc)
    }

    /// The service's active sessions as session store items, read like the
    /// session store (faults of the `sessions` kind apply).
    pub fn session_items(&self, svc: &ServiceRef) -> ProviderResult<Vec<SessionRecord>> {
        self.call(SimOp::Sessions, |w| w.session_items(svc))
    }

    /// Injects random faults from now on as `plan` says; `None` stops them.
    /// Scripted faults ([`SimProvider::inject_fault`]) still come first.
    pub fn set_fault_plan(&self, plan: Option<FaultPlan>) -> Result<(), SimError> {
        let injector = plan.map(FaultInjector::new).transpose()?;
        self.lock().injector = injector;
        Ok(())
    }

    /// How many faults of each kind the fault plan injected into each kind of call.
    pub fn fault_counts(&self) -> BTreeMap<(SimOp, FaultKind), u64> {
        self.lock()
            .injector
            .as_ref()
            .map(|i| i.counts().clone())
            .unwrap_or_default()
    }

    /// Makes the next `times` calls of `op` fail with `error`, without effect.
    /// A later injection for the same call replaces this one.
    pub fn inject_fault(&self, op: SimOp, times: u32, error: ProviderError) {
        self.set_fault(
            op,
            Fault {
                remaining: times,
                error,
                applied: false,
            },
        );
    }

    /// Makes the next `times` calls of `op` take effect and then fail with
    /// `error`, as when a request lands but its response is lost.
    pub fn inject_fault_after_effect(&self, op: SimOp, times: u32, error: ProviderError) {
        self.set_fault(
            op,
            Fault {
                remaining: times,
                error,
                applied: true,
            },
        );
    }

    fn set_fault(&self, op: SimOp, fault: Fault) {
        let mut state = self.lock();
        if fault.remaining == 0 {
            state.faults.remove(&op);
        } else {
            state.faults.insert(op, fault);
        }
    }

    /// How many injected errors calls have returned (scripted or from the plan).
    pub fn faults_served(&self) -> u64 {
        self.lock().faults_served
    }

    /// Runs a provider call, unless an injected fault answers it.
    fn call<R>(
        &self,
        op: SimOp,
        f: impl FnOnce(&mut SimWorld) -> ProviderResult<R>,
    ) -> ProviderResult<R> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.faults.contains_key(&op) {
            return state.scripted(op, f);
        }
        let draw = state.draw(op, 1);
        state.run(op, draw, f)
    }

    /// Runs a batch write of `items`, which an injected fault may apply only in part.
    fn call_batch<T>(
        &self,
        op: SimOp,
        items: &[T],
        f: impl Fn(&mut SimWorld, &[T]) -> ProviderResult<()>,
    ) -> ProviderResult<()> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.faults.contains_key(&op) {
            return state.scripted(op, |w| f(w, items));
        }
        match state.draw(op, items.len()) {
            Draw::Partial(n) => state.run(op, Draw::AfterEffect(FaultKind::Partial), |w| {
                f(w, &items[..n])
            }),
            draw => state.run(op, draw, |w| f(w, items)),
        }
    }
}

#[cfg(test)]
mod tests;
