//! Building a daemon from a [`Config`]: policies, services, the provider,
//! the journal and the record files. The CLI and the tests share it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

pub mod warnings;

use super::{Daemon, Pacer};
use crate::config::{Config, Fallback, JournalConfig, ProviderConfig};
use crate::events::Events;
use crate::ha::Leases;
use crate::providers::aws::AwsConfig;
use crate::providers::aws::DynamoJournal;
use crate::providers::sim::SimProvider;
use crate::providers::{Clock, Provider, ServiceRef};
use crate::remote::S3Url;
use crate::remote::s3::Object;
use crate::rotate::{self, RotatingFile};
use crate::runtime::{LoadError, ParamError, Policy, PolicyComponent, PolicyEngine};
use crate::sim::SimError;
use crate::tick::guard::GuardConfig;
use crate::tick::record::{JsonlSink, RecordSink};
use crate::tick::{Service, ServiceSpec};
use crate::workflow::{FileJournal, Journal, JournalError};

/// Why a daemon could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A policy failed to load.
    #[error("service {service}: {source}")]
    Policy {
        /// The service key.
        service: String,
        /// The load error (it names the file).
        source: LoadError,
    },
    /// A policy kept in S3 could not be had.
    #[error("service {service}: {message}")]
    Remote {
        /// The service key.
        service: String,
        /// What went wrong, naming the location.
        message: String,
    },
    /// The service's `[params]` do not fit what its policies declare.
    #[error("service {service}: its [params] do not fit its policies: {source}")]
    Params {
        /// The service key.
        service: String,
        /// Which parameter, its value, what is allowed and the policy.
        source: ParamError,
    },
    /// The simulated cluster refused its config.
    #[error("simulated cluster: {0}")]
    Sim(#[from] SimError),
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The state directory or a record file is unusable.
    #[error("state directory {path}: {source} (check the `state_dir` setting and its permissions)")]
    StateDir {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The `ServiceRef` of a configured service.
pub fn service_ref(s: &crate::config::ServiceConfig) -> ServiceRef {
    ServiceRef {
        cluster: s.cluster.clone(),
        service: s.name.clone(),
        target_group: s.target_group.clone(),
    }
}

/// The AWS provider settings a `provider.kind = "aws"` config describes; none for the sim.
pub fn aws_config(cfg: &Config) -> Option<AwsConfig> {
    aws_settings(&cfg.provider)
}

/// The AWS provider settings of a `[provider]` table; none for the sim.
pub fn aws_settings(provider: &ProviderConfig) -> Option<AwsConfig> {
    match provider {
        ProviderConfig::Aws {
            region,
            endpoint_url,
            sessions_table,
        } => Some(AwsConfig {
            region: region.clone(),
            endpoint_url: endpoint_url.clone(),
            sessions_table: sessions_table.clone(),
            ..AwsConfig::default()
        }),
        ProviderConfig::Sim { .. } => None,
    }
}

/// The drain journal the config asks for: the file in `state_dir`, or the
/// DynamoDB table (which needs a multi-threaded tokio runtime: see
/// [`crate::providers::aws::journal`]).
pub fn journal(cfg: &Config) -> Result<Arc<dyn Journal>, SetupError> {
    journal_with(cfg, None)
}

/// [`journal`], its DynamoDB writes conditional on the service's lease when
/// `leases` is given (`[ha]`). Then no drain is read back at start: each is
/// resumed by the host that takes its service's lease.
pub fn journal_with(cfg: &Config, leases: Option<&Leases>) -> Result<Arc<dyn Journal>, SetupError> {
    Ok(match &cfg.journal {
        JournalConfig::File => Arc::new(FileJournal::open(&cfg.state_dir.join("drains.jsonl"))?),
        JournalConfig::Dynamodb { table } => {
            let aws = aws_config(cfg).ok_or_else(|| {
                JournalError::Remote(
                    "journal.kind = \"dynamodb\" needs provider.kind = \"aws\"".into(),
                )
            })?;
            let services = match leases {
                Some(_) => Vec::new(),
                None => cfg.services.iter().map(|s| service_ref(s).key()).collect(),
            };
            let journal = DynamoJournal::connect(&aws, table.clone(), services)?;
            match leases {
                Some(l) => Arc::new(journal.with_fence(Arc::new(l.clone()))),
                None => Arc::new(journal),
            }
        }
    })
}

/// Loads every service's policies and builds its runtime state, first tick at `now`.
pub fn load_services(
    cfg: &Config,
    engine: &PolicyEngine,
    now: u64,
    dry_run: bool,
) -> Result<Vec<Service>, SetupError> {
    load_services_with(cfg, engine, now, dry_run, &BTreeMap::new())
}

/// [`load_services`], with the policies kept in S3 already fetched
/// ([`crate::remote::poll::fetch_all`]): `fetched` holds every `s3://`
/// location the config names.
pub fn load_services_with(
    cfg: &Config,
    engine: &PolicyEngine,
    now: u64,
    dry_run: bool,
    fetched: &BTreeMap<S3Url, Object>,
) -> Result<Vec<Service>, SetupError> {
    cfg.services
        .iter()
        .map(|s| {
            let svc = service_ref(s);
            let load = |path: &PathBuf| {
                let component = match S3Url::from_path(path) {
                    Some(url) => {
                        let url = url.map_err(|message| SetupError::Remote {
                            service: svc.key(),
                            message,
                        })?;
                        let object = fetched.get(&url).ok_or_else(|| SetupError::Remote {
                            service: svc.key(),
                            message: format!("{url} was not fetched from S3 before loading"),
                        })?;
                        engine.load_bytes(&object.bytes, &url.to_string())
                    }
                    None => engine.load_file(path),
                };
                component
                    .map(|c| Policy::new(engine.clone(), c))
                    .map_err(|source| SetupError::Policy {
                        service: svc.key(),
                        source,
                    })
            };
            let policy = load(&s.policy)?;
            let shadows = s.shadows.iter().map(load).collect::<Result<Vec<_>, _>>()?;
            let fallback = match &s.fallback {
                Fallback::Policy(path) => Some(load(path)?),
                Fallback::Hold => None,
            };
            let components: Vec<&PolicyComponent> = std::iter::once(&policy)
                .chain(&shadows)
                .chain(&fallback)
                .map(|p| p.component().as_ref())
                .collect();
            PolicyComponent::check_service_params(&s.params, &components).map_err(|source| {
                SetupError::Params {
                    service: svc.key(),
                    source,
                }
            })?;
            let spec = ServiceSpec {
                digest: true,
                svc: svc.clone(),
                interval: s.interval.as_secs().max(1),
                guard: GuardConfig {
                    cordon: s.cordon,
                    ..s.guard.clone()
                },
                drain: s.drain.clone(),
                params: s.params.clone(),
                history_window: s.history.as_secs(),
                dry_run: dry_run || s.dry_run,
                policy_path: Some(s.policy.clone()),
                shadow_paths: s.shadows.clone(),
            };
            let service = Service::new(spec, policy, shadows, now);
            Ok(match fallback {
                Some(fallback) => {
                    service.with_fallback(fallback, s.fallback_after, s.fallback_window)
                }
                None => service,
            })
        })
        .collect()
}

/// The simulated cluster a `provider.kind = "sim"` config describes, with its pacer and end time.
pub fn sim_world(cfg: &Config) -> Result<Option<(SimProvider, Pacer, Option<u64>)>, SetupError> {
    let ProviderConfig::Sim {
        world,
        speed,
        duration,
        faults,
    } = &cfg.provider
    else {
        return Ok(None);
    };
    let sim = SimProvider::new(world.clone())?;
    for s in &cfg.services {
        sim.add_service(service_ref(s), &s.sim.clone().unwrap_or_default())?;
    }
    sim.set_fault_plan(faults.as_deref().cloned())?;
    let stop_at = duration.map(|d| sim.now() + d.as_secs());
    Ok(Some((
        sim.clone(),
        Pacer::Sim { sim, speed: *speed },
        stop_at,
    )))
}

/// A daemon over `provider` with the config's journal (see [`journal`]),
/// records and state files, unfinished drains resumed and saved state restored.
///
/// With `fresh`, the state directory's files are cleared first: a simulated
/// world is new on every run, so an earlier run's drains, cooldowns and
/// records would not describe it.
pub fn open<P: Provider>(
    cfg: &Config,
    provider: P,
    pacer: Pacer,
    engine: PolicyEngine,
    services: Vec<Service>,
    events: Events,
    fresh: bool,
) -> Result<Daemon<P>, SetupError> {
    let leases = leases(cfg);
    open_with_leases(
        cfg, provider, pacer, engine, services, events, fresh, leases,
    )
}

/// The leases of an `[ha]` config, as a new host holding none; none without `[ha]`.
pub fn leases(cfg: &Config) -> Option<Leases> {
    let ha = cfg.ha.as_ref()?;
    let services = cfg.services.iter().map(|s| service_ref(s).key()).collect();
    Some(Leases::new(ha.host_id(), ha, services))
}

/// [`open`] with `[ha]`'s `leases` (the same ones the provider checks and
/// the lease loop keeps): the journal is fenced by them and each service
/// runs only while its lease is held here.
#[allow(clippy::too_many_arguments)]
pub fn open_with_leases<P: Provider>(
    cfg: &Config,
    provider: P,
    pacer: Pacer,
    engine: PolicyEngine,
    services: Vec<Service>,
    events: Events,
    fresh: bool,
    leases: Option<Leases>,
) -> Result<Daemon<P>, SetupError> {
    let dir = &cfg.state_dir;
    std::fs::create_dir_all(dir).map_err(|source| SetupError::StateDir {
        path: dir.clone(),
        source,
    })?;
    if fresh {
        let mut files = vec![dir.join("drains.jsonl"), dir.join("state.json")];
        for records in ["decisions.jsonl", "reloads.jsonl"] {
            // The current file and every rotated one.
            let path = dir.join(records);
            files.extend(rotate::files(&path).map_err(|source| SetupError::StateDir {
                path: path.clone(),
                source,
            })?);
        }
        for file in files {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(SetupError::StateDir {
                        path: file,
                        source: e,
                    });
                }
                _ => {}
            }
        }
    }
    let journal = journal_with(cfg, leases.as_ref())?;
    let records = dir.join("decisions.jsonl");
    let sink =
        JsonlSink::open(&records, cfg.records.clone()).map_err(|source| SetupError::StateDir {
            path: records.clone(),
            source,
        })?;
    let max = cfg
        .services
        .iter()
        .map(|s| (service_ref(s).key(), s.guard.max))
        .collect();
    let sink: Box<dyn RecordSink> = Box::new(warnings::GuardMaxWarning::new(Box::new(sink), max));
    for warning in [warnings::http_missing(cfg), warnings::ingest_missing(cfg)]
        .into_iter()
        .flatten()
    {
        tracing::warn!("{warning}");
    }
    let reloads = dir.join("reloads.jsonl");
    let reload_log = RotatingFile::open(&reloads, cfg.records.clone()).map_err(|source| {
        SetupError::StateDir {
            path: reloads,
            source,
        }
    })?;
    let state_file = dir.join("state.json");
    let mut daemon = Daemon::new(provider, pacer, engine, services, journal, sink, events);
    daemon.state_file = Some(state_file.clone());
    daemon.reload_log = Some(Mutex::new(reload_log));
    daemon.ha = leases.map(super::ha::DaemonHa::new);
    daemon.restore_state(&state_file);
    daemon.resume()?;
    Ok(daemon)
}
