use super::*;
use crate::model::TargetHealth;
use crate::providers::sim::{SimOp, SimProvider};
use crate::providers::{Clock, Cluster, LoadBalancer, ServiceRef};
use crate::sim::{FaultPlan, OpFaults, SimConfig, SimServiceConfig, Workload};
use crate::workflow::MemoryJournal;

fn world(tasks: u32) -> (SimProvider, ServiceRef) {
    let sim = SimProvider::new(SimConfig::default()).unwrap();
    let svc = ServiceRef {
        cluster: "c".into(),
        service: "s".into(),
        target_group: "tg".into(),
    };
    let cfg = SimServiceConfig {
        initial_tasks: tasks,
        workload: Workload::Steady { per_min: 0.0 },
        ..SimServiceConfig::default()
    };
    sim.add_service(svc.clone(), &cfg).unwrap();
    (sim, svc)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn protect_spares_released_victims_and_covers_the_rest() {
    let (sim, svc) = world(4);
    let tasks = sim.sim_tasks(&svc).unwrap();
    let (victim, released) = (tasks[0].id.clone(), tasks[1].id.clone());
    let cfg = DrainConfig::default();
    let target = Some(tasks[0].target.clone());
    let mut wf = DrainWorkflow::new(&svc.key(), &victim, target, 0, &cfg);
    let journal = MemoryJournal::default();
    let report = block_on(advance(
        &sim,
        &svc,
        &mut wf,
        &cfg,
        std::slice::from_ref(&released),
        &journal,
        0,
    ))
    .unwrap();
    assert_eq!(
        report.completed,
        vec![StepKind::Protect, StepKind::Deregister]
    );
    let protected: Vec<(String, bool)> = sim
        .sim_tasks(&svc)
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.protected))
        .collect();
    for (id, p) in protected {
        assert_eq!(p, id != released, "task {id}");
    }
    // Every state was journaled before acting on it, and the deregistration
    // (for a roll-back to undo) before its call.
    let steps: Vec<(&str, bool)> = journal
        .entries()
        .iter()
        .map(|w| (w.step.name(), w.changes.deregistered))
        .collect();
    assert_eq!(
        steps,
        vec![("deregister", false), ("deregister", true), ("wait", true)]
    );
}

#[test]
fn a_full_drain_stops_exactly_the_victim_once() {
    let (sim, svc) = world(3);
    let tasks = sim.sim_tasks(&svc).unwrap();
    let victim = tasks[2].id.clone();
    let cfg = DrainConfig::default();
    let mut wf = DrainWorkflow::new(&svc.key(), &victim, Some(tasks[2].target.clone()), 0, &cfg);
    let journal = MemoryJournal::default();
    let mut t = 0;
    while !wf.is_done() {
        t = wf.wake_at().unwrap().max(t);
        sim.advance_to(t);
        block_on(advance(&sim, &svc, &mut wf, &cfg, &[], &journal, t)).unwrap();
        assert!(t < 3600, "the drain finishes within an hour");
    }
    assert_eq!(
        wf.step,
        Step::Done {
            outcome: Outcome::Stopped
        }
    );
    let stats = sim.stats(&svc).unwrap();
    assert_eq!(
        (stats.desired, stats.set_desired_calls, stats.tasks_stopped),
        (2, 1, 1)
    );
    let after = sim.sim_tasks(&svc).unwrap();
    let stopped: Vec<&str> = after
        .iter()
        .filter(|t| t.status == TaskStatus::Stopped)
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(stopped, vec![victim.as_str()]);
    // The first check came after most of the deregistration delay, not every second.
    let waits = journal
        .entries()
        .iter()
        .filter(|w| matches!(w.step, Step::Wait { .. }))
        .count();
    assert!(waits <= 3, "{waits} wait states");
    assert_eq!(block_on(sim.service(&svc)).unwrap().desired, 2);
}

#[test]
fn the_scale_in_step_protects_every_keeper_even_when_the_listing_lags() {
    let (p, svc) = world(3);
    let ids: Vec<String> = block_on(p.tasks(&svc))
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    // Protected for one minute; a write at 50 s leaves a listing that lags it by 45 s.
    block_on(p.set_protection(&svc, &ids, true, 1)).unwrap();
    let lagging = OpFaults {
        stale: 1.0,
        lag: std::time::Duration::from_secs(45),
        ..OpFaults::default()
    };
    p.set_fault_plan(Some(FaultPlan {
        tasks: Some(lagging),
        ..FaultPlan::default()
    }))
    .unwrap();
    p.advance_to(50);
    block_on(p.set_protection(&svc, &ids[..1], true, 1)).unwrap();
    p.advance_to(61);
    let listed = block_on(p.tasks(&svc)).unwrap();
    assert!(
        listed.iter().all(|t| t.protected),
        "the listing still shows protection"
    );
    assert_eq!(
        p.stats(&svc).unwrap().protected,
        1,
        "two protections expired"
    );

    let cfg = DrainConfig::default();
    let mut wf = DrainWorkflow::new(&svc.key(), &ids[2], None, 0, &cfg);
    wf.step = Step::ScaleIn { to: Some(2) };
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, p.now())).unwrap();
    assert_eq!(wf.step, Step::Confirm);
    for t in p.sim_tasks(&svc).unwrap() {
        if t.id == ids[2] {
            assert!(t.stop_cause.is_some(), "the victim is stopping");
        } else {
            assert!(t.protected && t.stop_cause.is_none(), "keeper {t:?}");
        }
    }
}

/// HTTP 500 on every call, as moto answers UpdateTaskProtection.
fn http_500(service: &'static str) -> ProviderError {
    ProviderError::Transient {
        service,
        message: "HTTP 500 (injected: fails for good)".into(),
    }
}

/// Runs `wf` until it is done, at each wake-up; returns the end time.
fn run_to_end(
    p: &SimProvider,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    journal: &MemoryJournal,
) -> u64 {
    while !wf.is_done() {
        let now = wf
            .wake_at()
            .expect("a workflow in flight wakes")
            .max(p.now());
        p.advance_to(now);
        block_on(advance(p, svc, wf, cfg, &[], journal, now)).unwrap();
        assert!(
            p.now() < 24 * 3600,
            "the workflow ends within a day: {:?}",
            wf.step
        );
    }
    p.now()
}

fn health_of(p: &SimProvider, target: &Option<crate::providers::Target>) -> Option<TargetHealth> {
    block_on(p.targets("tg"))
        .unwrap()
        .into_iter()
        .find(|t| Some(&t.target) == target.as_ref())
        .map(|t| t.health)
}

#[test]
fn a_roll_back_retries_transient_errors_within_its_bound_and_registers_the_target_it_deregistered()
{
    let (p, svc) = world(2);
    let cfg = DrainConfig {
        max_attempts: 2,
        ..DrainConfig::default()
    };
    let task = block_on(p.tasks(&svc)).unwrap().remove(0);
    let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
    let journal = MemoryJournal::default();
    // Protect, deregister; then the roll-back meets more throttling than max_attempts
    // (a bound for the other steps), but fewer errors than its own bound.
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    assert!(matches!(wf.step, Step::Wait { .. }));
    assert!(wf.changes.deregistered, "the deregistration is recorded");
    wf.step = Step::RollBack {
        reason: "test".into(),
        session_appeared: false,
    };
    let throttled = ProviderError::Transient {
        service: "sim-elbv2",
        message: "throttled".into(),
    };
    p.inject_fault(SimOp::Register, 10, throttled);
    run_to_end(&p, &svc, &mut wf, &cfg, &journal);
    assert_eq!(p.faults_served(), 10, "every error was retried");
    assert!(matches!(
        wf.step,
        Step::Done {
            outcome: Outcome::RolledBack { .. }
        }
    ));
    assert!(
        wf.changes.is_empty(),
        "everything was undone: {:?}",
        wf.changes
    );
    assert_eq!(
        health_of(&p, &task.target),
        Some(TargetHealth::Initial),
        "registered again"
    );
    // The victim was never unprotected, so no protection call was needed to undo.
    assert_eq!(
        p.stats(&svc).unwrap().protection_calls,
        1,
        "only the protect step's call"
    );
}

#[test]
fn a_drain_whose_protection_fails_for_good_rolls_back_at_once_without_registering_anything() {
    let (p, svc) = world(3);
    let cfg = DrainConfig {
        max_attempts: 3,
        ..DrainConfig::default()
    };
    let task = block_on(p.tasks(&svc)).unwrap().remove(0);
    p.inject_fault(SimOp::SetProtection, u32::MAX, http_500("sim-ecs"));
    let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
    let journal = MemoryJournal::default();
    let end = run_to_end(&p, &svc, &mut wf, &cfg, &journal);
    let Step::Done {
        outcome: Outcome::RolledBack { reason },
    } = &wf.step
    else {
        panic!("rolled back: {:?}", wf.step)
    };
    assert!(
        reason.contains("step protect failed 4 times") && reason.contains("HTTP 500"),
        "{reason}"
    );
    // The protect step's attempts and their backoff, nothing more: the roll-back had nothing to undo.
    assert!(end <= 4 * 60, "ended at {end}s");
    let stats = p.stats(&svc).unwrap();
    assert_eq!(
        stats.register_calls, 0,
        "no RegisterTargets for a target never deregistered"
    );
    assert_eq!(stats.deregister_calls, 0);
    assert_eq!(
        stats.protection_calls, 0,
        "every protection call failed, none was repeated by the roll-back"
    );
    assert_eq!(health_of(&p, &task.target), Some(TargetHealth::Healthy));
}

#[test]
fn a_roll_back_that_cannot_protect_the_victim_again_ends_within_its_bound_and_keeps_it_out_of_the_load_balancer()
 {
    let (p, svc) = world(3);
    let cfg = DrainConfig::default();
    let task = block_on(p.tasks(&svc)).unwrap().remove(0);
    let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
    let journal = MemoryJournal::default();
    // Protect and deregister; then, as if the scale-in step had unprotected
    // the victim and its confirm had timed out, roll back with protection failing for good.
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    block_on(p.set_protection(&svc, std::slice::from_ref(&task.id), false, 60)).unwrap();
    wf.changes.unprotected = true;
    wf.step = Step::RollBack {
        reason: "the task did not stop before the deadline".into(),
        session_appeared: false,
    };
    let registers = p.stats(&svc).unwrap().register_calls;
    p.inject_fault(SimOp::SetProtection, u32::MAX, http_500("sim-ecs"));
    let end = run_to_end(&p, &svc, &mut wf, &cfg, &journal);
    // Bounded: roll_back_attempts retries, each backoff at most 60 s.
    assert!(
        end <= 60 * u64::from(cfg.roll_back_attempts + 1),
        "ended at {end}s"
    );
    assert_eq!(p.faults_served(), u64::from(cfg.roll_back_attempts) + 1);
    let Step::Done {
        outcome: Outcome::RollBackFailed { reason, left_as_is },
    } = &wf.step
    else {
        panic!("the roll-back failed: {:?}", wf.step)
    };
    assert!(
        reason.starts_with(
            "the task did not stop before the deadline; then the step roll-back failed 21 times"
        ) && reason.contains("HTTP 500"),
        "{reason}"
    );
    assert!(
        left_as_is.contains("unprotected and out of its target group"),
        "{left_as_is}"
    );
    // Safety: an unprotected task is not put back behind the load balancer.
    assert_eq!(
        p.stats(&svc).unwrap().register_calls,
        registers,
        "no RegisterTargets"
    );
    assert_ne!(health_of(&p, &task.target), Some(TargetHealth::Healthy));
    // The journal knows what is left undone.
    let last = journal.entries().last().cloned().unwrap();
    assert!(
        last.changes.unprotected && last.changes.deregistered,
        "{:?}",
        last.changes
    );
    // Its slot is free (a finished drain no longer counts), and once the
    // call works a later drain of another task runs to the end.
    assert!(wf.is_done() && !wf.counts_in_desired());
    p.inject_fault(SimOp::SetProtection, 0, http_500("sim-ecs"));
    let other = block_on(p.tasks(&svc)).unwrap().remove(1);
    let mut next = DrainWorkflow::new(&svc.key(), &other.id, other.target.clone(), end, &cfg);
    run_to_end(&p, &svc, &mut next, &cfg, &journal);
    assert_eq!(
        next.step,
        Step::Done {
            outcome: Outcome::Stopped
        }
    );
}

#[test]
fn changes_are_journaled_before_their_calls_and_old_journal_lines_assume_everything() {
    let (p, svc) = world(3);
    let cfg = DrainConfig::default();
    let task = block_on(p.tasks(&svc)).unwrap().remove(0);
    let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
    let journal = MemoryJournal::default();
    // The deregister call fails: its intent was journaled before it was sent.
    p.inject_fault(SimOp::Deregister, 1, http_500("sim-elbv2"));
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    let first = journal.entries();
    let marked = first
        .iter()
        .position(|w| w.changes.deregistered)
        .expect("the deregistration was journaled");
    assert!(
        matches!(first[marked].step, Step::Deregister { .. }),
        "journaled at the deregister step, before the call"
    );
    // A line from before `changes` existed reads as "may have done everything".
    let mut line = serde_json::to_value(&wf).unwrap();
    line.as_object_mut().unwrap().remove("changes");
    let old: DrainWorkflow = serde_json::from_value(line).unwrap();
    assert_eq!(old.changes, crate::workflow::Changes::unknown());
    assert_eq!(
        DrainWorkflow::new("c/s", "t", None, 0, &cfg).changes,
        crate::workflow::Changes::default()
    );
}

// ---- the cordon path ----

use crate::providers::double::Double;
use crate::providers::{LoadBalancerKind, TargetGroupInfo};
use crate::workflow::{CordonMechanism, Journal};

fn nlb() -> TargetGroupInfo {
    TargetGroupInfo {
        kind: LoadBalancerKind::Network,
        deregistration_delay_s: 300,
        connection_termination: false,
    }
}

fn alb(delay: u64) -> TargetGroupInfo {
    TargetGroupInfo {
        kind: LoadBalancerKind::Application,
        deregistration_delay_s: delay,
        connection_termination: false,
    }
}

/// A world of `tasks` tasks whose first carries sessions ending at `ends` (seconds from 0).
fn busy_world(tasks: u32, info: TargetGroupInfo, ends: &[u64]) -> (Double, ServiceRef, String) {
    let (sim, svc) = world(tasks);
    let victim = sim.sim_tasks(&svc).unwrap()[0].id.clone();
    for &end in ends {
        sim.open_session(&svc, &victim, std::time::Duration::from_secs(end))
            .unwrap();
    }
    (Double::new(sim, info), svc, victim)
}

fn cordon_wf(p: &Double, svc: &ServiceRef, victim: &str, m: CordonMechanism) -> DrainWorkflow {
    let target = p
        .sim
        .sim_tasks(svc)
        .unwrap()
        .into_iter()
        .find(|t| t.id == victim)
        .map(|t| t.target);
    DrainWorkflow::new_cordon(&svc.key(), victim, target, m, 0, &DrainConfig::default())
}

/// Runs `wf` on the double until done (or `until`), checking after every
/// wake-up that the victim is never stopped while it has a session.
fn run_cordon(
    p: &Double,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    journal: &MemoryJournal,
    until: u64,
) {
    while !wf.is_done() {
        let now = wf.wake_at().unwrap().max(p.sim.now());
        if now > until {
            break;
        }
        p.sim.advance_to(now);
        block_on(advance(p, svc, wf, cfg, &[], journal, now)).unwrap();
        let stats = p.sim.stats(svc).unwrap();
        assert_eq!(stats.sessions_killed, 0, "no session killed: {:?}", wf.step);
        assert!(now < 48 * 3600, "ends within two days: {:?}", wf.step);
    }
}

#[test]
fn an_nlb_cordon_holds_until_the_last_session_ends_then_stops_the_task() {
    // Sessions end at 1 h and 3 h: the hold lasts past any drain deadline.
    let (p, svc, victim) = busy_world(3, nlb(), &[3600, 3 * 3600]);
    let cfg = DrainConfig::default();
    let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    assert!(
        matches!(wf.step, Step::Hold { next_check_at: 600 }),
        "{:?}",
        wf.step
    );
    assert_eq!(wf.cordoned_since(), Some(0));
    let c = wf.cordon.unwrap();
    assert_eq!(
        (c.info, c.cordoned_at, c.uncordon_at),
        (Some(nlb()), Some(0), None)
    );
    assert!(wf.changes.deregistered);
    assert_eq!(health_of(&p.sim, &wf.target), Some(TargetHealth::Draining));
    run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
    assert_eq!(
        wf.step,
        Step::Done {
            outcome: Outcome::Stopped
        }
    );
    let c = wf.cordon.unwrap();
    let ended = c.hold_ended_at.unwrap();
    assert!(
        (3 * 3600..3 * 3600 + 301).contains(&ended),
        "checked every 5 min: {ended}"
    );
    // The first check came late, then one every interval: few reads.
    let holds = journal
        .entries()
        .iter()
        .filter(|w| matches!(w.step, Step::Hold { .. }))
        .count();
    assert!(
        holds <= 2 + (3 * 3600 - 600) / 300 + 1,
        "{holds} hold states"
    );
    assert_eq!(p.sim.stats(&svc).unwrap().tasks_stopped, 1);
    // Protection was renewed during the 3 h hold (it lasts 2 h).
    assert!(p.sim.stats(&svc).unwrap().protection_calls >= 3);
}

#[test]
fn an_alb_cordon_uncordons_before_the_delay_ends_and_registers_the_target_again() {
    let (p, svc, victim) = busy_world(3, alb(900), &[4 * 3600]);
    let cfg = DrainConfig::default();
    let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
    let journal = MemoryJournal::default();
    run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
    let Step::Done {
        outcome: Outcome::Uncordoned { reason },
    } = &wf.step
    else {
        panic!("uncordoned: {:?}", wf.step)
    };
    assert!(
        reason.contains("rather than have a session cut"),
        "{reason}"
    );
    // 900 s delay, 120 s margin: uncordoned at 780 s, not at a later check.
    assert_eq!(p.sim.now(), 780);
    assert_eq!(wf.cordon.unwrap().uncordon_at, Some(780));
    assert!(wf.changes.is_empty(), "{:?}", wf.changes);
    assert_eq!(health_of(&p.sim, &wf.target), Some(TargetHealth::Initial));
    assert_eq!(p.sim.stats(&svc).unwrap().tasks_stopped, 0);
    assert_eq!(
        Outcome::Uncordoned {
            reason: String::new()
        }
        .kind(),
        "uncordoned"
    );
}

#[test]
fn an_alb_whose_delay_is_within_the_margin_is_never_deregistered() {
    let (p, svc, victim) = busy_world(2, alb(60), &[3600]);
    let cfg = DrainConfig::default();
    let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    let Step::Done {
        outcome: Outcome::Aborted { reason },
    } = &wf.step
    else {
        panic!("aborted: {:?}", wf.step)
    };
    assert!(
        reason.contains("within drain.cordon_uncordon_margin"),
        "{reason}"
    );
    assert_eq!(p.sim.stats(&svc).unwrap().deregister_calls, 0);
}

#[test]
fn an_app_cordon_publishes_then_lifts_its_state_and_drains_through_the_load_balancer() {
    let (p, svc, victim) = busy_world(3, alb(300), &[2 * 3600]);
    let cfg = DrainConfig::default();
    let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::App);
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    assert!(matches!(wf.step, Step::Hold { .. }));
    assert_eq!(p.cordons.lock().get(&victim), Some(&0));
    // The app mechanism leaves the target in the load balancer during the hold,
    // and an ALB's delay does not bound it.
    assert_eq!(health_of(&p.sim, &wf.target), Some(TargetHealth::Healthy));
    assert_eq!(wf.cordon.unwrap().uncordon_at, None);
    run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
    assert_eq!(
        wf.step,
        Step::Done {
            outcome: Outcome::Stopped
        }
    );
    let steps: Vec<&str> = journal.entries().iter().map(|w| w.step.name()).collect();
    let after_hold: Vec<&str> = steps
        .iter()
        .skip_while(|s| **s != "hold")
        .skip_while(|s| **s == "hold")
        .copied()
        .collect();
    assert_eq!(
        after_hold[..3],
        ["deregister", "deregister", "wait"],
        "{steps:?}"
    );
    assert!(
        p.cordons.lock().is_empty(),
        "the stopped task's cordon is lifted"
    );
    assert!(!wf.changes.cordoned_app);
}

#[test]
fn an_idle_drain_behind_an_alb_rechecks_before_the_cut_and_steps_back_for_a_late_session() {
    let cfg = DrainConfig::default();
    let margin = cfg.cordon_uncordon_margin.as_secs();
    // Behind an NLB that keeps connections: no early recheck.
    let (p, svc, victim) = busy_world(3, nlb(), &[]);
    let target = p.sim.sim_tasks(&svc).unwrap()[0].target.clone();
    let mut wf = DrainWorkflow::new(&svc.key(), &victim, Some(target), 0, &cfg);
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    assert!(matches!(wf.step, Step::Wait { .. }), "{:?}", wf.step);
    assert_eq!(wf.recheck_by, None);

    // Behind an ALB with a 300 s delay: the recheck comes a margin before
    // the cut, and a session reported late steps the drain back while the
    // target can still be registered again.
    let (p, svc, victim) = busy_world(3, alb(300), &[]);
    let target = p.sim.sim_tasks(&svc).unwrap()[0].target.clone();
    let mut wf = DrainWorkflow::new(&svc.key(), &victim, Some(target), 0, &cfg);
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    assert_eq!(wf.recheck_by, Some(300 - margin));
    assert!(
        journal
            .entries()
            .iter()
            .any(|e| e.recheck_by == Some(300 - margin)),
        "journaled before the deregistration"
    );
    assert!(wf.wake_at().unwrap() <= 300 - margin);
    p.sim.advance_to(100);
    p.sim
        .open_session(&svc, &victim, std::time::Duration::from_secs(3600))
        .unwrap();
    while !wf.is_done() {
        let now = wf.wake_at().unwrap().max(p.sim.now());
        assert!(
            now < 300,
            "the drain ends before the ALB cuts: {:?}",
            wf.step
        );
        p.sim.advance_to(now);
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, now)).unwrap();
    }
    assert!(
        matches!(
            wf.step,
            Step::Done {
                outcome: Outcome::Aborted { .. }
            }
        ),
        "{:?}",
        wf.step
    );
    assert!(matches!(
        health_of(&p.sim, &wf.target),
        Some(TargetHealth::Initial | TargetHealth::Healthy)
    ));
}

#[test]
fn uncordon_is_a_step_back_for_both_mechanisms_and_a_failed_one_rolls_back() {
    for m in [CordonMechanism::Deregister, CordonMechanism::App] {
        let (p, svc, victim) = busy_world(3, nlb(), &[3600]);
        let cfg = DrainConfig {
            max_attempts: 2,
            ..DrainConfig::default()
        };
        let mut wf = cordon_wf(&p, &svc, &victim, m);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert!(wf.is_holding());
        assert!(wf.uncordon("demand returned"));
        journal.record(&wf).unwrap();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert_eq!(
            wf.step,
            Step::Done {
                outcome: Outcome::Uncordoned {
                    reason: "demand returned".into()
                }
            },
            "{m:?}"
        );
        assert!(wf.changes.is_empty(), "{m:?}: {:?}", wf.changes);
        assert_eq!(
            health_of(&p.sim, &wf.target),
            Some(match m {
                CordonMechanism::Deregister => TargetHealth::Initial,
                CordonMechanism::App => TargetHealth::Healthy,
            })
        );
        assert!(p.cordons.lock().is_empty());
        assert!(
            !wf.uncordon("twice"),
            "a finished workflow does not step back"
        );
    }
    // A lift that keeps failing rolls the cordon back: the roll-back lifts it.
    let (p, svc, victim) = busy_world(3, nlb(), &[3600]);
    let cfg = DrainConfig {
        max_attempts: 1,
        ..DrainConfig::default()
    };
    let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::App);
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    assert!(wf.uncordon("demand returned"));
    *p.cordon_faults.lock() = 2;
    run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
    assert!(
        matches!(
            wf.step,
            Step::Done {
                outcome: Outcome::RolledBack { .. }
            }
        ),
        "{:?}",
        wf.step
    );
    assert!(
        p.cordons.lock().is_empty(),
        "the roll-back lifted the cordon"
    );
    assert!(wf.changes.is_empty());
}

#[test]
fn a_cordon_resumed_from_its_journal_keeps_its_first_cordon_time() {
    let (p, svc, victim) = busy_world(3, alb(900), &[4 * 3600]);
    let cfg = DrainConfig::default();
    let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
    let journal = MemoryJournal::default();
    // The deregister call fails: the intent and its time were journaled first.
    p.sim
        .inject_fault(SimOp::Deregister, 1, http_500("sim-elbv2"));
    p.sim.advance_to(10);
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 10)).unwrap();
    let last = journal.entries().last().cloned().unwrap();
    assert_eq!(last.step, Step::Cordon);
    assert!(last.changes.deregistered);
    assert_eq!(last.cordon.unwrap().cordoned_at, Some(10));
    // A new host resumes the journaled line later: the delay still counts from 10 s.
    let mut resumed: DrainWorkflow =
        serde_json::from_str(&serde_json::to_string(&last).unwrap()).unwrap();
    resumed.not_before = 0;
    p.sim.advance_to(100);
    block_on(advance(&p, &svc, &mut resumed, &cfg, &[], &journal, 100)).unwrap();
    assert!(
        matches!(resumed.step, Step::Hold { .. }),
        "{:?}",
        resumed.step
    );
    assert_eq!(resumed.cordon.unwrap().uncordon_at, Some(10 + 900 - 120));
    // Old journal lines (no cordon, no cordoned_app) still load.
    let mut line = serde_json::to_value(&wf).unwrap();
    let o = line.as_object_mut().unwrap();
    o.remove("cordon");
    o.insert("step".into(), "wait".into());
    o.insert("next_check_at".into(), 5.into());
    o.insert(
        "changes".into(),
        serde_json::json!({"deregistered": true, "unprotected": false}),
    );
    let old: DrainWorkflow = serde_json::from_value(line).unwrap();
    assert_eq!(old.cordon, None);
    assert!(!old.changes.cordoned_app);
    assert_eq!(old.cordoned_since(), None);
}

#[test]
fn the_hold_ends_at_the_first_check_without_sessions_and_the_deadline_counts_from_there() {
    // The only session ends at 100 s; the first check comes at 600 s.
    let (p, svc, victim) = busy_world(3, nlb(), &[100]);
    let cfg = DrainConfig::default();
    let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
    let journal = MemoryJournal::default();
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
    assert_eq!(wf.wake_at(), Some(600), "the first check comes late");
    p.sim.advance_to(600);
    block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 600)).unwrap();
    assert_eq!(
        wf.step,
        Step::Confirm,
        "recheck and scale-in in the same wake-up"
    );
    assert_eq!(wf.cordon.unwrap().hold_ended_at, Some(600));
    assert_eq!(
        wf.deadline_at,
        600 + cfg.deadline.as_secs(),
        "the deadline counts from the hold's end"
    );
    assert_eq!(
        wf.cordoned_since(),
        None,
        "no longer cordoned once the hold ended"
    );
}
