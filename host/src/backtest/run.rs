//! One policy on one scenario, through the real daemon on virtual time.
//!
//! The run builds a [`Daemon`] exactly as `autoscaler run` does for one
//! simulated service (a [`Service`] with its policy component, guardrails,
//! drain timing and parameters; the [`SimProvider`] behind the provider
//! traits; the [`Pacer::Sim`] clock at speed 0), except that its drain
//! journal and decision records stay in memory. Then it loops, as
//! `Daemon::run` does without the sleeping: `step()` runs whatever is due
//! (ticks, drain steps), and the pacer moves the sim to the next wake-up, or
//! to the next minute boundary, whichever is sooner. At every minute boundary
//! it samples the sim (tasks, sessions, CPU as published) and feeds the
//! minute's arrivals to the [`Oracle`] and the [`Packing`] reference.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use sha2::Digest;

use super::BacktestError;
use super::figures::{self, Figures, Timing};
use super::oracle::OracleFigures;
use super::packing::PackingFigures;
use super::sampler::Sampler;
use super::scenario::Scenario;
pub use super::series::{Series, TickLog};
use crate::daemon::{Daemon, Pacer};
use crate::events::Events;
use crate::providers::sim::SimProvider;
use crate::providers::{Clock, ServiceRef};
use crate::runtime::{Policy, PolicyComponent, PolicyEngine};
use crate::tick::guard::Action;
use crate::tick::record::{JsonlSink, PolicyRef, RecordSink, TickRecord};
use crate::tick::{Service, ServiceSpec};
use crate::workflow::LatestJournal;

/// The label of the session-unaware reference run.
pub const REFERENCE_LABEL: &str = "AWS-style (session-unaware)";

/// One run to make.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Its label in tables and reports.
    pub label: String,
    /// The policy component.
    pub component: Arc<PolicyComponent>,
    /// Run as the session-unaware reference: scale-in lowers the desired
    /// count and ECS picks the tasks to stop, sessions or not.
    pub reference: bool,
    /// Also write every decision record to this JSON-lines file (replacing its contents).
    pub records: Option<PathBuf>,
}

impl TickLog {
    pub(crate) fn observe(&mut self, r: &TickRecord) {
        use crate::tick::outcome::OutcomeKind;
        self.ticks += 1;
        if let Some(f) = &r.fault {
            *self.faults.entry(f.kind).or_default() += 1;
        }
        self.gather_failures += u64::from(r.state.is_none());
        if let Some(state) = &r.state {
            self.cordoned.push((r.at, state.cordoned));
        }
        self.cordons.extend(r.cordoned.iter().map(|_| r.at));
        self.uncordons.extend(r.uncordoned.iter().map(|_| r.at));
        if r.state.is_some() {
            self.call_micros
                .push(u32::try_from(r.call_micros).unwrap_or(u32::MAX));
        }
        let set_ok = r
            .outcomes
            .iter()
            .any(|o| o.what == OutcomeKind::SetDesired && o.ok);
        match &r.action {
            Action::ScaleOut { .. } if set_ok => self.scale_outs.push(r.at),
            Action::ScaleIn { victims, .. } if set_ok || !victims.is_empty() => {
                self.scale_ins.push(r.at)
            }
            _ => {}
        }
        for o in &r.outcomes {
            match (o.what, o.outcome) {
                (OutcomeKind::DrainStart, _) => self.drains_started.push(r.at),
                (OutcomeKind::DrainFinished, Some(end)) => {
                    self.drains_finished.push((r.at, end));
                }
                _ => {}
            }
        }
    }
}

/// The daemon's record sink in a backtest: tallies each record, and writes
/// it to a file too when asked.
struct Tap {
    log: Arc<Mutex<TickLog>>,
    file: Option<JsonlSink>,
}

impl RecordSink for Tap {
    fn write(&mut self, record: &TickRecord) -> std::io::Result<()> {
        self.log.lock().observe(record);
        match self.file.as_mut() {
            Some(f) => f.write(record),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Its label.
    pub label: String,
    /// The policy that decided.
    pub policy: PolicyRef,
    /// Whether it ran as the session-unaware reference.
    pub reference: bool,
    /// The figures.
    pub figures: Figures,
    /// The wall-clock figures.
    pub timing: Timing,
    /// The oracle over this run's arrivals.
    pub oracle: OracleFigures,
    /// The packing reference over this run's arrivals.
    pub packing: PackingFigures,
    /// The online packing reference over this run's arrivals.
    pub online_packing: PackingFigures,
    /// Minute by minute.
    pub series: Series,
    /// What the ticks recorded.
    pub ticks: TickLog,
}

/// The service a scenario simulates.
pub fn service_ref(scenario: &Scenario) -> ServiceRef {
    ServiceRef {
        cluster: "backtest".into(),
        service: scenario.name.clone(),
        target_group: format!("{}-tg", scenario.name),
    }
}

/// Runs `spec` on `scenario`. `progress` is told the simulated seconds done,
/// about once per simulated hour.
pub fn run(
    scenario: &Scenario,
    spec: &RunSpec,
    engine: &PolicyEngine,
    cpu_target: f64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunOutput, BacktestError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|source| BacktestError::Io {
            what: "cannot start the backtest's runtime",
            path: PathBuf::new(),
            source,
        })?;
    rt.block_on(run_async(scenario, spec, engine, cpu_target, progress))
}

async fn run_async(
    scenario: &Scenario,
    spec: &RunSpec,
    engine: &PolicyEngine,
    cpu_target: f64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunOutput, BacktestError> {
    let sim_err = |source| BacktestError::Sim {
        scenario: scenario.name.clone(),
        source,
    };
    let svc = service_ref(scenario);
    let sim = SimProvider::new(scenario.world.clone()).map_err(sim_err)?;
    sim.add_service(svc.clone(), &scenario.sim)
        .map_err(sim_err)?;
    sim.with_world(|w| w.log_arrivals(&svc))
        .expect("the service was just added");

    // The declared parameters: types and ranges are checked; names no
    // declaration knows pass, since a scenario's table serves every policy.
    let label = spec.component.label();
    crate::runtime::params::check_known(&scenario.params, &[spec.component.declared(&label)])
        .map_err(|e| BacktestError::ScenarioField {
            scenario: scenario.name.clone(),
            field: format!("params.{}", e.name),
            message: e.message,
        })?;

    let start = sim.now();
    let end = start + scenario.duration.as_secs();
    let mut guard = scenario.guard.clone();
    guard.session_unaware_reference = spec.reference;
    guard.cordon = scenario.cordon;
    let service = Service::new(
        ServiceSpec {
            digest: spec.records.is_some(),
            svc: svc.clone(),
            interval: scenario.interval.as_secs().max(1),
            guard,
            drain: scenario.drain.clone(),
            params: scenario.params.clone(),
            history_window: scenario.history.as_secs(),
            dry_run: false,
            policy_path: None,
            shadow_paths: Vec::new(),
        },
        Policy::new(engine.clone(), spec.component.clone()),
        Vec::new(),
        start,
    );
    let log = Arc::new(Mutex::new(TickLog::default()));
    let file = match &spec.records {
        Some(path) => Some(JsonlSink::create(path).map_err(|source| BacktestError::Io {
            what: "cannot write decision records to",
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let mut daemon = Daemon::new(
        sim.clone(),
        Pacer::Sim {
            sim: sim.clone(),
            speed: 0.0,
        },
        engine.clone(),
        vec![service],
        Arc::new(LatestJournal::default()),
        Box::new(Tap {
            log: log.clone(),
            file,
        }),
        Events::quiet(),
    );
    daemon.stop_at = Some(end);

    let minutes = scenario.duration.as_secs().div_ceil(60) as usize;
    let mut sampler = Sampler::new(scenario, start, minutes);
    let wall = Instant::now();
    let mut reported = 0;
    loop {
        let now = sim.now();
        if now >= end {
            break;
        }
        daemon.step().await?;
        let next = daemon
            .next_wake()
            .min(sampler.next_minute)
            .min(end)
            .max(now + 1);
        daemon.pacer.wait_until(next).await;
        sampler.observe(&sim, &svc);
        if sampler.minute >= reported + 60 {
            reported = sampler.minute;
            progress(sim.now() - start);
        }
    }
    let wall = wall.elapsed();
    daemon.sink.flush().map_err(|source| BacktestError::Io {
        what: "cannot write decision records to",
        path: spec.records.clone().unwrap_or_default(),
        source,
    })?;
    drop(daemon);

    let stats = sim.stats(&svc).expect("the service is in the sim");
    let ticks = std::mem::take(&mut *log.lock());
    let mut series = sampler.series;
    figures::bucket_ticks(&ticks, start, &mut series);
    let oracle = sampler.oracle.figures(scenario.cost.task_hour_usd());
    let packing = sampler
        .packing
        .figures(scenario.cost.task_hour_usd(), oracle.task_hours);
    let online_packing = sampler
        .online
        .figures(scenario.cost.task_hour_usd(), oracle.task_hours);
    let component = spec.component.as_ref();
    let figures = Figures::compute(&figures::Inputs {
        scenario,
        stats: &stats,
        ticks: &ticks,
        series: &series,
        oracle: &oracle,
        packing: &packing,
        online_packing: &online_packing,
        arrivals: sampler.arrivals,
        arrivals_digest: hex::encode(&sampler.digest.finalize()[..16]),
        cpu_target,
        start,
        end,
    });
    let timing = Timing::compute(&ticks, wall);
    Ok(RunOutput {
        label: spec.label.clone(),
        policy: PolicyRef::from(component),
        reference: spec.reference,
        figures,
        timing,
        oracle,
        packing,
        online_packing,
        series,
        ticks,
    })
}
