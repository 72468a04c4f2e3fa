//! `autoscaler record`: run the daemon on a config and write what it sees of
//! one service's sessions as a replayable trace: a rate trace (one line a
//! minute), or with `--sessions` the exact sessions (one line a session).

use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use autoscaler::backtest::record::{self, SessionsRecorder, TraceRecorder};
use autoscaler::config::{Config, ProviderConfig, ServiceConfig};
use autoscaler::daemon::{Pacer, setup};
use autoscaler::events::Events;
use autoscaler::providers::aws::AwsProvider;
use autoscaler::providers::{Clock, SystemClock};
use autoscaler::runtime::PolicyEngine;
use clap::Args;
use tokio::sync::watch;

/// Options of `autoscaler record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The daemon's TOML config (see examples/demo.toml).
    #[arg(long, short, value_name = "FILE")]
    config: PathBuf,
    /// Where to write the trace: JSON lines, one per minute; with
    /// --sessions, CSV with one session per line.
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// Write the exact sessions (start and length of each, from the session
    /// store's items) instead of per-minute rates. With a simulated config
    /// the daemon runs as usual; with provider.kind = "aws" nothing is run:
    /// the DynamoDB sessions table is only read, every --sample.
    #[arg(long)]
    sessions: bool,
    /// How long to record [default: the config's provider.duration; until
    /// interrupted if it has none].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// The service to record, as NAME or CLUSTER/NAME [default: the only one].
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
    /// How often to read the session store; for a rate trace it must divide a minute.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    sample: Duration,
    /// The trailing window of the mean-session-length estimate (Little's law).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    window: Duration,
    /// Simulated seconds per wall-clock second, for the simulated cluster
    /// [default: the config's provider.speed]; 0 runs as fast as possible.
    #[arg(long, value_name = "X")]
    speed: Option<f64>,
    /// Decide and record, but execute nothing.
    #[arg(long)]
    dry_run: bool,
}

impl RecordArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let cfg = Config::load(&self.config)?;
        let service = self.pick_service(&cfg)?.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(self.run_async(cfg, service))
    }

    fn pick_service<'a>(&self, cfg: &'a Config) -> anyhow::Result<&'a ServiceConfig> {
        let names: Vec<String> = cfg
            .services
            .iter()
            .map(|s| format!("{}/{}", s.cluster, s.name))
            .collect();
        match &self.service {
            Some(want) => cfg
                .services
                .iter()
                .find(|s| &s.name == want || format!("{}/{}", s.cluster, s.name) == *want)
                .with_context(|| {
                    format!(
                        "--service {want}: no such service in {}; it has {}",
                        self.config.display(),
                        names.join(", ")
                    )
                }),
            None if cfg.services.len() == 1 => Ok(&cfg.services[0]),
            None => anyhow::bail!(
                "{} has {} services ({}); pick one with --service",
                self.config.display(),
                names.len(),
                names.join(", ")
            ),
        }
    }

    async fn run_async(self, cfg: Config, service: ServiceConfig) -> anyhow::Result<ExitCode> {
        if self.sessions {
            return self.record_sessions(cfg, service).await;
        }
        let cache = cfg
            .cache_dir
            .clone()
            .or_else(PolicyEngine::default_cache_dir);
        let engine = PolicyEngine::new(cfg.limits.clone(), cache)?;
        let file = std::fs::File::create(&self.out)
            .with_context(|| format!("cannot create the trace file {}", self.out.display()))?;
        let mut recorder = TraceRecorder::new(
            setup::service_ref(&service),
            self.sample.as_secs(),
            self.window.as_secs(),
            BufWriter::new(file),
        )
        .map_err(|e| anyhow::anyhow!("--sample/--window: {e}"))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        match &cfg.provider {
            ProviderConfig::Sim { .. } => {
                let (sim, pacer, stop_at) =
                    setup::sim_world(&cfg)?.expect("a sim config gives a sim world");
                let pacer = match (self.speed, pacer) {
                    (Some(speed), Pacer::Sim { sim, .. }) => Pacer::Sim { sim, speed },
                    (_, p) => p,
                };
                // Policies in S3 are read once (a recording does not hot-reload).
                let remote = super::run::RemotePolicies::fetch(&cfg).await?;
                let services = setup::load_services_with(
                    &cfg,
                    &engine,
                    pacer.now(),
                    self.dry_run,
                    &remote.fetched,
                )?;
                let mut daemon =
                    setup::open(&cfg, sim, pacer, engine, services, Events::new(), true)?;
                let start = daemon.pacer.now();
                let until = self.duration.map(|d| start + d.as_secs()).or(stop_at);
                if until.is_none() {
                    eprintln!(
                        "Recording until interrupted (Ctrl-C); give --duration to stop on its own."
                    );
                }
                record::record(&mut daemon, &mut recorder, until, stop_rx).await?;
            }
            ProviderConfig::Aws { .. } => {
                anyhow::bail!(
                    "provider.kind = \"aws\" is not available in this build yet; record from a simulated config"
                )
            }
        }
        let (lines, arrivals, failed, mean) = (
            recorder.lines,
            recorder.total_arrivals,
            recorder.failed_reads,
            recorder.mean_session(),
        );
        recorder
            .finish()
            .with_context(|| format!("cannot write the trace file {}", self.out.display()))?;
        println!(
            "Wrote {lines} minutes to {}: {arrivals:.0} arrivals ({:.1} a minute), mean session length {}{}.",
            self.out.display(),
            if lines > 0 {
                arrivals / lines as f64
            } else {
                0.0
            },
            mean.map_or("unknown (too few arrivals)".into(), |m| format!("{m:.0} s")),
            if failed > 0 {
                format!("; {failed} reads of the session counts failed")
            } else {
                String::new()
            }
        );
        Ok(ExitCode::SUCCESS)
    }

    /// `--sessions`: exact sessions from the session store's items.
    async fn record_sessions(
        self,
        cfg: Config,
        service: ServiceConfig,
    ) -> anyhow::Result<ExitCode> {
        if self.sample.as_secs() == 0 {
            anyhow::bail!("--sample must be at least 1s");
        }
        let file = std::fs::File::create(&self.out)
            .with_context(|| format!("cannot create the sessions file {}", self.out.display()))?;
        let mut recorder = SessionsRecorder::new(BufWriter::new(file))
            .with_context(|| format!("cannot write the sessions file {}", self.out.display()))?;
        let (stop_tx, mut stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        let svc = setup::service_ref(&service);
        let sample = self.sample.as_secs();
        let end = match &cfg.provider {
            ProviderConfig::Sim { .. } => {
                let cache = cfg
                    .cache_dir
                    .clone()
                    .or_else(PolicyEngine::default_cache_dir);
                let engine = PolicyEngine::new(cfg.limits.clone(), cache)?;
                let (sim, pacer, stop_at) =
                    setup::sim_world(&cfg)?.expect("a sim config gives a sim world");
                let pacer = match (self.speed, pacer) {
                    (Some(speed), Pacer::Sim { sim, .. }) => Pacer::Sim { sim, speed },
                    (_, p) => p,
                };
                let services = setup::load_services(&cfg, &engine, pacer.now(), self.dry_run)?;
                let mut daemon =
                    setup::open(&cfg, sim, pacer, engine, services, Events::new(), true)?;
                let start = daemon.pacer.now();
                let until = self.duration.map(|d| start + d.as_secs()).or(stop_at);
                if until.is_none() {
                    eprintln!(
                        "Recording until interrupted (Ctrl-C); give --duration to stop on its own."
                    );
                }
                record::record_sessions(&mut daemon, &svc, &mut recorder, sample, until, stop_rx)
                    .await?
            }
            ProviderConfig::Aws { .. } => {
                let settings =
                    setup::aws_settings(&cfg.provider).expect("an aws config gives aws settings");
                let provider = AwsProvider::from_env(settings).await?;
                let store = provider.session_store();
                let start = SystemClock.now();
                let until = self.duration.map(|d| start + d.as_secs());
                eprintln!(
                    "Reading the sessions of {} from table {} every {}s{}; nothing is scaled.",
                    svc.key(),
                    store.table(),
                    sample,
                    if until.is_some() {
                        ""
                    } else {
                        ", until interrupted (Ctrl-C)"
                    }
                );
                loop {
                    let now = SystemClock.now();
                    let items = store.list(&svc.cluster, &svc.service).await;
                    recorder
                        .observe(now, items)
                        .with_context(|| format!("cannot write {}", self.out.display()))?;
                    if *stop_rx.borrow() || until.is_some_and(|u| now >= u) {
                        break now;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(self.sample) => {}
                        _ = stop_rx.changed() => {}
                    }
                }
            }
        };
        let (written, dropped, failed) =
            (recorder.written, recorder.dropped, recorder.failed_reads);
        let open = recorder
            .finish(end)
            .with_context(|| format!("cannot write the sessions file {}", self.out.display()))?;
        drop(open);
        println!(
            "Wrote the sessions seen to {} ({written} ended while recording, the rest cut at its end){}{}.",
            self.out.display(),
            if dropped > 0 {
                format!("; {dropped} not followed (too many at once)")
            } else {
                String::new()
            },
            if failed > 0 {
                format!("; {failed} reads of the session store failed")
            } else {
                String::new()
            }
        );
        Ok(ExitCode::SUCCESS)
    }
}
