//! A fault plan written in the config reaches the daemon's provider, and the
//! daemon rides its faults out.

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::providers::sim::SimOp;
use autoscaler::sim::FaultKind;
use autoscaler::tick::outcome::OutcomeKind;

use crate::sim_run::{SimRun, config};

#[tokio::test]
async fn a_fault_plan_from_the_config_is_injected_and_ridden_out() {
    let toml = config(
        SESSION_AWARE,
        r#"
[service.params]
scale-in-window = 300
[service.guard]
min = 1
max = 4
[service.drain]
deregistration_delay = "60s"
[service.sim]
initial_tasks = 4
deregistration_delay = "60s"
workload = { kind = "steady", per_min = 0.0 }
"#,
    )
    .replace(
        "[provider.world]",
        r#"[provider.faults]
seed = 3
[provider.faults.all]
throttle = 0.2
server_error = 0.1
timeout = 0.1
partial = 0.3
[provider.faults.tasks]
stale = 0.5
lag = "20s"
[provider.world]"#,
    );
    let mut run = SimRun::new(&toml);
    run.run_until(4 * 3600).await;
    let counts = run.sim.fault_counts();
    let of = |kind: FaultKind| {
        counts
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    for kind in [
        FaultKind::Throttle,
        FaultKind::ServerError,
        FaultKind::Timeout,
    ] {
        assert!(of(kind) > 10, "{kind:?}: {counts:?}");
    }
    assert!(
        counts
            .keys()
            .any(|(op, k)| *op == SimOp::Tasks && *k == FaultKind::Stale),
        "{counts:?}"
    );
    let records = run.records();
    assert!(
        records.iter().any(|r| !r.problems.is_empty()),
        "gather met the faults"
    );
    let retries = records
        .iter()
        .flat_map(|r| &r.outcomes)
        .filter(|o| o.what == OutcomeKind::DrainRetry)
        .count() as u64;
    assert!(retries > 0, "drains retried");
    // Each retry is counted by step in autoscaler_drain_retries_total.
    let text = run.daemon.events.prometheus();
    let counted: u64 = text
        .lines()
        .filter(|l| l.starts_with("autoscaler_drain_retries_total{service=\"e2e/web\",step="))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, retries, "{text}");
    // Through it all, the idle service still shrinks to min, safely.
    let stats = run.stats();
    assert_eq!(stats.desired, 1, "{stats:?}");
    assert_eq!(stats.sessions_killed, 0);
    assert!(run.daemon.services[0].drains.is_empty());
}
