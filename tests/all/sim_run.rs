//! A harness for end-to-end runs: a daemon built from a TOML config through
//! the same setup code as `autoscaler run`, on the simulated cluster, driven
//! as fast as the machine allows (virtual time, no wall-clock sleeping).

use std::sync::{Arc, Mutex};

use autoscaler::config::Config;
use autoscaler::daemon::{Daemon, Pacer, setup};
use autoscaler::events::Events;
use autoscaler::providers::sim::SimProvider;
use autoscaler::providers::{Clock, ServiceRef};
use autoscaler::runtime::PolicyEngine;
use autoscaler::sim::SimStats;
use autoscaler::tick::record::TickRecord;

/// One simulated service under the real daemon.
pub struct SimRun {
    pub daemon: Daemon<SimProvider>,
    pub sim: SimProvider,
    pub svc: ServiceRef,
    /// Keeps the state directory alive for the run.
    pub dir: tempfile::TempDir,
    records: Arc<Mutex<Vec<TickRecord>>>,
}

/// `[provider]` and `[[service]]` tables around a service body; `policy` is a path.
pub fn config(policy: &str, service_body: &str) -> String {
    format!(
        r#"
[provider]
kind = "sim"
speed = 0
[provider.world]
seed = 11

[[service]]
name = "web"
cluster = "e2e"
target_group = "web-tg"
interval = "60s"
policy = "{policy}"
{service_body}
"#
    )
}

/// Low load, then a step up at 30 minutes; only CPU drives the policy.
/// `extra` goes into the `[[service]]` table (dry_run, fallback, ...).
pub fn step_up(policy: &str, extra: &str) -> String {
    config(
        policy,
        &format!(
            r#"{extra}
[service.params]
cpu-high = 70
cpu-low = 20
session-capacity = 1000
[service.guard]
min = 2
max = 20
[service.sim]
initial_tasks = 2
session_mean = "30m"
workload = {{ kind = "step", before_per_min = 0.5, after_per_min = 8.0, at = "30m" }}
"#
        ),
    )
}

/// A daemon over `sim`, built from `cfg` through the same setup code as
/// `autoscaler run` (its journal and state kept unless `fresh`).
pub fn open_daemon(
    cfg: &Config,
    engine: &PolicyEngine,
    sim: &SimProvider,
    pacer: Pacer,
    dry_run: bool,
    fresh: bool,
    events: Events,
) -> Daemon<SimProvider> {
    let services = setup::load_services(cfg, engine, sim.now(), dry_run).unwrap();
    setup::open(
        cfg,
        sim.clone(),
        pacer,
        engine.clone(),
        services,
        events,
        fresh,
    )
    .unwrap()
}

/// The pacer of a test that steps the daemon itself, at virtual time.
pub fn stepped(sim: &SimProvider) -> Pacer {
    Pacer::Sim {
        sim: sim.clone(),
        speed: 0.0,
    }
}

/// Appends every tick record `daemon` writes to `records`.
pub fn collect_records(daemon: &mut Daemon<SimProvider>, records: &Arc<Mutex<Vec<TickRecord>>>) {
    let sink = records.clone();
    daemon.on_tick = Some(Box::new(move |r: &TickRecord| {
        sink.lock().unwrap().push(r.clone())
    }));
}

impl SimRun {
    /// Builds the daemon from `toml` (its `state_dir` is set to a temporary folder).
    pub fn new(toml: &str) -> SimRun {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("state_dir = {:?}\n{toml}", dir.path().join("state"));
        let cfg = Config::parse(&text, &dir.path().join("e2e.toml")).expect("test config parses");
        // A shared artifact cache: the 18 MB Python policy compiles once per machine, not per test.
        let engine =
            PolicyEngine::new(cfg.limits.clone(), Some(crate::support::test_cache())).unwrap();
        let (sim, pacer, stop_at) = setup::sim_world(&cfg).unwrap().unwrap();
        let mut daemon = open_daemon(&cfg, &engine, &sim, pacer, false, true, Events::quiet());
        daemon.stop_at = stop_at;
        let records = Arc::new(Mutex::new(Vec::new()));
        collect_records(&mut daemon, &records);
        let svc = setup::service_ref(&cfg.services[0]);
        SimRun {
            daemon,
            sim,
            svc,
            dir,
            records,
        }
    }

    /// Runs the daemon until virtual time `t`.
    pub async fn run_until(&mut self, t: u64) {
        while self.sim.now() < t {
            self.daemon.step().await.expect("the daemon steps");
            let next = self.daemon.next_wake().min(t);
            self.daemon
                .pacer
                .wait_until(next.max(self.sim.now() + 1).min(t))
                .await;
        }
    }

    /// Every tick record so far.
    pub fn records(&self) -> Vec<TickRecord> {
        self.records.lock().unwrap().clone()
    }

    /// The simulated service's figures.
    pub fn stats(&self) -> SimStats {
        self.sim.stats(&self.svc).unwrap()
    }
}
