//! The restart guarantee, end to end with the real binary: `autoscaler run`
//! against moto starts draining an idle task, is killed with SIGKILL
//! mid-drain (after the target's deregistration), and a second process with
//! the same config resumes that very workflow from the journal and finishes
//! it exactly once.
//!
//! What stands in for the parts of AWS moto lacks (and so which layer this
//! proves): the [`Proxy`] answers task scale-in protection calls from its own
//! state, in ECS's wire format; the test loop plays the ECS scheduler, which
//! moto does not run: when the desired count falls below the running tasks it
//! stops an unprotected task, as ECS does, and asserts that the only
//! unprotected task is the victim. Everything else (DescribeServices,
//! ListTasks, DescribeTasks, UpdateService, target deregistration,
//! CloudWatch, the sessions Query, the DynamoDB journal) is moto's.
//!
//! Two runs of the scenario: killed in the wait step, with the local file
//! journal (`STATE_DIR/drains.jsonl`); and killed while its UpdateService
//! call has reached ECS but its answer has not come back, with the DynamoDB
//! journal.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autoscaler::providers::ServiceRef;
use autoscaler::providers::aws::journal::attr;
use autoscaler::workflow::{DrainWorkflow, Outcome, Step};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::process::Host;
use super::proxy::Proxy;
use super::scheduler::Scheduler;
use super::seed::{World, now};

const SESSIONS: &str = "sessions";
const DRAINS: &str = "autoscaler-drains";
/// How long each phase may take before the test fails.
const PHASE: Duration = Duration::from_secs(120);
/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(100);

/// Where the scenario's journal lives, and how the test reads it.
enum JournalKind {
    File,
    Dynamodb,
}

/// When the first host is killed.
#[derive(PartialEq)]
enum KillAt {
    /// Once the target is deregistered and the workflow waits for it to drain.
    Wait,
    /// While its UpdateService call has reached ECS but its answer has not
    /// come back (the proxy withholds it): the desired count is already lowered.
    ScaleInInFlight,
}

/// What the test reads of the journal: every state in order (file), or the
/// latest state with its version (table).
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    wf: DrainWorkflow,
    version: Option<u64>,
}

fn read_file_journal(path: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        // A line torn by SIGKILL is not a state; the journal skips it too.
        .filter_map(|l| serde_json::from_str::<DrainWorkflow>(l).ok())
        .map(|wf| Entry { wf, version: None })
        .collect()
}

async fn read_table_journal(world: &World) -> Vec<Entry> {
    world
        .items(DRAINS)
        .await
        .iter()
        .map(|item| Entry {
            wf: serde_json::from_str(item[attr::STATE].as_s().unwrap()).unwrap(),
            version: item[attr::VERSION].as_n().ok().and_then(|n| n.parse().ok()),
        })
        .collect()
}

/// Every decision record (torn lines skipped).
fn records(state: &Path) -> Vec<Value> {
    std::fs::read_to_string(state.join("decisions.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The outcomes of every record with `what` equal to `what`.
fn outcomes(records: &[Value], what: &str) -> Vec<Value> {
    records
        .iter()
        .flat_map(|r| r["outcomes"].as_array().cloned().unwrap_or_default())
        .filter(|o| o["what"] == what)
        .collect()
}

fn past_deregistration(step: &Step) -> bool {
    !matches!(step, Step::Protect | Step::Deregister { .. })
}

fn config(dir: &Path, proxy: &Proxy, svc: &ServiceRef, kind: &JournalKind) -> PathBuf {
    let journal = match kind {
        JournalKind::File => "journal = { kind = \"file\" }".to_string(),
        JournalKind::Dynamodb => {
            format!("journal = {{ kind = \"dynamodb\", table = \"{DRAINS}\" }}")
        }
    };
    let text = format!(
        r#"{journal}
state_dir = {state:?}
cache_dir = {cache:?}

[provider]
kind = "aws"
region = "us-east-1"
endpoint_url = "{endpoint}"
sessions_table = "{SESSIONS}"

[[service]]
name = "{name}"
cluster = "{cluster}"
target_group = "{tg}"
interval = "1s"
policy = {policy:?}

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
"#,
        state = dir.join("state"),
        cache = dir.join("cache"),
        endpoint = proxy.endpoint(),
        name = svc.service,
        cluster = svc.cluster,
        tg = svc.target_group,
        policy = autoscaler::artifacts::SESSION_AWARE,
    );
    let path = dir.join("autoscaler.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn journal_entries(kind: &JournalKind, world: &World, state: &Path) -> Vec<Entry> {
    match kind {
        JournalKind::File => read_file_journal(&state.join("drains.jsonl")),
        JournalKind::Dynamodb => read_table_journal(world).await,
    }
}

async fn restart_scenario(kind: JournalKind, kill_at: KillAt) {
    let world = World::start().await;
    let proxy = Proxy::start(world.moto.addr()).await;
    world.sessions_table(SESSIONS).await;
    if let JournalKind::Dynamodb = kind {
        world.drains_table(DRAINS).await;
    }
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
    // Two tasks carry a session each; the third is idle, the only drain candidate.
    world
        .session(SESSIONS, &svc, &tasks[0].0, "s0", start, None)
        .await;
    world
        .session(SESSIONS, &svc, &tasks[1].0, "s1", start, None)
        .await;
    let victim = tasks[2].0.clone();
    let victim_ip = tasks[2].1.clone();

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = config(dir.path(), &proxy, &svc, &kind);
    let mut scheduler = Scheduler {
        world: &world,
        proxy: &proxy,
        svc: svc.clone(),
        victim: victim.clone(),
        stopped: Vec::new(),
    };

    // Phase 1: the first host starts the drain; kill it past the deregistration.
    proxy.hold_update_service_answers(kill_at == KillAt::ScaleInInFlight);
    let mut first = Host::start(&config, dir.path(), dir.path().join("first.log"));
    let deadline = Instant::now() + PHASE;
    loop {
        first.assert_running();
        scheduler.step().await;
        let entries = journal_entries(&kind, &world, &state).await;
        let started = outcomes(&records(&state), "drain-start").len();
        let due = match kill_at {
            KillAt::Wait => entries
                .last()
                .is_some_and(|e| past_deregistration(&e.wf.step)),
            KillAt::ScaleInInFlight => proxy.held_update_services() > 0,
        };
        if due && started == 1 {
            first.kill();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first host did not get a drain past deregistration within {PHASE:?}; journal {entries:?}; calls {:?}; its log:\n{}",
            proxy.all_calls(),
            first.log_text()
        );
        tokio::time::sleep(POLL).await;
    }
    // The last durable state: what the killed host left for the next one.
    let before_restart = journal_entries(&kind, &world, &state).await;
    let at_kill = before_restart
        .last()
        .cloned()
        .expect("a journaled workflow");
    let wf_id = at_kill.wf.id.clone();
    proxy.hold_update_service_answers(false);
    if kill_at == KillAt::ScaleInInFlight {
        assert_eq!(
            at_kill.wf.step,
            Step::ScaleIn { to: Some(2) },
            "killed with the journaled scale-in to 2 in flight"
        );
        assert_eq!(proxy.desired_counts(), vec![2], "UpdateService reached ECS");
    }
    assert!(
        !at_kill.wf.is_done(),
        "the drain finished before the kill, so a restart would prove nothing: {:?}",
        at_kill.wf.step
    );
    assert_eq!(
        at_kill.wf.task_id, victim,
        "the idle task is the one drained"
    );
    assert!(
        before_restart.iter().all(|e| e.wf.id == wf_id),
        "one workflow: {before_restart:?}"
    );
    assert_eq!(proxy.calls("DeregisterTargets"), 1);
    assert!(
        !world
            .registered(&svc.target_group)
            .await
            .iter()
            .any(|t| t.ip.to_string() == victim_ip),
        "the victim's target is deregistered"
    );

    // Phase 2: a new host with the same config resumes the workflow and finishes it.
    let mut second = Host::start(&config, dir.path(), dir.path().join("second.log"));
    let deadline = Instant::now() + PHASE;
    let finished = loop {
        second.assert_running();
        scheduler.step().await;
        let entries = journal_entries(&kind, &world, &state).await;
        if let Some(e) = entries
            .iter()
            .rev()
            .find(|e| e.wf.id == wf_id && e.wf.is_done())
        {
            break e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the restarted host did not finish the drain within {PHASE:?}; journal {entries:?}; \
             scheduler stopped {:?}; calls {:?}; desired counts {:?}; its log:\n{}",
            scheduler.stopped,
            proxy.all_calls(),
            proxy.desired_counts(),
            second.log_text()
        );
        tokio::time::sleep(POLL).await;
    };
    // A few more ticks, to see that nothing more happens after the drain.
    let ticks = records(&state).len();
    let deadline = Instant::now() + PHASE;
    while records(&state).len() < ticks + 3 {
        second.assert_running();
        scheduler.step().await;
        assert!(
            Instant::now() < deadline,
            "the restarted host stopped ticking"
        );
        tokio::time::sleep(POLL).await;
    }
    second.kill();

    // The same workflow, resumed where it was and finished once, stopped.
    assert_eq!(
        finished.wf.step,
        Step::Done {
            outcome: Outcome::Stopped
        },
        "the drain ends with the victim stopped"
    );
    let after = journal_entries(&kind, &world, &state).await;
    assert!(
        after.iter().all(|e| e.wf.id == wf_id),
        "no other workflow was started: {after:?}"
    );
    match kind {
        JournalKind::File => {
            // Reopening compacted the file to the state at the kill; the new lines continue it.
            assert_eq!(
                after.first().map(|e| &e.wf),
                Some(&at_kill.wf),
                "the restarted host's journal starts from the state at the kill"
            );
            let resumed: Vec<&str> = after.iter().skip(1).map(|e| e.wf.step.name()).collect();
            assert!(
                !resumed.contains(&"protect") && !resumed.contains(&"deregister"),
                "resumed, not restarted: {resumed:?}"
            );
            assert_eq!(resumed.last(), Some(&"done"), "{resumed:?}");
            assert_eq!(
                resumed.iter().filter(|s| **s == "done").count(),
                1,
                "finished once: {resumed:?}"
            );
        }
        JournalKind::Dynamodb => {
            assert_eq!(after.len(), 1, "one item: {after:?}");
            assert!(
                finished.version > at_kill.version,
                "the restarted host wrote newer versions of the same item: {:?} after {:?}",
                finished.version,
                at_kill.version
            );
            let item = &world.items(DRAINS).await[0];
            assert_eq!(item[attr::FINISHED], AttributeValue::Bool(true));
            assert!(
                !state.join("drains.jsonl").exists(),
                "no file journal with the DynamoDB one"
            );
        }
    }

    // Exactly one decrement of the desired count, and only the victim stopped.
    // A host killed right after UpdateService sets the same absolute count
    // again on resume; that is still one decrement.
    let counts = proxy.desired_counts();
    let decrements = std::iter::once(3)
        .chain(counts.iter().copied())
        .collect::<Vec<i64>>()
        .windows(2)
        .filter(|w| w[1] < w[0])
        .count();
    assert!(
        decrements == 1 && counts.iter().all(|&c| c == 2),
        "exactly one decrement of the desired count, 3 -> 2: UpdateService sent {counts:?}"
    );
    if kill_at == KillAt::ScaleInInFlight {
        assert_eq!(counts.len(), 2, "the resumed step set the same count again");
    }
    assert_eq!(scheduler.desired().await, 2);
    assert_eq!(
        scheduler.stopped,
        vec![victim.clone()],
        "the victim stopped once"
    );
    let mut running = scheduler.running().await;
    running.sort();
    let mut keepers = vec![tasks[0].0.clone(), tasks[1].0.clone()];
    keepers.sort();
    assert_eq!(running, keepers, "the tasks with sessions still run");
    for k in &keepers {
        assert!(proxy.is_protected(k, now()), "keeper {k} stays protected");
    }
    assert_eq!(proxy.calls("DeregisterTargets"), 1, "deregistered once");
    assert_eq!(proxy.calls("RegisterTargets"), 0, "never rolled back");
    assert_eq!(
        proxy.calls("StopTask"),
        0,
        "the host never stops a task itself"
    );
    assert!(
        proxy.errors().is_empty(),
        "proxy errors: {:?}",
        proxy.errors()
    );

    let records = records(&state);
    assert_eq!(
        outcomes(&records, "drain-start").len(),
        1,
        "one drain started across both hosts"
    );
    let finished: Vec<Value> = outcomes(&records, "drain-finished");
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0]["detail"], "stopped");
    assert_eq!(finished[0]["task"], Value::String(victim));
    assert!(
        second
            .log_text()
            .contains("Resuming a drain from the journal"),
        "the restarted host says it resumed; its log:\n{}",
        second.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_restart_after_sigkill_in_the_wait_step_resumes_from_the_file_journal_and_finishes_once()
 {
    restart_scenario(JournalKind::File, KillAt::Wait).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_restart_after_sigkill_with_the_scale_in_in_flight_resumes_from_the_dynamodb_journal_and_decrements_once()
 {
    restart_scenario(JournalKind::Dynamodb, KillAt::ScaleInInFlight).await;
}
