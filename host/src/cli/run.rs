//! `autoscaler run`: the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use autoscaler::config::{Config, ProviderConfig};
use autoscaler::daemon::setup::{self, service_ref};
use autoscaler::daemon::{Daemon, Pacer, http};
use autoscaler::events::Events;
use autoscaler::ha::guard::Guarded;
use autoscaler::ha::membership;
use autoscaler::ha::table::LeaseTable;
use autoscaler::providers::Provider;
use autoscaler::providers::aws::AwsProvider;
use autoscaler::providers::{Clock, SystemClock};
use autoscaler::remote::S3Url;

use autoscaler::remote::s3::S3Error;
use autoscaler::runtime::PolicyEngine;
use autoscaler::runtime::reload::PolicyWatcher;
use autoscaler::sessions::ingest::Ingest;
use autoscaler::sessions::server;
use autoscaler::sessions::tasks::CurrentTasks;
use autoscaler::sessions::tokens::TokensFile;
use autoscaler::tick::{record::TickRecord, status_line};
use clap::Args;
use tokio::sync::watch;

mod remote;
mod summary;

pub(super) use remote::RemotePolicies;
use summary::print_summary;

/// How often `--wait-for-config` asks for the config again.
const CONFIG_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Options of `autoscaler run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The TOML config: a file (see examples/demo.toml), or an S3 object
    /// `s3://bucket/key.toml` (relative policy paths in it then resolve
    /// against its S3 folder).
    #[arg(long, short, value_name = "FILE|s3://BUCKET/KEY")]
    config: String,
    /// Decide and record, but execute nothing, for every service: no write to
    /// AWS or the simulated cluster, drains resumed from the journal stay
    /// paused, and cooldowns run as if the allowed actions had been carried out.
    #[arg(long)]
    dry_run: bool,
    /// Do not print a status line per tick.
    #[arg(long)]
    no_status: bool,
    /// With `--config s3://...`: while the config object does not exist yet,
    /// wait for it (asking every 15 s, with a warning each time) instead of
    /// failing. For a host deployed before its config is uploaded.
    #[arg(long)]
    wait_for_config: bool,
}

impl RunArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let code = runtime.block_on(async {
            let cfg = loop {
                match super::load_config(&self.config).await {
                    Err(e)
                        if self.wait_for_config
                            && matches!(e.downcast_ref::<S3Error>(), Some(S3Error::NotFound { .. })) =>
                    {
                        tracing::warn!(
                            "The config {} does not exist yet; asking again in {} s. Upload it (see deploy/README.md) to start.",
                            self.config,
                            CONFIG_WAIT.as_secs()
                        );
                        tokio::time::sleep(CONFIG_WAIT).await;
                    }
                    other => break other?,
                }
            };
            self.run_async(cfg).await
        });
        // Records and state are written by now; a policy still compiling on a
        // blocking thread must not hold the exit (ECS would SIGKILL it).
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        code
    }

    async fn run_async(self, cfg: Config) -> anyhow::Result<ExitCode> {
        let cache = cfg
            .cache_dir
            .clone()
            .or_else(PolicyEngine::default_cache_dir);
        let engine = PolicyEngine::new(cfg.limits.clone(), cache)?;
        let events = Events::new();
        let remote = RemotePolicies::fetch(&cfg).await?;
        match &cfg.provider {
            ProviderConfig::Sim { .. } => {
                let (sim, pacer, stop_at) =
                    setup::sim_world(&cfg)?.expect("a sim config gives a sim world");
                let services = setup::load_services_with(
                    &cfg,
                    &engine,
                    pacer.now(),
                    self.dry_run,
                    &remote.fetched,
                )?;
                let mut daemon =
                    setup::open(&cfg, sim.clone(), pacer, engine, services, events, true)?;
                daemon.stop_at = stop_at;
                let start = daemon.pacer.now();
                if !self.no_status {
                    let sim = sim.clone();
                    let refs: std::collections::HashMap<String, _> = cfg
                        .services
                        .iter()
                        .map(|s| (service_ref(s).key(), service_ref(s)))
                        .collect();
                    daemon.on_tick = Some(Box::new(move |r: &TickRecord| {
                        let t = r.at - start;
                        let load = refs
                            .get(&r.service)
                            .and_then(|svc| sim.with_world(|w| w.arrival_rate(svc)))
                            .unwrap_or(0.0);
                        println!(
                            "[day {} {:02}:{:02}] {}  load {:>5.1}/min  {}",
                            t / 86_400,
                            t % 86_400 / 3600,
                            t % 3600 / 60,
                            r.service,
                            load,
                            status_line(r)
                        );
                    }));
                }
                // Boxed: the daemon loop's future is large, and inlining it for both
                // providers in this one async body overflows the compiler's layout query depth.
                let code = Box::pin(drive(&cfg, &mut daemon, None, remote)).await?;
                print_summary(&daemon);
                for s in &cfg.services {
                    if let Some(st) = sim.stats(&service_ref(s)) {
                        println!(
                            "  {}/{} (simulated): sessions started {}, ended {}, killed {}, cut by the load balancer {}, refused {}; task-hours {:.1}; peak tasks {}",
                            s.cluster,
                            s.name,
                            st.sessions_started,
                            st.sessions_ended,
                            st.sessions_killed,
                            st.sessions_cut,
                            st.sessions_refused,
                            st.task_seconds as f64 / 3600.0,
                            st.peak_tasks
                        );
                    }
                }
                Ok(code)
            }
            ProviderConfig::Aws { .. } => {
                let settings = setup::aws_config(&cfg).expect("an aws config gives AWS settings");
                let provider = Box::pin(AwsProvider::from_env(settings)).await?;
                let ingest = match &cfg.ingest {
                    Some(i) => Some(ingest_api(i, &cfg, provider.session_store().clone())?),
                    None => None,
                };
                events.collect_from(std::sync::Arc::new(provider.calls().clone()));
                let services = setup::load_services_with(
                    &cfg,
                    &engine,
                    SystemClock.now(),
                    self.dry_run,
                    &remote.fetched,
                )?;
                let leases = setup::leases(&cfg);
                let refs: Vec<_> = cfg.services.iter().map(service_ref).collect();
                let provider = Guarded::new(provider, leases.clone(), &refs);
                let lease_loop = match (&cfg.ha, &leases) {
                    (Some(ha), Some(l)) => {
                        events.collect_from(std::sync::Arc::new(l.clone()));
                        let table = LeaseTable::connect(
                            provider.inner().config(),
                            ha.table.clone(),
                            ha.renew_every,
                        )
                        .await
                        .map_err(anyhow::Error::msg)?;
                        tracing::info!(host = %l.me(), table = %ha.table, "High availability: taking service leases as host {}.", l.me());
                        let (stop, rx) = watch::channel(false);
                        let task =
                            tokio::spawn(membership::run(l.clone(), table.clone(), ha.clone(), rx));
                        Some((stop, task, table, l.clone()))
                    }
                    _ => None,
                };
                let mut daemon = setup::open_with_leases(
                    &cfg,
                    provider,
                    Pacer::Wall,
                    engine,
                    services,
                    events,
                    false,
                    leases,
                )?;
                daemon.current_tasks = ingest.as_ref().map(|i| i.tasks.clone());
                if !self.no_status {
                    daemon.on_tick = Some(Box::new(|r: &TickRecord| {
                        println!(
                            "[{}] {}  {}",
                            humantime::format_rfc3339_seconds(unix(r.at)),
                            r.service,
                            status_line(r)
                        );
                    }));
                }
                let code = Box::pin(drive(&cfg, &mut daemon, ingest, remote)).await;
                // The daemon's last step is done: hand the services over at once.
                if let Some((stop, task, table, leases)) = lease_loop {
                    let _ = stop.send(true);
                    let _ = task.await;
                    membership::release_all(&leases, &table).await;
                }
                let code = code?;
                print_summary(&daemon);
                Ok(code)
            }
        }
    }
}

/// The ingest API's state: its tokens read, and an empty map of the configured services' tasks.
fn ingest_api(
    i: &autoscaler::sessions::IngestConfig,
    cfg: &Config,
    store: autoscaler::sessions::SessionStore,
) -> anyhow::Result<Ingest> {
    let tokens = match &i.tokens_file {
        Some(path) => Some(TokensFile::open(path).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let tasks = CurrentTasks::new(
        cfg.services
            .iter()
            .map(|s| autoscaler::sessions::partition_key(&s.cluster, &s.name)),
    );
    Ok(Ingest {
        store,
        clock: std::sync::Arc::new(SystemClock),
        tasks,
        tokens,
        config: i.clone(),
    })
}

fn unix(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// Runs `daemon` with the config's HTTP endpoint, hot reload and signal handling.
async fn drive<P: Provider + 'static>(
    cfg: &Config,
    daemon: &mut Daemon<P>,
    ingest: Option<Ingest>,
    remote: RemotePolicies,
) -> anyhow::Result<ExitCode> {
    let sources = remote.start(cfg);
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = stop_tx.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = signals.send(true);
    });
    if let Some(h) = &cfg.http {
        let listener = tokio::net::TcpListener::bind(h.listen)
            .await
            .with_context(|| {
                format!("cannot listen on {} (the `http.listen` setting)", h.listen)
            })?;
        tracing::info!(
            "Serving /healthz, /readyz, /metrics and /v1/services on http://{}.",
            h.listen
        );
        let router = http::router_with_sources(
            daemon.board.clone(),
            daemon.events.clone(),
            sources.as_ref().map(|s| s.health().clone()),
        );
        let mut rx = stop_rx.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            if let Err(e) = http::serve(listener, router, shutdown).await {
                tracing::error!("The HTTP endpoint failed: {e}");
            }
        });
    }
    if let Some(ingest) = ingest {
        let i = ingest.config.clone();
        let listener = tokio::net::TcpListener::bind(i.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (the `ingest.listen` setting)",
                    i.listen
                )
            })?;
        let tls = match (&i.tls_cert, &i.tls_key) {
            (Some(cert), Some(key)) => {
                Some(server::tls_acceptor(cert, key).map_err(anyhow::Error::msg)?)
            }
            _ => None,
        };
        tracing::info!(
            "Serving the session ingest API (POST /v1/sessions) on {}://{}{}.",
            if tls.is_some() { "https" } else { "http" },
            i.listen,
            if ingest.tokens.is_some() {
                ", bearer tokens required"
            } else {
                ", without tokens (loopback only)"
            }
        );
        let opts = server::Listener::from_config(&i, tls);
        let router = autoscaler::sessions::ingest::router(ingest);
        let mut rx = stop_rx.clone();
        tokio::spawn(server::serve(listener, router, opts, async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
    }
    let files: Vec<PathBuf> = cfg
        .services
        .iter()
        .flat_map(|s| std::iter::once(s.policy.clone()).chain(s.shadows.clone()))
        .filter(|p| !S3Url::is_s3(p))
        .collect();
    // The policies were loaded before this watch began; `Daemon::run` compares
    // each watched file with its loaded policy once, so a write in between is not lost.
    let watcher = match PolicyWatcher::watch(&files) {
        Ok(_) if files.is_empty() => None,
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("Cannot watch the policy files, so hot reload is off: {e}");
            None
        }
    };
    let result = daemon.run_with_sources(stop_rx, watcher, sources).await;
    let _ = stop_tx.send(true);
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
