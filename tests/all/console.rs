//! The console says what happened, not only what the guard allowed: a
//! scale-in whose drain meets transient errors says it is retrying and, once
//! it gives up, that it rolled back; a scale-out whose UpdateService failed
//! says so and counts as failed; each failed call logs one WARN line naming
//! it; a scale-in that started a drain says so.
//! Layer: sim, through the same setup code as `autoscaler run`.

use autoscaler::daemon::Daemon;
use autoscaler::events::Events;
use autoscaler::providers::ProviderError;
use autoscaler::providers::sim::{SimOp, SimProvider};
use autoscaler::tick::guard::Action;
use autoscaler::tick::outcome::{DrainEnd, OutcomeKind};
use autoscaler::tick::record::TickRecord;
use autoscaler::tick::status_line;

use crate::dry_run::{drive, host, idle_three, world};
use crate::sim_run::step_up;
use crate::support::Logs;

/// What the AWS provider's error for a failed UpdateTaskProtection reads like.
fn protection_500() -> ProviderError {
    ProviderError::Transient {
        service: "ecs",
        message: "UpdateTaskProtection on e2e/web: ServerException: internal failure (HTTP 500)"
            .into(),
    }
}

fn first(records: &[TickRecord], what: impl Fn(&Action) -> bool) -> TickRecord {
    records
        .iter()
        .find(|r| what(&r.action))
        .cloned()
        .expect("the action was decided")
}

fn acted(d: &Daemon<SimProvider>) -> bool {
    d.services[0]
        .last_record
        .as_ref()
        .is_some_and(|r| r.action != Action::Hold)
}

#[tokio::test]
async fn a_scale_in_whose_drain_cannot_protect_says_it_retries_then_rolls_back() {
    let (_dir, cfg, engine, sim) = world(&idle_three());
    let svc = autoscaler::daemon::setup::service_ref(&cfg.services[0]);
    sim.inject_fault(SimOp::SetProtection, u32::MAX, protection_500());
    let (logs, guard) = Logs::capture();
    let (mut d, records) = host(&cfg, &engine, &sim, false, true, Events::new());
    drive(&mut d, &sim, 3600, acted).await;

    // The tick that started the drain: under way, retrying the transient error.
    let r = first(&records.lock().unwrap(), |a| {
        matches!(a, Action::ScaleIn { .. })
    });
    let Action::ScaleIn { victims, .. } = &r.action else {
        unreachable!()
    };
    let victim = victims[0].clone();
    let line = status_line(&r);
    assert!(
        line.contains(&format!(
            "scale-in 3->2: draining {victim} (retrying: transient error from ecs: UpdateTaskProtection"
        )),
        "{line}"
    );
    assert!(line.contains("desired   3"), "{line}");

    // Protection never works: the drain rolls back, the count never moved,
    // and the console says so.
    drive(&mut d, &sim, 3 * 3600, |d| {
        d.services[0].drains.is_empty() && d.services[0].carried.is_empty()
    })
    .await;
    drop(guard);
    assert_eq!(sim.stats(&svc).unwrap().desired, 3, "nothing scaled in");
    let records = records.lock().unwrap();
    let ended = records
        .iter()
        .map(status_line)
        .find(|l| l.contains(&format!("drain {victim} rolled-back")))
        .expect("a status line says the drain rolled back");
    assert!(ended.contains("UpdateTaskProtection"), "{ended}");
    // One WARN per failed call: each retried one, and the one it gave up on.
    let retries = records
        .iter()
        .flat_map(|r| &r.outcomes)
        .filter(|o| o.what == OutcomeKind::DrainRetry)
        .count();
    let warns: Vec<String> = logs
        .lines("WARN")
        .into_iter()
        .filter(|l| l.contains("UpdateTaskProtection"))
        .collect();
    assert!(retries > 0);
    assert_eq!(
        warns.len(),
        retries + 1,
        "one WARN per failed call: {warns:?}"
    );
    assert!(
        warns
            .iter()
            .all(|w| w.contains("protect") && w.contains("HTTP 500")),
        "{warns:?}"
    );
    let totals = &d.totals[&svc.key()];
    assert_eq!(
        totals.drains.get(&DrainEnd::RolledBack),
        Some(&1),
        "{totals:?}"
    );
    assert_eq!(
        totals.failed_actions, 0,
        "a retry is not a failed action: {totals:?}"
    );
}

#[tokio::test]
async fn a_scale_in_that_starts_a_drain_says_it_is_draining() {
    let (_dir, cfg, engine, sim) = world(&idle_three());
    let svc = autoscaler::daemon::setup::service_ref(&cfg.services[0]);
    let (mut d, records) = host(&cfg, &engine, &sim, false, true, Events::quiet());
    drive(&mut d, &sim, 3600, acted).await;
    let r = first(&records.lock().unwrap(), |a| {
        matches!(a, Action::ScaleIn { .. })
    });
    let Action::ScaleIn { victims, .. } = &r.action else {
        unreachable!()
    };
    let line = status_line(&r);
    assert!(
        line.contains(&format!("scale-in 3->2: draining {}:", victims[0])),
        "{line}"
    );
    assert_eq!(d.totals[&svc.key()].scale_ins, 1);
}

#[tokio::test]
async fn a_scale_out_whose_update_service_fails_says_it_failed() {
    let (_dir, cfg, engine, sim) = world(&step_up(autoscaler::artifacts::SESSION_AWARE, ""));
    let svc = autoscaler::daemon::setup::service_ref(&cfg.services[0]);
    sim.inject_fault(
        SimOp::SetDesired,
        u32::MAX,
        ProviderError::Transient {
            service: "sim-ecs",
            message: "ServerException (HTTP 500)".into(),
        },
    );
    let (logs, guard) = Logs::capture();
    let (mut d, records) = host(&cfg, &engine, &sim, false, true, Events::new());
    drive(&mut d, &sim, 3 * 3600, acted).await;
    drop(guard);

    let r = first(&records.lock().unwrap(), |a| {
        matches!(a, Action::ScaleOut { .. })
    });
    let line = status_line(&r);
    assert!(
        line.contains(
            "failed: UpdateService: transient error from sim-ecs: ServerException (HTTP 500)"
        ),
        "{line}"
    );
    assert_eq!(sim.stats(&svc).unwrap().desired, 2, "nothing scaled out");
    let warns: Vec<String> = logs
        .lines("WARN")
        .into_iter()
        .filter(|l| l.contains("UpdateService"))
        .collect();
    assert_eq!(warns.len(), 1, "{warns:?}");
    let totals = &d.totals[&svc.key()];
    assert_eq!(
        (totals.scale_outs, totals.failed_actions),
        (0, 1),
        "{totals:?}"
    );
}

/// Events carry enums, but their log fields print as the strings they were
/// (quoted, kebab-case), so log queries written against earlier lines match.
#[test]
fn enum_fields_of_events_log_as_quoted_names() {
    use autoscaler::events::Event;
    use autoscaler::workflow::{CordonMechanism, StepKind};
    let (logs, guard) = Logs::capture();
    let events = Events::new();
    events.emit(Event::DrainFinished {
        service: "c/s",
        task: "t1",
        outcome: DrainEnd::RolledBack,
        detail: "",
    });
    events.emit(Event::Cordoned {
        service: "c/s",
        task: "t2",
        mechanism: CordonMechanism::Deregister,
    });
    events.emit(Event::DrainRetried {
        service: "c/s",
        task: "t3",
        step: StepKind::ScaleIn,
        error: "throttled",
    });
    drop(guard);
    let info = logs.lines("INFO").join("\n");
    assert!(info.contains(r#"outcome="rolled-back""#), "{info}");
    assert!(info.contains(r#"mechanism="deregister""#), "{info}");
    let warn = logs.lines("WARN").join("\n");
    assert!(warn.contains(r#"step="scale-in""#), "{warn}");
}
