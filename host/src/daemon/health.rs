//! What `/healthz` (liveness) and `/readyz` (readiness) answer.
//!
//! **Liveness** is about the daemon loop itself. After every step the loop
//! publishes a [`Heartbeat`]: the wall time it finished the step and the wall
//! time its next wake is due (with the simulated pacer, simulated seconds are
//! turned into wall seconds with the pacer's speed). The loop is *overdue*
//! when it has not come back to run what was due for more than two intervals
//! ("interval" = the shortest service interval in wall time, at least
//! [`MIN_INTERVAL`]): it is stalled on a compile, a hung call or a deadlock.
//!
//! **Readiness** is about each service. A service is not ready when
//! - its last [`GATHER_FAILURES`] gathers in a row failed (it is deciding
//!   blind: a closed endpoint, no credentials, access denied), or
//! - it has drains in flight and every one of them is *stuck*: it has failed
//!   its current step [`DRAIN_FAILURES`] times in a row, or it is unfinished
//!   more than two service intervals past its deadline (a roll-back that
//!   cannot complete).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::pace::Pacer;
use super::status::ServiceStatus;
pub use crate::events::heartbeat::{Heartbeat, LATE_INTERVALS, MIN_INTERVAL};
use crate::workflow::DrainWorkflow;

/// Gathers in a row that must fail before a service is not ready.
pub const GATHER_FAILURES: u32 = 3;

/// Failed attempts in a row at one step that make a drain stuck.
pub const DRAIN_FAILURES: u32 = 3;

/// Wall time for `secs` of the pacer's time: the same with the wall clock,
/// divided by the speed with the simulation (nothing at speed 0).
pub fn wall(pacer: &Pacer, secs: u64) -> Duration {
    // Capped at 10 years, so `u64::MAX` ("nothing is due") stays addable to a SystemTime.
    let secs = secs.min(10 * 365 * 86_400);
    match pacer {
        Pacer::Wall => Duration::from_secs(secs),
        Pacer::Sim { speed, .. } if *speed > 0.0 => Duration::from_secs_f64(secs as f64 / speed),
        Pacer::Sim { .. } => Duration::ZERO,
    }
}

// The constructor is here, beside the pacer it reads, so that `events`
// (which carries heartbeats) needs nothing of the daemon.
impl Heartbeat {
    /// The heartbeat of a loop that, at wall time `now` and pacer time
    /// `clock`, has `next_wake` (pacer time) due next, with services whose
    /// shortest interval is `interval` pacer seconds. `stepped` says whether
    /// a step just finished (false before the first one).
    pub fn new(
        pacer: &Pacer,
        now: SystemTime,
        clock: u64,
        next_wake: u64,
        interval: u64,
        stepped: bool,
    ) -> Heartbeat {
        Heartbeat {
            stepped_at: stepped.then_some(now),
            due_at: now + wall(pacer, next_wake.saturating_sub(clock)),
            interval: wall(pacer, interval).max(MIN_INTERVAL),
            clock,
        }
    }
}

/// One service's readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceReadiness {
    /// Whether it is ready.
    pub ready: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What is wrong without stopping the service from autoscaling, such as
    /// a policy location in S3 that does not answer (the last good policy
    /// keeps deciding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// Whether every service is ready.
    pub ready: bool,
    /// Each service by key.
    pub services: BTreeMap<String, ServiceReadiness>,
}

/// Every service's readiness. `clock` is the pacer's time of the loop's
/// last step (none before it has run one: then no drain is past its deadline).
pub fn readiness(board: &BTreeMap<String, ServiceStatus>, clock: Option<u64>) -> Readiness {
    let services: BTreeMap<String, ServiceReadiness> = board
        .iter()
        .map(|(key, s)| {
            let reason = not_ready(s, clock);
            (
                key.clone(),
                ServiceReadiness {
                    ready: reason.is_none(),
                    reason,
                    warnings: Vec::new(),
                },
            )
        })
        .collect();
    Readiness {
        ready: services.values().all(|s| s.ready),
        services,
    }
}

impl Readiness {
    /// Adds each service's warnings about its policy locations in S3 (see
    /// [`crate::remote::poll`]). They do not make a service unready: it
    /// keeps autoscaling with its last good policy, and a restart would not
    /// help (with S3 unreachable, a new host could not load its policy at all).
    pub fn with_sources(mut self, sources: &crate::remote::poll::SourceHealth) -> Readiness {
        for (key, s) in &mut self.services {
            s.warnings.extend(sources.warnings(key));
        }
        self
    }
}

fn not_ready(s: &ServiceStatus, clock: Option<u64>) -> Option<String> {
    if s.gather_failures >= GATHER_FAILURES {
        let error = s
            .last
            .as_ref()
            .map(|r| r.reason())
            .unwrap_or_else(|| "unknown error".into());
        return Some(format!(
            "the last {} gathers failed: {error}",
            s.gather_failures
        ));
    }
    if s.drains_paused {
        return None; // A dry run holds its drains on purpose: they are paused, not stuck.
    }
    let open: Vec<&DrainWorkflow> = s.drains.iter().filter(|d| !d.is_done()).collect();
    let stuck: Vec<String> = open
        .iter()
        .filter_map(|d| stuck(d, s.interval, clock))
        .collect();
    if !open.is_empty() && stuck.len() == open.len() {
        return Some(format!(
            "all {} drains are stuck: {}",
            open.len(),
            stuck.join("; ")
        ));
    }
    None
}

/// Why drain `d` is stuck, or none when it is not.
fn stuck(d: &DrainWorkflow, interval: u64, clock: Option<u64>) -> Option<String> {
    let step = d.step.name();
    if d.attempts >= DRAIN_FAILURES {
        return Some(format!(
            "task {} failed step {step} {} times in a row ({})",
            d.task_id,
            d.attempts,
            d.last_error.as_deref().unwrap_or("no error recorded")
        ));
    }
    // A cordon's hold waits for sessions for hours, by design: its drain's
    // deadline counts from the hold's end.
    if d.is_holding() {
        return None;
    }
    let late = clock?.checked_sub(d.deadline_at)?;
    (late > interval.saturating_mul(u64::from(LATE_INTERVALS))).then(|| {
        format!(
            "task {} is at step {step} {late} s past its deadline",
            d.task_id
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::from_secs(1_000_000);

    #[test]
    fn the_loop_is_overdue_only_past_two_intervals_in_wall_time() {
        let start = SystemTime::UNIX_EPOCH + T0;
        // Wall clock: a 60 s interval, the next wake 30 s away.
        let hb = Heartbeat::new(&Pacer::Wall, start, 1000, 1030, 60, true);
        assert_eq!(hb.due_at, start + Duration::from_secs(30));
        assert_eq!(hb.overdue(start + Duration::from_secs(150)), None);
        let reason = hb.overdue(start + Duration::from_secs(151)).unwrap();
        assert!(
            reason.contains("due 121.0 s ago, more than 2 intervals of 60.0 s")
                && reason.contains("last step finished 151.0 s ago"),
            "{reason}"
        );
        // Never overdue before it is due.
        assert_eq!(hb.overdue(start), None);
    }

    #[test]
    fn wall_time_follows_the_pacer_speed_with_a_floor() {
        let sim = crate::providers::sim::SimProvider::new(Default::default()).unwrap();
        let fast = Pacer::Sim {
            sim: sim.clone(),
            speed: 60.0,
        };
        assert_eq!(wall(&fast, 120), Duration::from_secs(2));
        let flat_out = Pacer::Sim { sim, speed: 0.0 };
        assert_eq!(wall(&flat_out, 120), Duration::ZERO);
        let hb = Heartbeat::new(&flat_out, SystemTime::UNIX_EPOCH, 0, 60, 60, false);
        assert_eq!(hb.interval, MIN_INTERVAL);
        let reason = hb
            .overdue(SystemTime::UNIX_EPOCH + Duration::from_secs(3))
            .unwrap();
        assert!(
            reason.contains("has not finished its first step"),
            "{reason}"
        );
        // Nothing due at all never overflows.
        let idle = Heartbeat::new(&Pacer::Wall, SystemTime::UNIX_EPOCH, 0, u64::MAX, 60, true);
        assert_eq!(idle.overdue(SystemTime::UNIX_EPOCH + T0), None);
    }

    fn status(drains: Vec<DrainWorkflow>) -> ServiceStatus {
        ServiceStatus {
            service: "c/s".into(),
            policy: crate::tick::record::PolicyRef {
                name: "p".into(),
                version: "1".into(),
                sha256: "00".into(),
            },
            shadows: Vec::new(),
            next_tick: 0,
            drains,
            drains_paused: false,
            last: None,
            interval: 60,
            gather_failures: 0,
            holder: None,
            held_here: true,
        }
    }

    fn drain(task: &str) -> DrainWorkflow {
        DrainWorkflow::new(
            "c/s",
            task,
            None,
            0,
            &crate::workflow::DrainConfig::default(),
        )
    }

    #[test]
    fn a_cordon_holding_past_its_start_deadline_is_not_stuck() {
        let mut holding = DrainWorkflow::new_cordon(
            "c/s",
            "t1",
            None,
            crate::workflow::CordonMechanism::App,
            0,
            &crate::workflow::DrainConfig::default(),
        );
        holding.step = crate::workflow::Step::Hold { next_check_at: 0 };
        assert_eq!(
            stuck(&holding, 60, Some(holding.deadline_at + 10_000)),
            None
        );
        let mut waiting = drain("t2");
        waiting.step = crate::workflow::Step::Recheck;
        assert!(stuck(&waiting, 60, Some(waiting.deadline_at + 10_000)).is_some());
    }

    #[test]
    fn a_service_is_not_ready_only_when_all_its_drains_are_stuck() {
        let mut failing = drain("t1");
        failing.attempts = DRAIN_FAILURES;
        failing.last_error = Some("throttled".into());
        let fine = drain("t2");
        let board = BTreeMap::from([("c/s".to_string(), status(vec![failing.clone(), fine]))]);
        assert!(readiness(&board, Some(10)).ready, "one drain still moves");

        let board = BTreeMap::from([("c/s".to_string(), status(vec![failing.clone()]))]);
        let report = readiness(&board, Some(10));
        assert!(!report.ready);
        let reason = report.services["c/s"].reason.clone().unwrap();
        assert_eq!(
            reason,
            "all 1 drains are stuck: task t1 failed step protect 3 times in a row (throttled)"
        );

        // Past its deadline by more than two intervals (120 s), still unfinished.
        let late = drain("t3");
        let at = late.deadline_at;
        let board = BTreeMap::from([("c/s".to_string(), status(vec![late]))]);
        assert!(readiness(&board, Some(at + 120)).ready);
        let report = readiness(&board, Some(at + 121));
        assert_eq!(
            report.services["c/s"].reason.as_deref(),
            Some("all 1 drains are stuck: task t3 is at step protect 121 s past its deadline")
        );
        assert!(
            readiness(&board, None).ready,
            "no clock before the first step"
        );
        assert!(readiness(&BTreeMap::new(), None).ready);

        // A dry run holds its journaled drains on purpose: paused, not stuck.
        let mut paused = status(vec![failing]);
        paused.drains_paused = true;
        let board = BTreeMap::from([("c/s".to_string(), paused)]);
        assert!(readiness(&board, Some(at + 121)).ready);
    }

    #[test]
    fn an_unreachable_policy_location_is_a_warning_on_its_services_only() {
        use crate::remote::poll::SourceHealth;
        let url = "s3://b-1/live.wasm";
        let sources = SourceHealth::new(BTreeMap::from([
            ("c/s".to_string(), vec![url.to_string()]),
            (
                "c/other".to_string(),
                vec!["s3://b-1/other.wasm".to_string()],
            ),
        ]));
        let mut other = status(Vec::new());
        other.service = "c/other".into();
        let board = BTreeMap::from([
            ("c/s".to_string(), status(Vec::new())),
            ("c/other".to_string(), other),
        ]);
        assert!(
            readiness(&board, None).with_sources(&sources).services["c/s"]
                .warnings
                .is_empty()
        );
        sources.failed(url, "cannot reach s3://b-1/live.wasm: connection refused");
        let report = readiness(&board, None).with_sources(&sources);
        assert!(
            report.ready,
            "it keeps autoscaling with the last good policy"
        );
        let warnings = &report.services["c/s"].warnings;
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with(
                "policy s3://b-1/live.wasm cannot be checked for changes (failing for "
            ) && warnings[0].ends_with("connection refused); the last good policy keeps deciding"),
            "{}",
            warnings[0]
        );
        assert!(report.services["c/other"].warnings.is_empty());
        sources.answered(url);
        assert!(
            readiness(&board, None).with_sources(&sources).services["c/s"]
                .warnings
                .is_empty()
        );
    }
}
