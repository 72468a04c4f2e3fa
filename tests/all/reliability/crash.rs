//! Host crashes at every step of the drain workflow. A crash loses all the
//! host's memory while the world (the sim) carries on: the daemon stops dead at
//! a chosen journal write, is dropped, and a new one is built from the same
//! config, the same journal file (`setup::open(.., fresh = false)`) and the
//! same `SimProvider`. Each drain must then complete exactly once.
//!
//! Three ways to die at a write: right after the line is durable
//! (`After`), before it is written (`Before`: the step before it ran, its
//! result is lost), and halfway through writing it (`Torn`: a partial last
//! line, which recovery skips).
//!
//! Why in-process: the simulated world lives in the host's process, so a real
//! SIGKILL would kill the world too. Dropping the daemon at a failed journal
//! write loses exactly what a SIGKILL loses (everything not in the journal
//! or the state directory) while the world survives; the AWS provider's tests
//! against moto are where a killed process meets a world outside it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autoscaler::config::Config;
use autoscaler::daemon::{Daemon, setup};
use autoscaler::events::Events;
use autoscaler::model::{TargetHealth, TaskStatus};
use autoscaler::providers::sim::SimProvider;
use autoscaler::providers::{Clock, ServiceRef};
use autoscaler::runtime::PolicyEngine;
use autoscaler::sim::{SimStats, SimTask, StopCause};
use autoscaler::tick::outcome::OutcomeKind;
use autoscaler::tick::record::TickRecord;
use autoscaler::workflow::{DrainWorkflow, FileJournal, Journal, JournalError, Outcome, Step};

use crate::sim_run::{collect_records, config, open_daemon, stepped};

/// How the host dies at the chosen write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The line is durable, then the host dies.
    After,
    /// The host dies before writing the line.
    Before,
    /// The host dies with half the line written.
    Torn,
}

/// Where the host dies: the `nth` journal write of a workflow at `step`.
#[derive(Debug, Clone, Copy)]
pub struct Crash {
    pub step: &'static str,
    pub nth: u32,
    pub mode: Mode,
}

/// A journal that forwards to a [`FileJournal`], logs every state made
/// durable (across lives), and makes the host stop dead at its crash point.
struct CrashJournal {
    inner: FileJournal,
    path: PathBuf,
    log: Arc<Mutex<Vec<DrainWorkflow>>>,
    crash: Option<Crash>,
    matched: AtomicU32,
    dead: Arc<AtomicBool>,
}

impl Journal for CrashJournal {
    fn record(&self, wf: &DrainWorkflow) -> Result<(), JournalError> {
        let died = || Err(JournalError::Remote("the host crashed (simulated)".into()));
        if self.dead.load(Ordering::SeqCst) {
            return died();
        }
        if let Some(c) = self.crash.filter(|c| c.step == wf.step.name()) {
            let n = self.matched.fetch_add(1, Ordering::SeqCst) + 1;
            if n == c.nth {
                self.dead.store(true, Ordering::SeqCst);
                match c.mode {
                    Mode::After => {
                        self.inner.record(wf)?;
                        self.log.lock().unwrap().push(wf.clone());
                    }
                    Mode::Before => {}
                    Mode::Torn => {
                        let line = serde_json::to_string(wf).unwrap();
                        let mut f = std::fs::OpenOptions::new()
                            .append(true)
                            .open(&self.path)
                            .unwrap();
                        f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
                        f.sync_all().unwrap();
                    }
                }
                return died();
            }
        }
        self.inner.record(wf)?;
        self.log.lock().unwrap().push(wf.clone());
        Ok(())
    }

    fn unfinished(&self) -> Result<Vec<DrainWorkflow>, JournalError> {
        self.inner.unfinished()
    }
}

/// Which way the drain should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Idle victims: the drains stop them.
    Stopped,
    /// A session reported late lands on the victim while it waits: the drain aborts.
    Aborted,
}

/// What a two-life run left behind.
pub struct Crashed {
    pub crashed: bool,
    pub stats: SimStats,
    pub tasks: Vec<SimTask>,
    /// Every workflow state made durable, in order, across both lives.
    pub log: Vec<DrainWorkflow>,
    /// What the journal file holds unfinished after the run.
    pub unfinished: Vec<DrainWorkflow>,
    pub records: Vec<TickRecord>,
    pub initial: u32,
}

const HOUR: u64 = 3600;

fn scenario(victims: u32) -> String {
    // Three idle tasks; the policy drains down to `3 - victims` and the guard allows it at once.
    config(
        autoscaler::artifacts::SESSION_AWARE,
        &format!(
            r#"
[service.params]
scale-in-window = 300
[service.guard]
min = {min}
max = 3
max_step_down = {victims}
[service.drain]
deregistration_delay = "60s"
[service.sim]
initial_tasks = 3
deregistration_delay = "60s"
workload = {{ kind = "steady", per_min = 0.0 }}
"#,
            min = 3 - victims
        ),
    )
}

struct Life {
    daemon: Daemon<SimProvider>,
}

fn open_life(
    cfg: &Config,
    engine: &PolicyEngine,
    sim: &SimProvider,
    fresh: bool,
    journal: impl FnOnce(FileJournal, PathBuf) -> CrashJournal,
    records: &Arc<Mutex<Vec<TickRecord>>>,
) -> Life {
    let mut daemon = open_daemon(
        cfg,
        engine,
        sim,
        stepped(sim),
        false,
        fresh,
        Events::quiet(),
    );
    // Swap in the crashing journal over the same file (the daemon resumed from it already).
    let path = cfg.state_dir.join("drains.jsonl");
    daemon.journal = Arc::new(autoscaler::workflow::MemoryJournal::default());
    daemon.journal = Arc::new(journal(FileJournal::open(&path).unwrap(), path));
    collect_records(&mut daemon, records);
    Life { daemon }
}

/// What outlives a host: the world, and what the test observes.
struct Outside {
    sim: SimProvider,
    svc: ServiceRef,
    ending: Ending,
    log: Arc<Mutex<Vec<DrainWorkflow>>>,
    records: Arc<Mutex<Vec<TickRecord>>>,
    session_placed: bool,
}

impl Outside {
    /// Runs one life until `until`, the host's death, or (with `quiet`) the drains' end.
    async fn drive(&mut self, life: &mut Life, dead: &AtomicBool, until: u64, quiet: bool) {
        let d = &mut life.daemon;
        while self.sim.now() < until {
            // One drain per run: once a drain exists, the service only decides and records.
            if !d.services[0].drains.is_empty() || !self.log.lock().unwrap().is_empty() {
                crate::support::no_new_actions(&mut d.services[0], self.sim.now());
            }
            if self.ending == Ending::Aborted && !self.session_placed {
                let waiting = d.services[0]
                    .drains
                    .iter()
                    .find(|w| matches!(w.step, Step::Wait { .. }))
                    .map(|w| w.task_id.clone());
                if let Some(id) = waiting {
                    self.sim
                        .open_session(&self.svc, &id, Duration::from_secs(HOUR))
                        .expect("the victim is running");
                    self.session_placed = true;
                }
            }
            if let Err(e) = d.step().await {
                assert!(
                    dead.load(Ordering::SeqCst),
                    "only the simulated crash stops the daemon: {e}"
                );
                return;
            }
            let settled = d.services[0].drains.is_empty() && !self.log.lock().unwrap().is_empty();
            if quiet && settled {
                return;
            }
            let next = d.next_wake().min(until).max(self.sim.now() + 1);
            d.pacer.wait_until(next).await;
        }
    }

    fn life(
        &self,
        cfg: &Config,
        engine: &PolicyEngine,
        fresh: bool,
        crash: Option<Crash>,
        dead: Arc<AtomicBool>,
    ) -> Life {
        let log = self.log.clone();
        open_life(
            cfg,
            engine,
            &self.sim,
            fresh,
            move |inner, path| CrashJournal {
                inner,
                path,
                log,
                crash,
                matched: AtomicU32::new(0),
                dead,
            },
            &self.records,
        )
    }
}

/// Crashes the host at `crash` (or never), restarts it, and runs to a quiet end.
pub async fn run(ending: Ending, victims: u32, crash: Option<Crash>) -> Crashed {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "state_dir = {:?}\n{}",
        dir.path().join("state"),
        scenario(victims)
    );
    let cfg = Config::parse(&text, &dir.path().join("crash.toml")).unwrap();
    let engine = PolicyEngine::new(cfg.limits.clone(), Some(crate::support::test_cache())).unwrap();
    let (sim, _, _) = setup::sim_world(&cfg).unwrap().unwrap();
    let mut out = Outside {
        svc: setup::service_ref(&cfg.services[0]),
        sim,
        ending,
        log: Arc::default(),
        records: Arc::default(),
        session_placed: false,
    };

    let dead = Arc::new(AtomicBool::new(false));
    let mut first = out.life(&cfg, &engine, true, crash, dead.clone());
    let first_end = if crash.is_some() { 2 * HOUR } else { 3 * HOUR };
    out.drive(&mut first, &dead, first_end, crash.is_none())
        .await;
    let crashed = dead.load(Ordering::SeqCst);
    drop(first); // the host's memory is gone; the world is not

    if crashed {
        out.sim.advance(90); // the host is down for a while
        let alive = Arc::new(AtomicBool::new(false));
        let mut second = out.life(&cfg, &engine, false, None, alive.clone());
        let end = out.sim.now() + 2 * HOUR;
        out.drive(&mut second, &alive, end, true).await;
    }
    // Let the last changes settle (a target registered again turns healthy).
    out.sim.advance(600);
    let unfinished = FileJournal::open(&cfg.state_dir.join("drains.jsonl"))
        .unwrap()
        .unfinished()
        .unwrap();
    let log = out.log.lock().unwrap().clone();
    let records = out.records.lock().unwrap().clone();
    Crashed {
        crashed,
        stats: out.sim.stats(&out.svc).unwrap(),
        tasks: out.sim.sim_tasks(&out.svc).unwrap(),
        log,
        unfinished,
        records,
        initial: 3,
    }
}

impl Crashed {
    /// Each workflow's IDs with their Done outcomes, in order.
    fn outcomes(&self) -> BTreeMap<String, Vec<Outcome>> {
        let mut by_id: BTreeMap<String, Vec<Outcome>> = BTreeMap::new();
        for wf in &self.log {
            let entry = by_id.entry(wf.id.clone()).or_default();
            if let Step::Done { outcome } = &wf.step {
                entry.push(outcome.clone());
            }
        }
        by_id
    }

    fn victims(&self) -> BTreeSet<String> {
        self.log.iter().map(|wf| wf.task_id.clone()).collect()
    }

    /// Every drain completed exactly once, each by stopping its idle victim, and nothing else.
    pub fn assert_stopped_exactly_once(&self, victims: u32, what: &str) {
        assert!(
            self.unfinished.is_empty(),
            "{what}: unfinished {:?}",
            self.unfinished
        );
        let outcomes = self.outcomes();
        assert_eq!(
            outcomes.len(),
            victims as usize,
            "{what}: workflows {outcomes:#?}"
        );
        for (id, done) in &outcomes {
            assert_eq!(
                done,
                &vec![Outcome::Stopped],
                "{what}: {id} finished {done:?}"
            );
        }
        let s = &self.stats;
        assert_eq!(
            s.scale_ins,
            u64::from(victims),
            "{what}: one decrement per drain: {s:?}"
        );
        assert_eq!(s.desired, self.initial - victims, "{what}: {s:?}");
        assert_eq!(
            s.tasks_stopped,
            u64::from(victims),
            "{what}: only the victims stopped: {s:?}"
        );
        assert_eq!(
            s.tasks_launched,
            u64::from(self.initial),
            "{what}: no replacement: {s:?}"
        );
        assert_eq!(
            (s.sessions_killed, s.stop_task_calls),
            (0, 0),
            "{what}: {s:?}"
        );
        let started = self
            .records
            .iter()
            .flat_map(|r| &r.outcomes)
            .filter(|o| o.what == OutcomeKind::DrainStart)
            .count();
        // The tick that started a drain may have died before its record was written.
        assert!(
            started <= victims as usize,
            "{what}: {started} drains started"
        );
        let victims = self.victims();
        for t in &self.tasks {
            if victims.contains(&t.id) {
                assert_eq!(
                    (t.status, t.stop_cause),
                    (TaskStatus::Stopped, Some(StopCause::ScaleIn)),
                    "{what}: victim {t:?}"
                );
            } else {
                assert_eq!(
                    (t.status, t.health, t.stop_cause),
                    (TaskStatus::Running, TargetHealth::Healthy, None),
                    "{what}: keeper {t:?}"
                );
            }
        }
    }

    /// The drain aborted exactly once: nothing stopped, the victim serves again.
    pub fn assert_aborted_exactly_once(&self, what: &str) {
        assert!(
            self.unfinished.is_empty(),
            "{what}: unfinished {:?}",
            self.unfinished
        );
        let outcomes = self.outcomes();
        assert_eq!(outcomes.len(), 1, "{what}: workflows {outcomes:#?}");
        let done = outcomes.values().next().unwrap();
        assert!(
            matches!(done.as_slice(), [Outcome::Aborted { .. }]),
            "{what}: finished {done:?}"
        );
        let s = &self.stats;
        assert_eq!(
            (s.scale_ins, s.tasks_stopped, s.sessions_killed),
            (0, 0, 0),
            "{what}: {s:?}"
        );
        assert_eq!(s.desired, self.initial, "{what}: {s:?}");
        for t in &self.tasks {
            assert_eq!(
                (t.status, t.health),
                (TaskStatus::Running, TargetHealth::Healthy),
                "{what}: every task serves, the victim registered again: {t:?}"
            );
        }
        let victim = self.victims().into_iter().next().unwrap();
        let v = self.tasks.iter().find(|t| t.id == victim).unwrap();
        assert_eq!(v.sessions, 1, "{what}: the late session carries on: {v:?}");
    }
}

/// How many journal writes of each step a run without a crash makes.
async fn writes_per_step(path: Ending, victims: u32) -> BTreeMap<&'static str, u32> {
    let clean = run(path, victims, None).await;
    let mut n = BTreeMap::new();
    for wf in &clean.log {
        *n.entry(wf.step.name()).or_default() += 1;
    }
    n
}

/// Crashes at every write of `step`, in every mode, and checks each run.
async fn crash_at_every_write_of(step: &'static str, path: Ending) {
    let counts = writes_per_step(path, 1).await;
    let writes = counts.get(step).copied().unwrap_or(0);
    assert!(writes > 0, "a clean run journals {step}: {counts:?}");
    for nth in 1..=writes {
        for mode in [Mode::After, Mode::Before, Mode::Torn] {
            let what = format!("crash at {step} write {nth}/{writes}, {mode:?}");
            let r = run(path, 1, Some(Crash { step, nth, mode })).await;
            assert!(r.crashed, "{what}: the crash point was reached");
            match path {
                Ending::Stopped => r.assert_stopped_exactly_once(1, &what),
                Ending::Aborted => r.assert_aborted_exactly_once(&what),
            }
        }
    }
}

#[tokio::test]
async fn a_run_without_a_crash_drains_one_idle_task() {
    let r = run(Ending::Stopped, 1, None).await;
    assert!(!r.crashed);
    r.assert_stopped_exactly_once(1, "no crash");
    let counts = writes_per_step(Ending::Stopped, 1).await;
    for step in [
        "protect",
        "deregister",
        "wait",
        "recheck",
        "scale-in",
        "confirm",
        "done",
    ] {
        assert!(counts.contains_key(step), "{step} journaled: {counts:?}");
    }
    let r = run(Ending::Aborted, 1, None).await;
    r.assert_aborted_exactly_once("no crash");
    assert_eq!(
        counts.get("roll-back"),
        None,
        "the stopped path never rolls back"
    );
    let counts = writes_per_step(Ending::Aborted, 1).await;
    assert!(counts.contains_key("roll-back"), "{counts:?}");
}

#[tokio::test]
async fn crash_after_protect_is_journaled() {
    crash_at_every_write_of("protect", Ending::Stopped).await;
}

#[tokio::test]
async fn crash_after_deregister_is_journaled() {
    crash_at_every_write_of("deregister", Ending::Stopped).await;
}

#[tokio::test]
async fn crash_after_wait_is_journaled() {
    crash_at_every_write_of("wait", Ending::Stopped).await;
}

#[tokio::test]
async fn crash_after_recheck_is_journaled() {
    crash_at_every_write_of("recheck", Ending::Stopped).await;
}

#[tokio::test]
async fn crash_after_scale_in_is_journaled() {
    crash_at_every_write_of("scale-in", Ending::Stopped).await;
}

#[tokio::test]
async fn crash_after_confirm_is_journaled() {
    crash_at_every_write_of("confirm", Ending::Stopped).await;
}

#[tokio::test]
async fn crash_after_done_is_journaled() {
    crash_at_every_write_of("done", Ending::Stopped).await;
    crash_at_every_write_of("done", Ending::Aborted).await;
}

#[tokio::test]
async fn crash_after_roll_back_is_journaled() {
    crash_at_every_write_of("roll-back", Ending::Aborted).await;
    crash_at_every_write_of("recheck", Ending::Aborted).await;
}

#[tokio::test]
async fn a_torn_last_journal_line_loses_no_other_drain() {
    // Two drains at once; the host dies halfway through writing one's state.
    let counts = writes_per_step(Ending::Stopped, 2).await;
    assert_eq!(counts.get("protect"), Some(&2), "two drains: {counts:?}");
    for (step, nth) in [("wait", 1), ("recheck", 2), ("scale-in", 3), ("confirm", 1)] {
        let r = run(
            Ending::Stopped,
            2,
            Some(Crash {
                step,
                nth,
                mode: Mode::Torn,
            }),
        )
        .await;
        assert!(r.crashed);
        r.assert_stopped_exactly_once(2, &format!("torn {step} {nth}"));
    }
}
