//! High availability: several hosts share the configured services through
//! one lease per service in a DynamoDB table (`[ha]`, design in docs/ha.md).
//!
//! - [`table`]: the lease table's items and its conditional writes (acquire,
//!   renew, release, heartbeat);
//! - [`membership`]: the loop that heartbeats, counts the live hosts and
//!   takes, renews and gives up leases up to a fair share;
//! - [`guard`]: the provider wrapper that skips an AWS write when this host's
//!   lease has less than the safety margin left;
//! - [`Leases`] (here): what this host holds, shared by the loop, the daemon,
//!   the provider wrapper, the journal's fencing condition and `/metrics`.

pub mod guard;
pub mod membership;
pub mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;

use crate::providers::aws::journal::{Fence, LeaseCondition};

/// The default lease table name.
pub const DEFAULT_TABLE: &str = "autoscaler-leases";

/// The `[ha]` table of the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaConfig {
    /// The DynamoDB table of leases and host heartbeats.
    #[serde(default = "default_table")]
    pub table: String,
    /// How long a lease lasts after each renewal.
    #[serde(default = "default_lease", with = "humantime_serde")]
    pub lease: Duration,
    /// How often the leases are renewed (and the fair share recomputed).
    #[serde(default = "default_renew_every", with = "humantime_serde")]
    pub renew_every: Duration,
    /// An AWS write is skipped unless this host's lease has at least this much left.
    #[serde(default = "default_safety_margin", with = "humantime_serde")]
    pub safety_margin: Duration,
    /// This host's name in the table; default: hostname, process ID and a random suffix.
    #[serde(default)]
    pub host_id: Option<String>,
}

fn default_table() -> String {
    DEFAULT_TABLE.into()
}
fn default_lease() -> Duration {
    Duration::from_secs(15)
}
fn default_renew_every() -> Duration {
    Duration::from_secs(5)
}
fn default_safety_margin() -> Duration {
    Duration::from_secs(5)
}

impl HaConfig {
    /// Checks the timings and names: `(field, message)` on the first problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.table.trim().is_empty() {
            return Err((
                "table".into(),
                "expected the name of a DynamoDB table".into(),
            ));
        }
        if self.renew_every < Duration::from_millis(200) {
            return Err(("renew_every".into(), "expected at least \"200ms\"".into()));
        }
        if self.safety_margin.is_zero() {
            return Err(("safety_margin".into(), "expected more than 0s".into()));
        }
        if self.renew_every + self.safety_margin >= self.lease {
            return Err((
                "lease".into(),
                format!(
                    "expected longer than renew_every + safety_margin ({}), found {}: a renewed lease must keep the margin until the next renewal",
                    humantime::format_duration(self.renew_every + self.safety_margin),
                    humantime::format_duration(self.lease)
                ),
            ));
        }
        if let Some(id) = &self.host_id
            && (id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_control()))
        {
            return Err((
                "host_id".into(),
                "expected 1 to 128 printable characters".into(),
            ));
        }
        Ok(())
    }

    /// This host's ID: `host_id`, or hostname, process ID and a random suffix
    /// (a restarted process is a new host).
    pub fn host_id(&self) -> String {
        self.host_id.clone().unwrap_or_else(|| {
            let name = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "host".into());
            format!(
                "{name}-{}-{:04x}",
                std::process::id(),
                rand::random::<u16>()
            )
        })
    }
}

/// One lease this host holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The fencing token: raised on every takeover.
    pub token: u64,
    /// Until when this host may act, by its own monotonic clock: when the
    /// write that set the lease's expiry was sent, plus the lease.
    pub valid_until: Instant,
    /// Raised each time this host takes a lease, so the daemon sees a new
    /// holding (and reloads the service's drains) even for the same service.
    pub generation: u64,
}

#[derive(Debug)]
struct Inner {
    me: String,
    table: String,
    margin: Duration,
    services: Vec<String>,
    held: BTreeMap<String, Held>,
    /// Who holds each service, as last read from the table.
    holders: BTreeMap<String, String>,
    generations: u64,
}

/// What this host holds. Cheap to clone; every clone shares the state.
#[derive(Debug, Clone)]
pub struct Leases {
    inner: Arc<Mutex<Inner>>,
}

/// Why an AWS write was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotHeld {
    /// This host holds no lease on the service.
    #[error("this host ({host}) holds no lease on {service}, so it does not act on it")]
    None {
        /// This host.
        host: String,
        /// The service key.
        service: String,
    },
    /// The lease is held but runs out within the safety margin.
    #[error(
        "this host's ({host}) lease on {service} has {left_ms} ms left, under the safety margin of {margin_ms} ms; the write is skipped until it is renewed"
    )]
    Expiring {
        /// This host.
        host: String,
        /// The service key.
        service: String,
        /// What is left of the lease.
        left_ms: u128,
        /// The configured margin.
        margin_ms: u128,
    },
}

impl Leases {
    /// No leases yet, for `services` (keys `cluster/service`), as host `me`.
    pub fn new(me: String, cfg: &HaConfig, services: Vec<String>) -> Leases {
        Leases {
            inner: Arc::new(Mutex::new(Inner {
                me,
                table: cfg.table.clone(),
                margin: cfg.safety_margin,
                services,
                held: BTreeMap::new(),
                holders: BTreeMap::new(),
                generations: 0,
            })),
        }
    }

    /// This host's ID.
    pub fn me(&self) -> String {
        self.inner.lock().me.clone()
    }

    /// The configured services' keys.
    pub fn services(&self) -> Vec<String> {
        self.inner.lock().services.clone()
    }

    /// The lease on `service`, if this host holds it (whatever time is left).
    pub fn held(&self, service: &str) -> Option<Held> {
        self.inner.lock().held.get(service).copied()
    }

    /// Every lease this host holds.
    pub fn all_held(&self) -> BTreeMap<String, Held> {
        self.inner.lock().held.clone()
    }

    /// Who holds `service`: this host if it does, else the holder last read
    /// from the table (none when free or not read yet).
    pub fn holder(&self, service: &str) -> Option<String> {
        let i = self.inner.lock();
        if i.held.contains_key(service) {
            return Some(i.me.clone());
        }
        i.holders.get(service).cloned()
    }

    /// Whether this host may make an AWS write for `service` now: it holds
    /// the lease with at least the safety margin left. Returns how long the
    /// write may take: until half the margin is left, so its last attempt is
    /// sent well before the lease ends (see docs/ha.md).
    pub fn check(&self, service: &str) -> Result<Duration, NotHeld> {
        let i = self.inner.lock();
        let Some(h) = i.held.get(service) else {
            return Err(NotHeld::None {
                host: i.me.clone(),
                service: service.into(),
            });
        };
        let left = h.valid_until.saturating_duration_since(Instant::now());
        if left < i.margin {
            return Err(NotHeld::Expiring {
                host: i.me.clone(),
                service: service.into(),
                left_ms: left.as_millis(),
                margin_ms: i.margin.as_millis(),
            });
        }
        Ok(left - i.margin / 2)
    }

    /// Records a lease taken now with `token`, valid until `valid_until`.
    pub fn took(&self, service: &str, token: u64, valid_until: Instant) -> Held {
        let mut i = self.inner.lock();
        i.generations += 1;
        let held = Held {
            token,
            valid_until,
            generation: i.generations,
        };
        i.held.insert(service.to_string(), held);
        held
    }

    /// Extends a held lease after a renewal sent at `sent` (no-op if given up meanwhile).
    pub fn renewed(&self, service: &str, token: u64, valid_until: Instant) {
        if let Some(h) = self.inner.lock().held.get_mut(service)
            && h.token == token
        {
            h.valid_until = valid_until;
        }
    }

    /// Stops holding `service` (lost, released, or refused by the fence).
    /// Returns the lease it held, if any.
    pub fn stand_down(&self, service: &str) -> Option<Held> {
        self.inner.lock().held.remove(service)
    }

    /// Stops holding everything; returns what was held.
    pub(crate) fn drop_all(&self) -> BTreeMap<String, Held> {
        std::mem::take(&mut self.inner.lock().held)
    }

    /// Records who holds each service, as read from the table.
    pub(crate) fn set_holders(&self, holders: BTreeMap<String, String>) {
        self.inner.lock().holders = holders;
    }
}

impl Fence for Leases {
    fn condition(&self, service: &str) -> Option<LeaseCondition> {
        let i = self.inner.lock();
        let h = i.held.get(service)?;
        Some(LeaseCondition {
            table: i.table.clone(),
            key: table::key(service),
            holder: i.me.clone(),
            token: h.token,
        })
    }
}

impl crate::events::Collect for Leases {
    fn collect(&self, out: &mut String) {
        let i = self.inner.lock();
        let _ = writeln!(
            out,
            "# HELP autoscaler_lease_held Whether this host holds the service's lease (1) or not (0)."
        );
        let _ = writeln!(out, "# TYPE autoscaler_lease_held gauge");
        for s in &i.services {
            let _ = writeln!(
                out,
                "autoscaler_lease_held{{{}}} {}",
                crate::events::labels(&[("service", s)]),
                u8::from(i.held.contains_key(s))
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Collect;

    fn cfg() -> HaConfig {
        toml::from_str("").unwrap()
    }

    #[test]
    fn defaults_are_valid_and_a_lease_shorter_than_renew_plus_margin_is_refused() {
        let c = cfg();
        assert_eq!(c.lease, Duration::from_secs(15));
        assert_eq!(c.renew_every, Duration::from_secs(5));
        c.validate().unwrap();
        let bad: HaConfig = toml::from_str("lease = \"10s\"").unwrap();
        let (field, msg) = bad.validate().unwrap_err();
        assert_eq!(field, "lease");
        assert!(msg.contains("renew_every + safety_margin (10s)"), "{msg}");
        let bad: HaConfig = toml::from_str("host_id = \"\"").unwrap();
        assert_eq!(bad.validate().unwrap_err().0, "host_id");
    }

    #[test]
    fn writes_need_the_lease_with_the_margin_left_and_the_gauge_says_what_is_held() {
        let l = Leases::new("h1".into(), &cfg(), vec!["c/a".into(), "c/b".into()]);
        assert!(matches!(l.check("c/a"), Err(NotHeld::None { .. })));
        l.took("c/a", 3, Instant::now() + Duration::from_secs(15));
        l.check("c/a").unwrap();
        l.took("c/b", 1, Instant::now() + Duration::from_secs(2));
        let err = l.check("c/b").unwrap_err();
        assert!(err.to_string().contains("under the safety margin"), "{err}");
        let cond = l.condition("c/a").unwrap();
        assert_eq!((cond.holder.as_str(), cond.token), ("h1", 3));
        let mut out = String::new();
        l.collect(&mut out);
        assert!(
            out.contains("autoscaler_lease_held{service=\"c/a\"} 1"),
            "{out}"
        );
        l.stand_down("c/a");
        assert!(l.condition("c/a").is_none());
        let mut out = String::new();
        l.collect(&mut out);
        assert!(
            out.contains("autoscaler_lease_held{service=\"c/a\"} 0"),
            "{out}"
        );
    }
}
