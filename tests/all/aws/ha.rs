//! `[ha]` end to end against moto, with real `autoscaler run` processes
//! sharing one config (apart from each host's HTTP port and state folder):
//! the services spread over the hosts and rebalance, a SIGTERM hands the
//! leases over within one renewal, a SIGKILLed holder's drain is taken over
//! and finished exactly once, and a holder paused past its lease stands down
//! without acting. One test proves the journal's fencing condition directly.
//!
//! What stands in for AWS is as in `restart`: the [`Proxy`] answers task
//! protection and counts every call by operation, and the test plays the
//! ECS scheduler. The lease timings are shortened (lease 3 s, renewal 1 s,
//! margin 1 s) so the tests take seconds; the measured times are printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use autoscaler::ha::table::{LeaseItem, LeaseTable, attr as lease, wall_ms};
use autoscaler::ha::{HaConfig, Leases};
use autoscaler::providers::aws::journal::{DynamoJournal, attr};
use autoscaler::providers::{ServiceRef, Target};
use autoscaler::workflow::{DrainConfig, DrainWorkflow, Journal, JournalError, Step};
use serde_json::Value;

use super::process::{Host, command};
use super::proxy::Proxy;
use super::scheduler::Scheduler;
use super::seed::{World, now};

const SESSIONS: &str = "sessions";
const DRAINS: &str = "autoscaler-drains";
const LEASES: &str = "autoscaler-leases";
const LEASE: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);
const PHASE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(50);

/// One host's folder and config: the same text for every host but the HTTP port.
fn host_config(
    dir: &Path,
    endpoint: &str,
    services: &[ServiceRef],
    http: Option<u16>,
    ingest: Option<u16>,
    body: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut http = http.map_or(String::new(), |p| {
        format!("[http]\nlisten = \"127.0.0.1:{p}\"\n\n")
    });
    if let Some(p) = ingest {
        http.push_str(&format!("[ingest]\nlisten = \"127.0.0.1:{p}\"\n\n"));
    }
    let mut text = format!(
        r#"journal = {{ kind = "dynamodb", table = "{DRAINS}" }}
state_dir = "state"
cache_dir = "cache"

{http}[ha]
table = "{LEASES}"
lease = "3s"
renew_every = "1s"
safety_margin = "1s"

[provider]
kind = "aws"
region = "us-east-1"
endpoint_url = "{endpoint}"
sessions_table = "{SESSIONS}"
"#
    );
    for s in services {
        text.push_str(&format!(
            "\n[[service]]\nname = \"{}\"\ncluster = \"{}\"\ntarget_group = \"{}\"\npolicy = {:?}\n{body}",
            s.service,
            s.cluster,
            s.target_group,
            autoscaler::artifacts::SESSION_AWARE
        ));
    }
    let path = dir.join("autoscaler.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `autoscaler setup` on `config`: the sessions, journal and lease tables.
fn setup(config: &Path, dir: &Path) {
    let out = command(
        &[
            "setup".into(),
            "--config".into(),
            config.as_os_str().to_owned(),
        ],
        None,
        dir,
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "setup failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(LEASES),
        "setup created the lease table: {text}"
    );
}

/// The unexpired leases in the table: service → item.
async fn live_leases(world: &World) -> BTreeMap<String, LeaseItem> {
    let now = wall_ms();
    world
        .items(LEASES)
        .await
        .iter()
        .filter_map(|i| {
            let id = i[lease::ID]
                .as_s()
                .ok()?
                .strip_prefix("lease#")?
                .to_string();
            let num = |a: &str| i.get(a)?.as_n().ok()?.parse::<u64>().ok();
            let item = LeaseItem {
                holder: i.get(lease::HOLDER)?.as_s().ok()?.clone(),
                token: num(lease::TOKEN)?,
                expires_ms: num(lease::EXPIRES_MS)?,
            };
            (item.expires_ms > now).then_some((id, item))
        })
        .collect()
}

/// Whether `holder` (a host ID) is the process `host`: default IDs carry the PID.
fn is(holder: &str, host: &Host) -> bool {
    holder.contains(&format!("-{}-", host.pid()))
}

/// `autoscaler_lease_held` of one host: service → 0 or 1.
async fn gauges(port: u16) -> BTreeMap<String, u8> {
    // Not up yet (or gone): no gauges.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    if tokio::net::TcpStream::connect(addr).await.is_err() {
        return BTreeMap::new();
    }
    let Ok((200, body)) =
        tokio::time::timeout(Duration::from_secs(5), crate::http::get(addr, "/metrics")).await
    else {
        return BTreeMap::new();
    };
    body.lines()
        .filter_map(|l| l.strip_prefix("autoscaler_lease_held{service=\""))
        .filter_map(|l| {
            let (svc, rest) = l.split_once("\"}")?;
            Some((svc.to_string(), rest.trim().parse().ok()?))
        })
        .collect()
}

/// The AWS writes one host made, by its own `autoscaler_aws_calls_total`: operation → calls.
async fn aws_writes(port: u16) -> BTreeMap<String, u64> {
    let (status, body) = crate::http::get(([127, 0, 0, 1], port).into(), "/metrics").await;
    assert_eq!(status, 200);
    let writes = [
        "UpdateService",
        "UpdateTaskProtection",
        "DeregisterTargets",
        "RegisterTargets",
    ];
    body.lines()
        .filter(|l| l.starts_with("autoscaler_aws_calls_total{"))
        .filter_map(|l| {
            let op = l.split("operation=\"").nth(1)?.split('"').next()?;
            let n = l.rsplit(' ').next()?.parse().ok()?;
            writes.contains(&op).then(|| (op.to_string(), n))
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn dynamodb_calls(proxy: &Proxy) -> usize {
    [
        "PutItem",
        "UpdateItem",
        "Query",
        "DeleteItem",
        "TransactWriteItems",
        "GetItem",
    ]
    .iter()
    .map(|op| proxy.calls(op))
    .sum()
}

/// Each service held by exactly one host by the gauges, that host the
/// table's holder, and each host holding `each`. Err says what is off.
async fn spread(
    world: &World,
    hosts: &[(&Host, u16)],
    services: &[ServiceRef],
    each: usize,
) -> Result<(), String> {
    let table = live_leases(world).await;
    let mut per_host = Vec::new();
    for (host, port) in hosts {
        per_host.push(gauges(*port).await);
        let held = per_host
            .last()
            .unwrap()
            .values()
            .filter(|v| **v == 1)
            .count();
        if held != each {
            return Err(format!("host {} holds {held}, not {each}", host.pid()));
        }
    }
    for s in services {
        let key = s.key();
        let holders: Vec<usize> = (0..hosts.len())
            .filter(|i| per_host[*i].get(&key) == Some(&1))
            .collect();
        if holders.len() != 1 {
            return Err(format!(
                "{key} is held by {} hosts by their gauges",
                holders.len()
            ));
        }
        match table.get(&key) {
            Some(item) if is(&item.holder, hosts[holders[0]].0) => {}
            other => {
                return Err(format!(
                    "{key}: the table says {other:?}, the gauge host {}",
                    hosts[holders[0]].0.pid()
                ));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_ha_three_hosts_share_six_services_two_each_and_sigterm_hands_over_within_a_renewal() {
    let world = World::start().await;
    let proxy = Proxy::start(world.moto.addr()).await;
    let mut services = Vec::new();
    for i in 0..6 {
        services.push(world.service("prod", &format!("s{i}"), 0).await);
    }
    // Nothing to scale: no tasks, min = max = 0, one tick an hour.
    let body = "interval = \"1h\"\n[service.guard]\nmin = 0\nmax = 0\n";
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let configs: Vec<PathBuf> = (0..4)
        .map(|i| {
            host_config(
                &dir.path().join(format!("h{i}")),
                &proxy.endpoint(),
                &services,
                Some(ports[i]),
                None,
                body,
            )
        })
        .collect();
    setup(&configs[0], dir.path());
    let mut hosts: Vec<Host> = (0..3)
        .map(|i| {
            Host::start(
                &configs[i],
                dir.path(),
                dir.path().join(format!("h{i}.log")),
            )
        })
        .collect();

    // They settle at two each.
    let deadline = Instant::now() + PHASE;
    loop {
        for h in &mut hosts {
            h.assert_running();
        }
        let view: Vec<(&Host, u16)> = hosts.iter().zip(ports.iter().copied()).collect();
        match spread(&world, &view, &services, 2).await {
            Ok(()) => break,
            Err(why) => assert!(
                Instant::now() < deadline,
                "the hosts did not settle at two services each within {PHASE:?}: {why}; table {:?}; log of h0:\n{}",
                live_leases(&world).await,
                hosts[0].log_text()
            ),
        }
        tokio::time::sleep(POLL * 4).await;
    }

    // Every sample over five renewals: one holder per service, two each.
    let (calls_before, started) = (dynamodb_calls(&proxy), Instant::now());
    let tokens: BTreeMap<String, u64> = live_leases(&world)
        .await
        .into_iter()
        .map(|(k, v)| (k, v.token))
        .collect();
    let mut samples = 0;
    while started.elapsed() < RENEW * 5 {
        let view: Vec<(&Host, u16)> = hosts.iter().zip(ports.iter().copied()).collect();
        if let Err(why) = spread(&world, &view, &services, 2).await {
            panic!("sample {samples}: {why}");
        }
        samples += 1;
        tokio::time::sleep(POLL * 4).await;
    }
    let window = started.elapsed();
    let calls = dynamodb_calls(&proxy) - calls_before;
    let after: BTreeMap<String, u64> = live_leases(&world)
        .await
        .into_iter()
        .map(|(k, v)| (k, v.token))
        .collect();
    assert_eq!(tokens, after, "no lease changed hands in a steady state");
    let per_service_hour = calls as f64 / services.len() as f64 * 3600.0 / window.as_secs_f64();
    println!(
        "steady state: {samples} samples, {calls} DynamoDB calls in {window:?} for 6 services on 3 hosts \
         = {per_service_hour:.0} per service per hour at renew_every 1s (x 1/5 at the default 5s: {:.0})",
        per_service_hour / 5.0
    );
    assert!(samples >= 5, "{samples} samples");

    // /v1/services says who holds each service, and `leases list` agrees.
    let table = live_leases(&world).await;
    let (status, body) = crate::http::get(([127, 0, 0, 1], ports[0]).into(), "/v1/services").await;
    assert_eq!(status, 200);
    let board: Value = serde_json::from_str(&body).unwrap();
    let text = board.to_string();
    for (key, item) in &table {
        assert!(
            text.contains(&item.holder),
            "/v1/services names {}'s holder {}: {text}",
            key,
            item.holder
        );
    }
    let out = command(
        &[
            "leases".into(),
            "list".into(),
            "--config".into(),
            configs[0].as_os_str().to_owned(),
        ],
        None,
        dir.path(),
    )
    .output()
    .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (key, item) in &table {
        let line = listed
            .lines()
            .find(|l| l.starts_with(key.as_str()))
            .unwrap_or_else(|| panic!("{key} listed: {listed}"));
        assert!(line.contains(&item.holder), "{line}");
    }
    assert!(listed.contains("3 live host(s)"), "{listed}");

    // SIGTERM: the other two take its services within one renewal.
    let theirs: Vec<String> = table
        .iter()
        .filter(|(_, i)| is(&i.holder, &hosts[0]))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(theirs.len(), 2);
    let sent = Instant::now();
    hosts[0].signal("TERM");
    let handover = loop {
        let t = live_leases(&world).await;
        if theirs
            .iter()
            .all(|s| t.get(s).is_some_and(|i| !is(&i.holder, &hosts[0])))
        {
            break sent.elapsed();
        }
        assert!(
            sent.elapsed() < PHASE,
            "not handed over: {t:?}; log:\n{}",
            hosts[0].log_text()
        );
        tokio::time::sleep(POLL).await;
    };
    let status = hosts[0].wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit {status}; log:\n{}",
        hosts[0].log_text()
    );
    assert!(
        hosts[0]
            .log_text()
            .contains("Released the lease on shutdown"),
        "{}",
        hosts[0].log_text()
    );
    println!("SIGTERM handover of 2 services: {handover:?} (renew_every {RENEW:?})");
    assert!(
        handover <= RENEW + Duration::from_millis(1500),
        "handed over in {handover:?}, more than one renewal ({RENEW:?}) plus slack for the exit and the polling"
    );

    // Two hosts: three each. A fourth host joins: two each again.
    let survivors = || {
        hosts[1..3]
            .iter()
            .zip(ports[1..3].iter().copied())
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + PHASE;
    while let Err(why) = spread(&world, &survivors(), &services, 3).await {
        assert!(
            Instant::now() < deadline,
            "two hosts did not settle at three each: {why}"
        );
        tokio::time::sleep(POLL * 4).await;
    }
    hosts.push(Host::start(
        &configs[3],
        dir.path(),
        dir.path().join("h3.log"),
    ));
    let deadline = Instant::now() + PHASE;
    loop {
        let view: Vec<(&Host, u16)> = hosts[1..4]
            .iter()
            .zip([ports[1], ports[2], ports[3]])
            .collect();
        match spread(&world, &view, &services, 2).await {
            Ok(()) => break,
            Err(why) => assert!(
                Instant::now() < deadline,
                "no rebalance after a join: {why}"
            ),
        }
        tokio::time::sleep(POLL * 4).await;
    }
    assert!(proxy.errors().is_empty(), "{:?}", proxy.errors());
}

/// The drain scenario of `restart`: three tasks, two with a session, the
/// idle third drained. Returns the service and the tasks (ID, IP).
async fn drain_world(world: &World) -> (ServiceRef, Vec<(String, String)>) {
    let svc = world.service("prod", "web", 3).await;
    let tasks = world.run_tasks(&svc, 3).await;
    world.register(&svc, &tasks).await;
    let start = now();
    for minutes in 1..=5 {
        world
            .metric(
                &svc,
                "CPUUtilization",
                5.0,
                start - start % 60 - 60 * minutes,
            )
            .await;
    }
    world
        .session(SESSIONS, &svc, &tasks[0].0, "s0", start, None)
        .await;
    world
        .session(SESSIONS, &svc, &tasks[1].0, "s1", start, None)
        .await;
    (svc, tasks)
}

const DRAIN_BODY: &str = r#"interval = "1s"
[service.params]
scale-in-window = 0
[service.guard]
min = 2
max = 6
max_step_down = 1
scale_in_cooldown = "0s"
scale_in_stabilization = "0s"
[service.drain]
deregistration_delay = "8s"
first_check_fraction = 0.5
check_interval = "1s"
deadline = "5m"
"#;

async fn journal(world: &World) -> Vec<(DrainWorkflow, u64)> {
    world
        .items(DRAINS)
        .await
        .iter()
        .map(|i| {
            (
                serde_json::from_str(i[attr::STATE].as_s().unwrap()).unwrap(),
                i[attr::VERSION].as_n().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn outcomes(state: &Path, what: &str) -> Vec<Value> {
    std::fs::read_to_string(state.join("decisions.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|r| r["outcomes"].as_array().cloned().unwrap_or_default())
        .filter(|o| o["what"] == what)
        .collect()
}

/// Two hosts on one service: the first takes the lease, the second stands
/// by; the first drains until its workflow waits for deregistration.
struct Pair<'a> {
    dir: tempfile::TempDir,
    holder: Host,
    standby: Host,
    scheduler: Scheduler<'a>,
    svc: ServiceRef,
    /// The ingest ports of the holder and the standby.
    ingest: [u16; 2],
    /// Their HTTP ports.
    http: [u16; 2],
    /// A task that carries sessions and stays.
    keeper: String,
}

async fn pair<'a>(world: &'a World, proxy: &'a Proxy) -> Pair<'a> {
    let (svc, tasks) = drain_world(world).await;
    let dir = tempfile::tempdir().unwrap();
    let ingest = [free_port(), free_port()];
    let http = [free_port(), free_port()];
    let configs: Vec<PathBuf> = (0..2)
        .map(|i| {
            let dir = dir.path().join(["a", "b"][i]);
            let svc = std::slice::from_ref(&svc);
            host_config(
                &dir,
                &proxy.endpoint(),
                svc,
                Some(http[i]),
                Some(ingest[i]),
                DRAIN_BODY,
            )
        })
        .collect();
    setup(&configs[0], dir.path());
    let mut holder = Host::start(&configs[0], dir.path(), dir.path().join("a.log"));
    let deadline = Instant::now() + PHASE;
    while !live_leases(world)
        .await
        .get(&svc.key())
        .is_some_and(|i| is(&i.holder, &holder))
    {
        holder.assert_running();
        assert!(
            Instant::now() < deadline,
            "the first host took no lease:\n{}",
            holder.log_text()
        );
        tokio::time::sleep(POLL).await;
    }
    let standby = Host::start(&configs[1], dir.path(), dir.path().join("b.log"));
    let mut scheduler = Scheduler {
        world,
        proxy,
        svc: svc.clone(),
        victim: tasks[2].0.clone(),
        stopped: Vec::new(),
    };
    let deadline = Instant::now() + PHASE;
    loop {
        holder.assert_running();
        scheduler.step().await;
        let j = journal(world).await;
        if j.len() == 1 && matches!(j[0].0.step, Step::Wait { .. }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no drain reached its wait: {j:?}\n{}",
            holder.log_text()
        );
        tokio::time::sleep(POLL).await;
    }
    // The drain's steps are journaled inside the tick that starts it, and the
    // tick's record is written after them: wait for the record too, so a
    // test that pauses the holder now never catches it in between.
    let records = dir.path().join("a").join("state");
    while outcomes(&records, "drain-start").is_empty() {
        holder.assert_running();
        assert!(
            Instant::now() < deadline,
            "the drain's start was never recorded:\n{}",
            holder.log_text()
        );
        tokio::time::sleep(POLL).await;
    }
    Pair {
        dir,
        holder,
        standby,
        scheduler,
        svc,
        ingest,
        http,
        keeper: tasks[0].0.clone(),
    }
}

/// Plays the scheduler until the one workflow is finished; returns its last state.
async fn finish(world: &World, p: &mut Pair<'_>) -> (DrainWorkflow, u64) {
    let deadline = Instant::now() + PHASE;
    loop {
        p.standby.assert_running();
        p.scheduler.step().await;
        let j = journal(world).await;
        assert_eq!(j.len(), 1, "one workflow: {j:?}");
        if j[0].0.is_done() {
            return j[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the drain did not finish: {j:?}\n{}",
            p.standby.log_text()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// One drain, finished once: one decrement, one deregistration, the victim stopped once.
fn assert_once(p: &Pair<'_>, proxy: &Proxy, done: &DrainWorkflow) {
    assert_eq!(done.step.name(), "done");
    assert!(
        matches!(
            done.step,
            Step::Done {
                outcome: autoscaler::workflow::Outcome::Stopped
            }
        ),
        "{:?}",
        done.step
    );
    let counts = proxy.desired_counts();
    assert!(
        !counts.is_empty() && counts.iter().all(|&c| c == 2),
        "one decrement 3 -> 2: {counts:?}"
    );
    assert_eq!(proxy.calls("DeregisterTargets"), 1, "deregistered once");
    assert_eq!(proxy.calls("RegisterTargets"), 0, "never rolled back");
    assert_eq!(
        p.scheduler.stopped,
        vec![p.scheduler.victim.clone()],
        "the victim stopped once"
    );
    let state = |h: &str| p.dir.path().join(h).join("state");
    let starts =
        outcomes(&state("a"), "drain-start").len() + outcomes(&state("b"), "drain-start").len();
    assert_eq!(starts, 1, "one drain started across both hosts");
    assert!(
        p.standby
            .log_text()
            .contains("Resuming a drain from the journal"),
        "{}",
        p.standby.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_ha_sigkill_of_the_holder_in_a_drain_wait_hands_the_drain_over_within_lease_plus_renewal_and_it_finishes_once()
 {
    let world = World::start().await;
    let proxy = Proxy::start(world.moto.addr()).await;
    world.sessions_table(SESSIONS).await;
    let mut p = pair(&world, &proxy).await;
    // The standby's ingest takes sessions for the service it does not run.
    let body = super::ingest::event_on(&p.keeper, "start", "via-standby", r#","ttl_seconds":600"#);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], p.ingest[1]));
    let deadline = Instant::now() + PHASE;
    let reply = loop {
        let r = super::ingest::post_as(addr, "", &body).await;
        if r.status != 503 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "the standby's ingest never knew the tasks: {}",
            r.body
        );
        tokio::time::sleep(POLL * 4).await;
    };
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("started"), "{}", reply.body);
    assert!(
        world
            .items(SESSIONS)
            .await
            .iter()
            .any(|i| format!("{i:?}").contains("via-standby")),
        "the session is in the shared table"
    );
    let before = live_leases(&world).await[&p.svc.key()].clone();
    let killed = Instant::now();
    p.holder.kill();
    let takeover = loop {
        p.standby.assert_running();
        if let Some(i) = live_leases(&world).await.get(&p.svc.key())
            && is(&i.holder, &p.standby)
        {
            assert_eq!(
                i.token,
                before.token + 1,
                "a takeover raises the fencing token"
            );
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < PHASE,
            "no takeover:\n{}",
            p.standby.log_text()
        );
        tokio::time::sleep(POLL).await;
    };
    println!("SIGKILL takeover: {takeover:?} (lease {LEASE:?} + renew_every {RENEW:?})");
    assert!(
        takeover <= LEASE + RENEW + Duration::from_millis(500),
        "took over in {takeover:?}"
    );
    let (done, _) = finish(&world, &mut p).await;
    assert_once(&p, &proxy, &done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_ha_a_holder_paused_past_its_lease_stands_down_without_acting_when_resumed() {
    let world = World::start().await;
    let proxy = Proxy::start(world.moto.addr()).await;
    world.sessions_table(SESSIONS).await;
    let mut p = pair(&world, &proxy).await;
    // What the holder has written to AWS so far, by its own call counter.
    let writes_at_pause = aws_writes(p.http[0]).await;
    assert!(
        writes_at_pause.values().sum::<u64>() > 0,
        "the holder started the drain: {writes_at_pause:?}"
    );
    p.holder.signal("STOP");
    let paused = Instant::now();
    let (done, version) = finish(&world, &mut p).await;
    assert!(paused.elapsed() > LEASE, "paused past its lease");
    assert_once(&p, &proxy, &done);
    let journal_before = journal(&world).await;
    p.holder.signal("CONT");
    let resumed = Instant::now();
    let how = loop {
        let log = p.holder.log_text();
        if log.contains("refused by the fencing token") {
            break "its journal write was refused by the fencing token";
        }
        if log.contains("Lost the lease to another host") {
            break "its renewal found the lease taken (before any journal write)";
        }
        assert!(
            resumed.elapsed() < PHASE,
            "the paused host did not stand down:\n{log}"
        );
        tokio::time::sleep(POLL).await;
    };
    // Watch it for two more renewals: it acts on nothing.
    let watch = Instant::now();
    while watch.elapsed() < RENEW * 2 {
        p.holder.assert_running();
        p.scheduler.step().await;
        tokio::time::sleep(POLL).await;
    }
    println!("SIGSTOP/SIGCONT: the resumed host stood down ({how})");
    assert_eq!(
        journal(&world).await,
        journal_before,
        "the journal is as the new holder left it (version {version})"
    );
    assert_eq!(
        aws_writes(p.http[0]).await,
        writes_at_pause,
        "the resumed host made no AWS write"
    );
    let (_, metrics) = crate::http::get(([127, 0, 0, 1], p.http[0]).into(), "/metrics").await;
    let gauge = format!("autoscaler_lease_held{{service=\"{}\"}} 0", p.svc.key());
    assert!(metrics.contains(&gauge), "{metrics}");
    assert!(
        p.holder.log_text().contains("standing down"),
        "{}",
        p.holder.log_text()
    );
    assert_once(&p, &proxy, &done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_ha_journal_writes_of_a_host_whose_lease_was_taken_over_are_refused_by_the_fencing_token()
 {
    let world = World::start().await;
    world.drains_table(DRAINS).await;
    let table_spec = autoscaler::providers::aws::tables::TableSpec::leases(LEASES);
    autoscaler::providers::aws::tables::ensure_table(&world.ddb, &table_spec)
        .await
        .unwrap();
    let table = LeaseTable::new(world.ddb.clone(), LEASES);
    let cfg: HaConfig = toml::from_str(&format!("table = \"{LEASES}\"")).unwrap();
    let service = "prod/web";
    let a = Leases::new("host-a".into(), &cfg, vec![service.into()]);
    let journal =
        DynamoJournal::new(world.ddb.clone(), DRAINS, vec![]).with_fence(Arc::new(a.clone()));
    let target = Target {
        ip: [10, 0, 0, 1].into(),
        port: 3389,
    };
    let mut wf = DrainWorkflow::new(
        service,
        "task-1",
        Some(target.clone()),
        100,
        &DrainConfig::default(),
    );

    // Without the lease, nothing is written.
    let err = journal.record(&wf).unwrap_err();
    assert!(matches!(err, JournalError::Fenced { .. }), "{err}");
    assert!(world.items(DRAINS).await.is_empty());

    // Holding it (token 1): writes land.
    let token = table
        .acquire(service, "host-a", None, wall_ms() + 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token, 1);
    a.took(service, token, Instant::now() + Duration::from_secs(60));
    journal.record(&wf).unwrap();
    wf.step = Step::Deregister {
        target: target.clone(),
    };
    journal.record(&wf).unwrap();

    // The lease expires and host b takes it over (token 2); a, unaware, writes again.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let view = table.read().await.unwrap();
    let seen = &view.leases[service];
    assert!(seen.expires_ms <= wall_ms());
    assert!(
        table
            .acquire(service, "host-a-stale-copy", None, wall_ms())
            .await
            .unwrap()
            .is_none(),
        "an existing item is never overwritten blindly"
    );
    assert_eq!(
        table
            .acquire(service, "host-b", Some(seen), wall_ms() + 60_000)
            .await
            .unwrap(),
        Some(2)
    );
    assert!(
        !table
            .extend(service, "host-a", 1, wall_ms() + 60_000)
            .await
            .unwrap(),
        "a's renewal is refused"
    );
    let before = world.items(DRAINS).await;
    wf.step = Step::Wait {
        next_check_at: 0,
        target,
    };
    let err = journal.record(&wf).unwrap_err();
    match &err {
        JournalError::Fenced { service: s, reason } => {
            assert_eq!(s, service);
            assert!(reason.contains("fencing token 1"), "{reason}");
        }
        other => panic!("expected Fenced, got {other}"),
    }
    assert_eq!(
        world.items(DRAINS).await,
        before,
        "the refused write changed nothing"
    );
}
