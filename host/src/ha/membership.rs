//! The lease loop: every `renew_every`, heartbeat, read the table once,
//! renew what this host holds, give up what is over its fair share, and take
//! free or expired leases up to it. The fair share is
//! `ceil(services / live hosts)`, the hosts counted from their heartbeats.
//! Which services a host prefers is a rendezvous hash of host and service,
//! so the hosts spread over the services instead of racing for the same ones.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::table::{LeaseTable, TableError, View, wall_ms};
use super::{HaConfig, Leases};

/// What one round did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Live hosts counted.
    pub live_hosts: usize,
    /// The fair share.
    pub share: usize,
    /// Leases taken (service, token).
    pub taken: Vec<(String, u64)>,
    /// Leases lost to another host.
    pub lost: Vec<String>,
    /// Leases given up over the fair share.
    pub released: Vec<String>,
}

/// A host's preference for a service (rendezvous hashing: FNV-1a of both).
fn score(host: &str, service: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes().chain([0]).chain(service.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `ceil(services / hosts)`, with at least one host (this one).
pub fn fair_share(services: usize, hosts: usize) -> usize {
    services.div_ceil(hosts.max(1))
}

/// One round of the loop (see the module doc).
pub async fn round(
    leases: &Leases,
    table: &LeaseTable,
    cfg: &HaConfig,
) -> Result<Round, TableError> {
    let me = leases.me();
    let lease_ms = cfg.lease.as_millis() as u64;
    table.heartbeat(&me, wall_ms() + lease_ms).await?;
    let view: View = table.read().await?;
    let now_ms = wall_ms();
    let services = leases.services();
    let mut round = Round {
        live_hosts: view.live_hosts(now_ms).max(1),
        ..Round::default()
    };
    round.share = fair_share(services.len(), round.live_hosts);

    // Renew what is held; what the table shows held by another is lost.
    for (service, held) in leases.all_held() {
        let mine = view
            .leases
            .get(&service)
            .is_some_and(|i| i.holder == me && i.token == held.token);
        let sent = Instant::now();
        let renewed = mine
            && match table
                .extend(&service, &me, held.token, wall_ms() + lease_ms)
                .await
            {
                Ok(ok) => ok,
                Err(e) => {
                    // Not lost yet: the lease runs down by its own clock, and
                    // the writes stop at the safety margin.
                    tracing::warn!(service = %service, "Could not renew the lease; retrying at the next round: {e}");
                    continue;
                }
            };
        if renewed {
            leases.renewed(&service, held.token, sent + cfg.lease);
        } else {
            leases.stand_down(&service);
            tracing::warn!(service = %service, token = held.token, "Lost the lease to another host; standing down from the service.");
            round.lost.push(service);
        }
    }

    // Over the fair share: give up the least preferred, at once.
    let mut held: Vec<String> = leases.all_held().into_keys().collect();
    if held.len() > round.share {
        held.sort_by_key(|s| score(&me, s));
        for service in held.drain(..held.len() - round.share) {
            if let Some(h) = leases.stand_down(&service) {
                match table.extend(&service, &me, h.token, 0).await {
                    Ok(_) => {
                        tracing::info!(service = %service, share = round.share, hosts = round.live_hosts, "Released the lease over this host's fair share.")
                    }
                    Err(e) => {
                        tracing::warn!(service = %service, "Could not release the lease; it expires by itself: {e}")
                    }
                }
                round.released.push(service);
            }
        }
    }

    // Under it: take free or expired leases, the most preferred first.
    if held.len() < round.share {
        let mut free: Vec<&String> = services
            .iter()
            .filter(|s| !held.contains(s))
            .filter(|s| view.leases.get(*s).is_none_or(|i| i.expires_ms <= now_ms))
            .collect();
        free.sort_by_key(|s| std::cmp::Reverse(score(&me, s)));
        for service in free.into_iter().take(round.share - held.len()) {
            let sent = Instant::now();
            let seen = view.leases.get(service);
            match table
                .acquire(service, &me, seen, wall_ms() + lease_ms)
                .await
            {
                Ok(Some(token)) => {
                    leases.took(service, token, sent + cfg.lease);
                    tracing::info!(service = %service, token, previous = ?seen.map(|s| &s.holder), "Took the lease on the service.");
                    round.taken.push((service.clone(), token));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(service = %service, "Could not take the lease: {e}"),
            }
        }
    }

    let mut holders = std::collections::BTreeMap::new();
    for (service, item) in &view.leases {
        if item.expires_ms > now_ms {
            holders.insert(service.clone(), item.holder.clone());
        }
    }
    for s in &round.lost {
        holders.remove(s);
    }
    leases.set_holders(holders);
    Ok(round)
}

/// Runs rounds every `renew_every` until `stop` turns true. The leases are
/// not released here: the caller releases them ([`release_all`]) once the
/// daemon has finished its last step.
pub async fn run(
    leases: Leases,
    table: LeaseTable,
    cfg: HaConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut last = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let started = tokio::time::Instant::now();
        match round(&leases, &table, &cfg).await {
            Ok(r) => {
                let counts = (r.live_hosts, r.share, leases.all_held().len());
                if last != Some(counts) {
                    tracing::info!(
                        hosts = counts.0,
                        share = counts.1,
                        held = counts.2,
                        "Leases: {} live hosts, a fair share of {}, {} held here.",
                        counts.0,
                        counts.1,
                        counts.2
                    );
                    last = Some(counts);
                }
            }
            Err(e) => tracing::warn!(
                "A lease round failed; the held leases run down by their own clock: {e}"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + cfg.renew_every) => {}
            r = stop.changed() => if r.is_err() { return },
        }
    }
}

/// Gives up every held lease at once (expiry 0) and deletes the heartbeat,
/// so the other hosts take the services at their next round.
pub async fn release_all(leases: &Leases, table: &LeaseTable) {
    let me = leases.me();
    for (service, held) in leases.drop_all() {
        match table.extend(&service, &me, held.token, 0).await {
            Ok(true) => tracing::info!(service = %service, "Released the lease on shutdown."),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(service = %service, "Could not release the lease on shutdown; it expires by itself: {e}")
            }
        }
    }
    if let Err(e) = table.leave(&me).await {
        tracing::warn!("Could not delete this host's heartbeat: {e}");
    }
}

/// How long a service can go without a holder when its holder dies: the
/// lease, plus up to one round before another host looks.
pub fn takeover_bound(cfg: &HaConfig) -> Duration {
    cfg.lease + cfg.renew_every
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fair_share_rounds_up_and_preferences_spread() {
        assert_eq!(fair_share(6, 3), 2);
        assert_eq!(fair_share(6, 4), 2);
        assert_eq!(fair_share(7, 3), 3);
        assert_eq!(fair_share(6, 0), 6);
        let services: Vec<String> = (0..6).map(|i| format!("c/s{i}")).collect();
        let first = |host: &str| {
            services
                .iter()
                .max_by_key(|s| score(host, s))
                .unwrap()
                .clone()
        };
        let firsts: std::collections::BTreeSet<String> =
            ["a", "b", "c", "d"].iter().map(|h| first(h)).collect();
        assert!(
            firsts.len() > 1,
            "hosts prefer different services: {firsts:?}"
        );
    }
}
