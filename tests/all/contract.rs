//! Both contract versions side by side: a 0.1.0 component built from
//! wit/0.1.0 keeps loading and running unchanged next to 0.2.0 ones; the
//! 0.2.0 view of cordoned tasks, cordon decisions and their checks; and the
//! checks of a service's params against declared parameters when a policy
//! is loaded.

use std::collections::BTreeMap;
use std::path::Path;

use autoscaler::artifacts;
use autoscaler::model::{DrainInfo, DrainStep, ParamValue, Snapshot};
use autoscaler::runtime::{Contract, Policy, PolicyComponent, PolicyFault};

use crate::support::engine;
use test_policy_artifacts::{ADVERSARIAL_CONTRACT_0_1, ADVERSARIAL_CORDON_PROBE};

fn load(path: &str) -> Policy {
    let engine = engine();
    let component = engine.load_file(Path::new(path)).expect("policy loads");
    Policy::new(engine, component)
}

/// The example snapshot with task 2 (one session) cordoned since `now - 300`.
fn with_a_cordon() -> Snapshot {
    let mut s = Snapshot::example();
    let since = s.now - 300;
    let t = &mut s.tasks[2];
    t.cordoned_since = Some(since);
    t.draining = true;
    s.drains.push(DrainInfo {
        task_id: t.id.clone(),
        step: DrainStep::Cordoned,
        elapsed_seconds: 300,
    });
    s
}

fn probe_with(mode: &str, snap: &mut Snapshot) -> Result<autoscaler::model::Decision, PolicyFault> {
    snap.params = BTreeMap::from([("mode".to_string(), ParamValue::Text(mode.into()))]);
    load(ADVERSARIAL_CORDON_PROBE).decide(snap).result
}

#[test]
fn contract_0_1_component_runs_unchanged_next_to_a_0_2_one() {
    let mut old = load(ADVERSARIAL_CONTRACT_0_1);
    let mut new = load(artifacts::SESSION_AWARE);
    assert_eq!(old.component().contract.to_string(), "0.1.0");
    assert_eq!(old.component().contract_version(), Contract::V0_1);
    assert!(old.component().params.is_empty());
    assert_eq!(new.component().contract_version(), Contract::V0_2);

    // The 0.1.0 policy drains the idle tasks by handle, as before.
    let snap = Snapshot::example();
    let d = old.decide(&snap).result.expect("the 0.1.0 policy decides");
    assert_eq!(
        d.drain,
        vec![snap.tasks[1].id.clone(), snap.tasks[3].id.clone()]
    );
    assert_eq!(d.desired, Some(2));
    assert!(d.cordon.is_empty() && d.uncordon.is_empty());
    assert!(d.reason.contains("steps=[]"), "{}", d.reason);
    // Both run on the same engine, alternately, on the same snapshot.
    assert_eq!(new.decide(&snap).result.unwrap().desired, Some(2));
    assert!(!old.decide(&snap).fresh_instance);

    // A cordoned task: 0.1.0 sees it draining (bit 1 only) at step `waiting`.
    let cordoned = with_a_cordon();
    let d = old.decide(&cordoned).result.unwrap();
    assert!(d.reason.contains("marks=[0, 0, 2, 0]"), "{}", d.reason);
    assert!(d.reason.contains("steps=[\"waiting\"]"), "{}", d.reason);
}

#[test]
fn contract_0_2_shows_the_cordon_and_declared_defaults() {
    let mut p = load(ADVERSARIAL_CORDON_PROBE);
    let c = p.component();
    assert_eq!(c.contract.to_string(), "0.2.0");
    let names: Vec<&str> = c.params.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["mode", "per-task", "verbose"]);
    assert_eq!((c.params[1].min, c.params[1].max), (Some(1.0), Some(100.0)));
    assert_eq!(c.params[1].doc, "Session slots per task.");

    let mut snap = with_a_cordon();
    snap.params.clear();
    let since = snap.now - 300;
    let d = p.decide(&snap).result.expect("decides");
    assert!(
        d.reason.contains(&format!("cordoned=[\"2@{since}\"]")),
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains("steps=[\"DrainStep::Cordoned\"]"),
        "{}",
        d.reason
    );
    // The declared defaults reach the policy though the snapshot has no params.
    assert!(
        d.reason.contains(
            r#"params=["mode=ParamValue::Text(\"valid\")", "per-task=ParamValue::Number(10.0)", "verbose=ParamValue::Flag(false)"]"#
        ),
        "{}",
        d.reason
    );
    // Serving capacity at 10 a task: tasks 0, 1, 3 serve (3, 0, 0 sessions): 7 + 10 + 10.
    assert!(d.reason.contains("capacity=27"), "{}", d.reason);
    // "valid": cordon the least-loaded busy serving task (0, 3 sessions), uncordon task 2.
    assert_eq!(d.cordon, vec![snap.tasks[0].id.clone()]);
    assert_eq!(d.uncordon, vec![snap.tasks[2].id.clone()]);
}

#[test]
fn contract_0_2_cordon_decisions_with_bad_handles_are_invalid_with_a_precise_reason() {
    let mut snap = Snapshot::example();
    let reason = |r: Result<_, PolicyFault>| match r {
        Err(PolicyFault::InvalidDecision { reason }) => reason,
        other => panic!("expected an invalid decision, got {other:?}"),
    };
    let ghost = reason(probe_with("ghost", &mut snap));
    assert_eq!(
        ghost,
        "cordon names task handle 9999, but the snapshot has only 4 tasks (handles 0..4)"
    );
    let twice = reason(probe_with("twice", &mut snap));
    assert_eq!(
        twice,
        format!("cordon names task handle 0 ({}) twice", snap.tasks[0].id)
    );
    let both = reason(probe_with("both", &mut snap));
    assert_eq!(
        both,
        format!(
            "task handle 0 ({}) is both in cordon and in uncordon",
            snap.tasks[0].id
        )
    );
    match probe_with("flood", &mut snap) {
        Err(PolicyFault::OutputTooLarge { what, size, limit }) => {
            assert_eq!(
                (what, size, limit),
                ("the cordon list (entries)", 10_001, 10_000)
            );
        }
        other => panic!("expected output too large, got {other:?}"),
    }
}

#[test]
fn contract_params_are_checked_against_declarations_naming_the_parameter() {
    let engine = engine();
    let c = engine
        .load_file(Path::new(ADVERSARIAL_CORDON_PROBE))
        .unwrap();
    let table = |items: &[(&str, ParamValue)]| -> BTreeMap<String, ParamValue> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    assert!(
        c.check_params(&table(&[("per-task", ParamValue::Number(20.0))]))
            .is_ok()
    );

    let e = c
        .check_params(&table(&[("per-task", ParamValue::Number(500.0))]))
        .unwrap_err();
    assert_eq!(e.name, "per-task");
    assert!(
        e.message
            .contains("\"per-task\" = 500 is out of range: allowed 1 to 100"),
        "{e}"
    );
    assert!(e.message.contains("policy cordon-probe 0.2.0"), "{e}");

    let e = c
        .check_params(&table(&[("verbose", ParamValue::Text("yes".into()))]))
        .unwrap_err();
    assert!(
        e.message
            .contains("\"verbose\" = \"yes\" is a text, but it must be a flag"),
        "{e}"
    );

    let e = c
        .check_params(&table(&[("per_task", ParamValue::Number(5.0))]))
        .unwrap_err();
    assert!(
        e.message
            .contains("\"per_task\" = 5 is not declared by policy cordon-probe 0.2.0"),
        "{e}"
    );

    // Next to a policy that declares nothing (0.1.0 here), unknown names pass; declared ones are still checked.
    let old = engine
        .load_file(Path::new(ADVERSARIAL_CONTRACT_0_1))
        .unwrap();
    let both = [c.as_ref(), old.as_ref()];
    assert!(
        PolicyComponent::check_service_params(
            &table(&[("cpu-high", ParamValue::Number(75.0))]),
            &both
        )
        .is_ok()
    );
    assert!(
        PolicyComponent::check_service_params(
            &table(&[("per-task", ParamValue::Number(0.0))]),
            &both
        )
        .is_err()
    );
}
