//! `--dry-run` executes nothing: a drain resumed from the journal stays
//! paused (no provider write, the journal untouched, reported as paused) and
//! a later live run resumes it; the guard's cooldowns run between dry-run
//! ticks as they would live, and the totals count dry-run actions apart.
//! Layer: sim, through the same setup code as `autoscaler run`.

use std::sync::{Arc, Mutex};

use autoscaler::config::Config;
use autoscaler::daemon::{Daemon, setup};
use autoscaler::events::Events;
use autoscaler::providers::Clock;
use autoscaler::providers::sim::SimProvider;
use autoscaler::runtime::PolicyEngine;
use autoscaler::sim::SimStats;
use autoscaler::tick::guard::{Action, GuardRule};
use autoscaler::tick::outcome::{DrainEnd, OutcomeKind};
use autoscaler::tick::record::TickRecord;
use autoscaler::tick::status_line;
use autoscaler::workflow::Step;

use crate::sim_run::{SimRun, collect_records, config, open_daemon, step_up, stepped};

const MIN: u64 = 60;

/// Three idle tasks; the policy drains one at once, and its deregistration
/// takes ten minutes, so the drain is in flight for a while.
pub fn idle_three() -> String {
    config(
        autoscaler::artifacts::SESSION_AWARE,
        r#"
[service.params]
scale-in-window = 300
[service.guard]
min = 2
max = 3
max_step_down = 1
[service.drain]
deregistration_delay = "600s"
[service.sim]
initial_tasks = 3
deregistration_delay = "600s"
workload = { kind = "steady", per_min = 0.0 }
"#,
    )
}

/// One host over `sim` and the config's state directory (its journal kept
/// unless `fresh`), with its records collected.
pub fn host(
    cfg: &Config,
    engine: &PolicyEngine,
    sim: &SimProvider,
    dry_run: bool,
    fresh: bool,
    events: Events,
) -> (Daemon<SimProvider>, Arc<Mutex<Vec<TickRecord>>>) {
    let mut daemon = open_daemon(cfg, engine, sim, stepped(sim), dry_run, fresh, events);
    let records = Arc::new(Mutex::new(Vec::new()));
    collect_records(&mut daemon, &records);
    (daemon, records)
}

/// Steps `daemon` until virtual time `t`, or until `done` says so.
pub async fn drive(
    daemon: &mut Daemon<SimProvider>,
    sim: &SimProvider,
    t: u64,
    done: impl Fn(&Daemon<SimProvider>) -> bool,
) {
    while sim.now() < t && !done(daemon) {
        daemon.step().await.expect("the daemon steps");
        let next = daemon.next_wake().min(t).max(sim.now() + 1);
        daemon.pacer.wait_until(next).await;
    }
}

/// Every write call the sim served: desired count, protection, targets.
fn writes(s: &SimStats) -> [u64; 4] {
    [
        s.set_desired_calls,
        s.protection_calls,
        s.register_calls,
        s.deregister_calls,
    ]
}

/// A config from `toml` with its state in a temporary folder, an engine, and
/// the simulated world it describes.
pub fn world(toml: &str) -> (tempfile::TempDir, Config, PolicyEngine, SimProvider) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("state_dir = {:?}\n{toml}", dir.path().join("state"));
    let cfg = Config::parse(&text, &dir.path().join("test.toml")).unwrap();
    let engine = PolicyEngine::new(cfg.limits.clone(), Some(crate::support::test_cache())).unwrap();
    let (sim, _, _) = setup::sim_world(&cfg).unwrap().unwrap();
    (dir, cfg, engine, sim)
}

#[tokio::test]
async fn a_dry_run_pauses_a_journaled_drain_and_a_live_run_resumes_it() {
    let (_dir, cfg, engine, sim) = world(&idle_three());
    let svc = setup::service_ref(&cfg.services[0]);

    // A live host starts a drain and stops while it waits for the deregistration.
    let (mut live, _) = host(&cfg, &engine, &sim, false, true, Events::quiet());
    let waiting = |d: &Daemon<SimProvider>| {
        d.services[0]
            .drains
            .iter()
            .any(|w| matches!(w.step, Step::Wait { .. }))
    };
    drive(&mut live, &sim, 30 * MIN, waiting).await;
    assert!(
        waiting(&live),
        "a live host starts a drain within 30 minutes"
    );
    let victim = live.services[0].drains[0].task_id.clone();
    drop(live);

    let journal_path = cfg.state_dir.join("drains.jsonl");
    let journal_before = std::fs::read_to_string(&journal_path).unwrap();
    let writes_before = writes(&sim.stats(&svc).unwrap());
    let desired_before = sim.stats(&svc).unwrap().desired;

    // A dry-run host over the same journal: the drain is paused for 15
    // minutes (past its first deregistration check, due 8 minutes in, and
    // within its 30-minute deadline).
    let (logs, guard) = crate::support::Logs::capture();
    let (mut dry, records) = host(&cfg, &engine, &sim, true, false, Events::quiet());
    drop(guard);
    let paused: Vec<String> = logs
        .lines("INFO")
        .into_iter()
        .filter(|l| l.contains("paused"))
        .collect();
    assert_eq!(
        paused.len(),
        1,
        "one INFO line per paused drain: {paused:?}"
    );
    assert!(
        paused[0].contains(&victim) && paused[0].contains("wait"),
        "{paused:?}"
    );
    assert_eq!(dry.services[0].drains.len(), 1, "the drain is resumed");
    // Opening a journal compacts it to each workflow's latest line.
    let journal_opened = std::fs::read_to_string(&journal_path).unwrap();
    assert_eq!(
        journal_opened.lines().collect::<Vec<_>>(),
        journal_before
            .lines()
            .last()
            .into_iter()
            .collect::<Vec<_>>()
    );
    let end = sim.now() + 15 * MIN;
    drive(&mut dry, &sim, end, |_| false).await;

    assert_eq!(
        writes(&sim.stats(&svc).unwrap()),
        writes_before,
        "a dry run makes no write call ([desired, protection, register, deregister])"
    );
    assert_eq!(sim.stats(&svc).unwrap().desired, desired_before);
    assert_eq!(
        std::fs::read_to_string(&journal_path).unwrap(),
        journal_opened,
        "the journal is left exactly as it was"
    );
    let records = records.lock().unwrap().clone();
    assert!(records.len() >= 14, "{} ticks", records.len());
    for r in &records {
        assert!(r.dry_run && r.outcomes.is_empty(), "{r:?}");
        assert_eq!(r.paused_drains.len(), 1, "{r:?}");
        assert_eq!(r.paused_drains[0].task, victim);
        assert_eq!(r.paused_drains[0].step, "wait");
        let line = status_line(r);
        assert!(
            line.contains(&format!("drains paused (dry run): {victim} at wait")),
            "{line}"
        );
    }
    let json = serde_json::to_value(&records[0]).unwrap();
    assert_eq!(json["paused_drains"][0]["task"], victim.as_str());
    let board = dry.board.lock().clone();
    let status = &board[&svc.key()];
    assert!(status.drains_paused, "the board shows the drain as paused");
    assert_eq!(status.drains.len(), 1);
    let board_json = serde_json::to_value(status).unwrap();
    assert_eq!(board_json["drains_paused"], true);
    assert_eq!(
        dry.services[0].wake_at(),
        dry.services[0].next_tick,
        "a paused drain does not wake the daemon"
    );
    drop(dry);

    // A live host after it resumes the drain from the same journal.
    let (mut again, records) = host(&cfg, &engine, &sim, false, false, Events::quiet());
    let end = sim.now() + 60 * MIN;
    drive(&mut again, &sim, end, |d| d.services[0].drains.is_empty()).await;
    assert!(
        again.services[0].drains.is_empty(),
        "the live host finishes the drain"
    );
    // It finished between ticks: the shutdown (here at `stop_at`) writes
    // what the service carries as a final record.
    again.stop_at = Some(sim.now());
    let (_stop, stop) = tokio::sync::watch::channel(false);
    again.run(stop, None).await.unwrap();
    let decisions = std::fs::read_to_string(cfg.state_dir.join("decisions.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(decisions.lines().last().unwrap()).unwrap();
    assert_eq!(last["shutdown"], true, "{last}");
    assert_eq!(last["outcomes"][0]["what"], "drain-finished", "{last}");
    let totals = &again.totals[&svc.key()];
    assert_eq!(totals.drains, [(DrainEnd::Stopped, 1)].into(), "{totals:?}");
    let finished: Vec<_> = records
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.outcomes.clone())
        .filter(|o| o.what == OutcomeKind::DrainFinished)
        .collect();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0].task.as_deref(), Some(victim.as_str()));
    assert_eq!(finished[0].outcome, Some(DrainEnd::Stopped));
    assert!(writes(&sim.stats(&svc).unwrap()) != writes_before);
    assert_eq!(sim.stats(&svc).unwrap().desired, desired_before - 1);
}

#[tokio::test]
async fn a_dry_run_applies_cooldowns_and_counts_its_actions_apart() {
    // The step up makes the policy ask for more tasks on tick after tick.
    let toml = step_up(autoscaler::artifacts::SESSION_AWARE, "dry_run = true")
        .replace("max = 20", "max = 20\nscale_out_cooldown = \"10m\"");
    let mut run = SimRun::new(&toml);
    run.run_until(2 * 3600).await;
    let records = run.records();
    let outs: Vec<u64> = records
        .iter()
        .filter(|r| matches!(r.action, Action::ScaleOut { .. }))
        .map(|r| r.at)
        .collect();
    assert!(outs.len() >= 2, "the policy keeps asking: {outs:?}");
    for pair in outs.windows(2) {
        assert!(
            pair[1] - pair[0] >= 10 * MIN,
            "dry-run scale-outs respect the 10-minute cooldown: {outs:?}"
        );
    }
    assert!(
        records.iter().any(|r| r
            .adjustments
            .iter()
            .any(|a| a.rule == GuardRule::ScaleOutCooldown)),
        "the cooldown held some ticks"
    );
    let totals = &run.daemon.totals[&run.svc.key()];
    assert_eq!(
        (totals.scale_outs, totals.scale_ins, totals.failed_actions),
        (0, 0, 0),
        "{totals:?}"
    );
    assert_eq!(totals.dry_run_scale_outs, outs.len() as u64, "{totals:?}");
    assert_eq!(run.stats().set_desired_calls, 0);
}
