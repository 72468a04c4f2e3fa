//! How the daemon's clock moves: the wall clock with AWS, or the simulated
//! cluster's virtual clock, advanced at a chosen speed.

use std::time::Duration;

use crate::providers::sim::SimProvider;
use crate::providers::{Clock, SystemClock};

/// The daemon's notion of waiting.
#[derive(Clone)]
pub enum Pacer {
    /// Real time: sleep until the moment comes.
    Wall,
    /// Simulated time: sleep `(t - now) / speed` of wall time, then move the
    /// simulation to `t`. A speed of 0 does not sleep at all.
    Sim {
        /// The simulation.
        sim: SimProvider,
        /// Simulated seconds per wall-clock second.
        speed: f64,
    },
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pacer::Wall => f.write_str("Pacer::Wall"),
            Pacer::Sim { speed, .. } => write!(f, "Pacer::Sim {{ speed: {speed} }}"),
        }
    }
}

impl Pacer {
    /// Now, in the pacer's time.
    pub fn now(&self) -> u64 {
        match self {
            Pacer::Wall => SystemClock.now(),
            Pacer::Sim { sim, .. } => sim.now(),
        }
    }

    /// Returns once time `t` has come (for the sim: once it has been simulated).
    pub async fn wait_until(&self, t: u64) {
        match self {
            Pacer::Wall => {
                let now = SystemClock.now();
                if t > now {
                    tokio::time::sleep(Duration::from_secs(t - now)).await;
                }
            }
            Pacer::Sim { sim, speed } => {
                let now = sim.now();
                if t > now && *speed > 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64((t - now) as f64 / speed)).await;
                }
                sim.advance_to(t);
            }
        }
    }
}
