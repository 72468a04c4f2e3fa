//! How the simulated provider answers a call: with a scripted fault waiting
//! for its kind, as the fault plan's draw decides, or from the world.

use std::collections::BTreeMap;

use crate::providers::{ProviderError, ProviderResult};
use crate::sim::SimWorld;
use crate::sim::faults::{Draw, FaultInjector, SimOp};

/// Errors waiting to be returned by one kind of call.
#[derive(Debug)]
pub(super) struct Fault {
    pub remaining: u32,
    pub error: ProviderError,
    /// Whether the call takes effect before failing (a timeout after the
    /// request landed).
    pub applied: bool,
}

#[derive(Debug)]
pub(super) struct State {
    pub world: SimWorld,
    pub faults: BTreeMap<SimOp, Fault>,
    pub faults_served: u64,
    pub injector: Option<FaultInjector>,
}

impl State {
    /// Answers a call with its scripted fault (one is waiting).
    pub fn scripted<R>(
        &mut self,
        op: SimOp,
        f: impl FnOnce(&mut SimWorld) -> ProviderResult<R>,
    ) -> ProviderResult<R> {
        let Some(fault) = self.faults.get_mut(&op) else {
            return f(&mut self.world);
        };
        fault.remaining -= 1;
        let (error, applied) = (fault.error.clone(), fault.applied);
        if fault.remaining == 0 {
            self.faults.remove(&op);
        }
        self.faults_served += 1;
        if applied {
            // The effect lands; the caller still sees the error.
            self.note_write();
            let _ = f(&mut self.world);
        }
        Err(error)
    }

    /// The fault plan's draw for a call of `items` items.
    pub fn draw(&mut self, op: SimOp, items: usize) -> Draw {
        let now = self.world.now();
        self.injector
            .as_mut()
            .map_or(Draw::Pass, |i| i.draw(op, items, now))
    }

    /// Keeps the state before a write for reads that lag it.
    fn note_write(&mut self) {
        if let Some(i) = self.injector.as_mut() {
            i.before_write(&self.world);
        }
    }

    /// Runs a call as `draw` decided (a partial batch comes as the call on its part, after effect).
    pub fn run<R>(
        &mut self,
        op: SimOp,
        draw: Draw,
        f: impl FnOnce(&mut SimWorld) -> ProviderResult<R>,
    ) -> ProviderResult<R> {
        match draw {
            Draw::Fail(kind) => {
                self.faults_served += 1;
                Err(FaultInjector::error(op, kind))
            }
            Draw::AfterEffect(kind) => {
                self.faults_served += 1;
                self.note_write();
                let _ = f(&mut self.world);
                Err(FaultInjector::error(op, kind))
            }
            Draw::Stale => {
                let now = self.world.now();
                match self.injector.as_mut().and_then(|i| i.stale_view(op, now)) {
                    Some(view) => f(view),
                    None => f(&mut self.world),
                }
            }
            Draw::Pass | Draw::Partial(_) => {
                if op.is_write() {
                    self.note_write();
                }
                f(&mut self.world)
            }
        }
    }
}
