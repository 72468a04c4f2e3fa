//! Bad input: decisions a policy may return (checked against an independent
//! oracle), and snapshot JSON, arbitrary, mutated and valid.

use std::collections::BTreeMap;

use autoscaler::model::{
    DrainInfo, DrainStep, ParamValue, Snapshot, TargetHealth, TaskInfo, TaskStatus, TickSummary,
};
use autoscaler::runtime::{Limits, MAX_SANE_DESIRED, PolicyFault, RawDecision, validate_decision};
use proptest::prelude::*;

fn limits() -> Limits {
    Limits {
        max_reason_bytes: 40,
        max_drain: 5,
        ..Limits::default()
    }
}

/// A snapshot with `n` tasks of distinct IDs.
fn snapshot_with(n: usize) -> Snapshot {
    let mut s = Snapshot::example();
    let template = s.tasks[0].clone();
    s.tasks = (0..n)
        .map(|i| TaskInfo {
            id: format!("task-{i:02}"),
            ..template.clone()
        })
        .collect();
    s
}

/// The task IDs a decision's drain, cordon and uncordon lists name.
type Named = (Vec<String>, Vec<String>, Vec<String>);

/// What the checks must conclude, computed independently: the fault's kind,
/// or the IDs the drain, cordon and uncordon lists name.
fn oracle(d: &RawDecision, s: &Snapshot, l: &Limits) -> Result<Named, &'static str> {
    let lists = [&d.drain, &d.cordon, &d.uncordon];
    if d.reason.len() > l.max_reason_bytes || lists.iter().any(|h| h.len() > l.max_drain) {
        return Err("output-too-large");
    }
    if d.desired.is_some_and(|n| n > MAX_SANE_DESIRED) {
        return Err("invalid-decision");
    }
    let mut named = Vec::new();
    for list in lists {
        let mut ids: Vec<String> = Vec::new();
        for &h in list {
            let Some(t) = s.tasks.get(h as usize) else {
                return Err("invalid-decision");
            };
            if ids.contains(&t.id) {
                return Err("invalid-decision");
            }
            ids.push(t.id.clone());
        }
        named.push(ids);
    }
    let uncordon = named.pop().unwrap();
    let cordon = named.pop().unwrap();
    let drain = named.pop().unwrap();
    if uncordon.iter().any(|id| cordon.contains(id)) {
        return Err("invalid-decision");
    }
    Ok((drain, cordon, uncordon))
}

fn raw_decision() -> impl Strategy<Value = RawDecision> {
    (
        prop_oneof![
            Just(None),
            (0u32..50).prop_map(Some),
            (MAX_SANE_DESIRED - 2..=MAX_SANE_DESIRED + 2).prop_map(Some),
            Just(Some(u32::MAX)),
        ],
        prop::collection::vec(0u32..10, 0..8),
        prop::collection::vec(0u32..10, 0..4),
        prop::collection::vec(0u32..10, 0..4),
        "\\PC{0,50}",
    )
        .prop_map(|(desired, drain, cordon, uncordon, reason)| RawDecision {
            desired,
            drain,
            cordon,
            uncordon,
            reason,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decision_checks_match_the_contract(n in 0usize..8, d in raw_decision()) {
        let s = snapshot_with(n);
        let l = limits();
        let want = oracle(&d, &s, &l);
        match validate_decision(d.clone(), &s, &l) {
            Ok(decision) => {
                prop_assert_eq!(Ok((decision.drain, decision.cordon, decision.uncordon)), want);
                prop_assert_eq!(decision.desired, d.desired);
                prop_assert_eq!(decision.reason, d.reason);
            }
            Err(fault) => {
                prop_assert_eq!(Err(<&str>::from(fault.kind())), want.map(|_| ()), "{}", fault);
                let typed = matches!(
                    fault,
                    PolicyFault::InvalidDecision { .. } | PolicyFault::OutputTooLarge { .. }
                );
                prop_assert!(typed, "unexpected fault {}", fault);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_snapshot_parser(text in "\\PC{0,400}") {
        let _ = serde_json::from_str::<Snapshot>(&text);
    }

    #[test]
    fn mutated_snapshot_json_is_refused_or_round_trips(edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..5, "[\\[\\]{}\",:0-9a-z.\\- ]{0,6}"), 1..6)) {
        let mut text = serde_json::to_string(&Snapshot::example()).unwrap();
        for (at, kind, insert) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            match kind {
                0 => text.truncate(i),
                1 => text.insert_str(i, &insert),
                2 => {
                    let end = (i + insert.len() + 1).min(text.len());
                    text.replace_range(i..end, "");
                }
                3 => {
                    let end = (i + insert.len()).min(text.len());
                    text.replace_range(i..end, &insert);
                }
                _ => text = text.replacen("\"sessions_known\":true", "\"sessions_known\":\"yes\"", 1),
            }
        }
        if let Ok(parsed) = serde_json::from_str::<Snapshot>(&text) {
            let again = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<Snapshot>(&again).unwrap(), parsed);
        }
    }

    #[test]
    fn valid_snapshots_round_trip(s in snapshot()) {
        let text = serde_json::to_string(&s).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(back.digest(), s.digest());
    }
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![0.0..100.0f64, Just(0.0), Just(100.0), -1e9..1e9f64]
}

fn task() -> impl Strategy<Value = TaskInfo> {
    let status = prop::sample::select(vec![
        TaskStatus::Provisioning,
        TaskStatus::Pending,
        TaskStatus::Activating,
        TaskStatus::Running,
        TaskStatus::Deactivating,
        TaskStatus::Stopping,
        TaskStatus::Deprovisioning,
        TaskStatus::Stopped,
    ]);
    let health = prop::sample::select(vec![
        TargetHealth::Unregistered,
        TargetHealth::Initial,
        TargetHealth::Healthy,
        TargetHealth::Unhealthy,
        TargetHealth::Draining,
        TargetHealth::Unknown,
    ]);
    (
        "[0-9a-f]{32}",
        status,
        health,
        any::<u32>(),
        any::<bool>(),
        any::<u32>(),
        prop::option::of(float()),
        prop::option::of(float()),
        any::<bool>(),
    )
        .prop_map(
            |(id, status, health, age_seconds, protected, sessions, cpu, memory, draining)| {
                TaskInfo {
                    id,
                    status,
                    health,
                    age_seconds,
                    protected,
                    sessions,
                    cpu,
                    memory,
                    draining,
                    cordoned_since: None,
                }
            },
        )
}

fn param() -> impl Strategy<Value = ParamValue> {
    prop_oneof![
        any::<bool>().prop_map(ParamValue::Flag),
        float().prop_map(ParamValue::Number),
        "\\PC{0,12}".prop_map(ParamValue::Text),
    ]
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let counts = (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    );
    let load = (
        prop::option::of(float()),
        prop::option::of(float()),
        any::<bool>(),
    );
    let drain =
        ("[0-9a-f]{8}", 0usize..6, any::<u32>()).prop_map(|(task_id, step, elapsed_seconds)| {
            DrainInfo {
                task_id,
                step: [
                    DrainStep::Protecting,
                    DrainStep::Deregistering,
                    DrainStep::Waiting,
                    DrainStep::Rechecking,
                    DrainStep::ScalingIn,
                    DrainStep::Confirming,
                ][step],
                elapsed_seconds,
            }
        });
    let history = (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        prop::option::of(float()),
        prop::option::of(float()),
        prop::option::of(any::<u32>()),
    )
        .prop_map(
            |(at, desired, running, cpu, memory, sessions)| TickSummary {
                at,
                desired,
                running,
                cpu,
                memory,
                sessions,
            },
        );
    (
        ("\\PC{0,10}", "\\PC{0,10}"),
        counts,
        load,
        prop::collection::vec(task(), 0..6),
        prop::collection::vec(drain, 0..3),
        prop::collection::vec(history, 0..4),
        prop::collection::btree_map("[a-z-]{1,12}", param(), 0..4),
    )
        .prop_map(
            |(
                (cluster, service),
                (now, desired, running, pending, min, max),
                (cpu, memory, sessions_known),
                tasks,
                drains,
                history,
                params,
            )| Snapshot {
                cluster,
                service,
                now,
                desired,
                running,
                pending,
                min,
                max,
                cpu,
                memory,
                sessions_known,
                tasks,
                drains,
                history,
                params: params.into_iter().collect::<BTreeMap<_, _>>(),
            },
        )
}
