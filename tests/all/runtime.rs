//! The policy runtime against real components: the example policies, and
//! adversarial ones that must each fail with their own named fault while the
//! host goes on.

use std::path::Path;
use std::time::{Duration, Instant};

use autoscaler::artifacts;
use autoscaler::model::Snapshot;
use autoscaler::runtime::{FaultKind, Limits, LoadError, Policy, PolicyEngine, PolicyFault};

use crate::support::engine;
use test_policy_artifacts::{
    ADVERSARIAL_ENDLESS_LOOP, ADVERSARIAL_FUTURE_CONTRACT, ADVERSARIAL_HUGE_ALLOC,
    ADVERSARIAL_OVERSIZED_OUTPUT, ADVERSARIAL_PANIC, ADVERSARIAL_REACHES_OUTSIDE,
    ADVERSARIAL_UNKNOWN_DRAIN, ADVERSARIAL_WRONG_WORLD,
};

fn policy(path: &str) -> Policy {
    let engine = engine();
    let component = engine.load_file(Path::new(path)).expect("policy loads");
    Policy::new(engine, component)
}

fn fault_of(path: &str) -> PolicyFault {
    policy(path)
        .decide(&Snapshot::example())
        .result
        .expect_err("the policy must fault")
}

/// After any fault, a good policy on the same engine still decides.
fn assert_host_still_works() {
    let d = policy(artifacts::SESSION_AWARE)
        .decide(&Snapshot::example())
        .result
        .unwrap();
    assert_eq!(d.desired, Some(2));
}

#[test]
fn example_policies_load_and_decide() {
    for (path, name) in [
        (artifacts::SESSION_AWARE, "session-aware"),
        (artifacts::TARGET_TRACKING, "target-tracking"),
    ] {
        let mut p = policy(path);
        assert_eq!(p.component().name, name);
        assert_eq!(p.component().version, "0.1.0");
        assert_eq!(p.component().contract.to_string(), "0.2.0");
        assert!(
            p.component()
                .imports
                .iter()
                .any(|i| i == "autoscaler:policy/host@0.2.0")
        );
        let report = p.decide(&Snapshot::example());
        let d = report.result.expect("decides");
        assert!(!d.reason.is_empty());
        assert!(report.fuel_used > 0);
        assert!(report.fresh_instance);
        // The instance is reused on the next call.
        assert!(!p.decide(&Snapshot::example()).fresh_instance);
    }
}

#[test]
fn session_aware_drains_idle_tasks_by_id_and_logs_them_through_the_lookup_import() {
    let snap = Snapshot::example();
    let report = policy(artifacts::SESSION_AWARE).decide(&snap);
    let d = report.result.unwrap();
    assert_eq!(
        d.drain,
        vec![snap.tasks[3].id.clone(), snap.tasks[1].id.clone()]
    );
    let log = report
        .logs
        .iter()
        .find(|l| l.message.starts_with("draining"))
        .expect("a drain log");
    assert!(
        log.message.contains(&snap.tasks[3].id),
        "task-id lookup gave the ID: {}",
        log.message
    );
}

#[test]
fn endless_loop_is_a_timeout_and_the_host_goes_on() {
    let mut p = policy(ADVERSARIAL_ENDLESS_LOOP);
    let report = p.decide(&Snapshot::example());
    assert!(
        matches!(report.result, Err(PolicyFault::Timeout { .. })),
        "{:?}",
        report.result
    );
    // The trapped instance was dropped; the next call starts afresh and faults the same way.
    let again = p.decide(&Snapshot::example());
    assert!(again.fresh_instance);
    assert_eq!(again.result.unwrap_err().kind(), FaultKind::Timeout);
    assert_host_still_works();
}

#[test]
fn wall_clock_deadline_stops_a_loop_that_fuel_alone_would_let_run() {
    let limits = Limits {
        fuel: u64::MAX / 2,
        timeout: Duration::from_millis(30),
        ..Limits::default()
    };
    let engine = PolicyEngine::new(limits, None).unwrap();
    let component = engine
        .load_file(Path::new(ADVERSARIAL_ENDLESS_LOOP))
        .unwrap();
    let started = Instant::now();
    let fault = Policy::new(engine, component)
        .decide(&Snapshot::example())
        .result
        .unwrap_err();
    assert!(
        matches!(&fault, PolicyFault::Timeout { what } if what.contains("deadline")),
        "{fault}"
    );
    // Generous bound: this proves the deadline fires, not how precisely (the bench measures that).
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn one_gib_allocation_is_out_of_memory() {
    assert!(matches!(
        fault_of(ADVERSARIAL_HUGE_ALLOC),
        PolicyFault::OutOfMemory { .. }
    ));
    assert_host_still_works();
}

#[test]
fn panic_is_a_trap_that_carries_the_panic_message() {
    let fault = fault_of(ADVERSARIAL_PANIC);
    assert_eq!(fault.kind(), FaultKind::Trap);
    assert!(fault.to_string().contains("index out of range"), "{fault}");
    assert_host_still_works();
}

#[test]
fn oversized_output_is_refused() {
    let fault = fault_of(ADVERSARIAL_OVERSIZED_OUTPUT);
    assert!(
        matches!(
            fault,
            PolicyFault::OutputTooLarge {
                size: 1_048_576,
                ..
            }
        ),
        "{fault}"
    );
    assert_host_still_works();
}

#[test]
fn unknown_drain_handle_is_an_invalid_decision() {
    let fault = fault_of(ADVERSARIAL_UNKNOWN_DRAIN);
    assert!(
        matches!(&fault, PolicyFault::InvalidDecision { reason } if reason.contains("9999")),
        "{fault}"
    );
    assert_host_still_works();
}

#[test]
fn reaching_outside_the_sandbox_traps_on_the_missing_import() {
    let fault = fault_of(ADVERSARIAL_REACHES_OUTSIDE);
    assert_eq!(fault.kind(), FaultKind::Trap);
    assert!(
        fault.to_string().contains("wasi:cli/environment"),
        "{fault}"
    );
    assert_host_still_works();
}

#[test]
fn component_of_another_world_is_refused_naming_both() {
    let err = engine()
        .load_file(Path::new(ADVERSARIAL_WRONG_WORLD))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LoadError::WrongWorld { .. }));
    assert!(
        msg.contains("expected world autoscaler:policy/scaling-policy@0.1.0 or 0.2.0"),
        "{msg}"
    );
    assert!(msg.contains("found exports add"), "{msg}");
}

#[test]
fn component_of_a_later_contract_is_refused_naming_both_versions() {
    let msg = engine()
        .load_file(Path::new(ADVERSARIAL_FUTURE_CONTRACT))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("found contract version 9.0.0"), "{msg}");
    assert!(msg.contains("this host accepts 0.1.0 or 0.2.0"), "{msg}");
}

#[test]
fn files_that_are_not_components_are_refused_clearly() {
    let e = engine();
    let text = e
        .load_bytes(b"this is a text file, not wasm", "notes.txt")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("notes.txt") && text.contains("not wasm at all"),
        "{text}"
    );
    let core = e
        .load_bytes(b"\0asm\x01\0\0\0", "core.wasm")
        .unwrap_err()
        .to_string();
    assert!(core.contains("core WebAssembly module"), "{core}");
    let bytes = std::fs::read(artifacts::SESSION_AWARE).unwrap();
    let truncated = e
        .load_bytes(&bytes[..bytes.len() / 2], "truncated.wasm")
        .unwrap_err();
    assert!(
        matches!(truncated, LoadError::NotAComponent { .. }),
        "{truncated}"
    );
    let missing = e
        .load_file(Path::new("/nonexistent/policy.wasm"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/policy.wasm"), "{missing}");
    assert_host_still_works();
}

#[test]
fn compiled_components_are_cached_by_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let engine = PolicyEngine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    let first = engine
        .load_file(Path::new(artifacts::TARGET_TRACKING))
        .unwrap();
    assert!(!first.from_cache);
    let second = engine
        .load_file(Path::new(artifacts::TARGET_TRACKING))
        .unwrap();
    assert!(second.from_cache);
    assert_eq!(first.sha256, second.sha256);
    let d = Policy::new(engine.clone(), second)
        .decide(&Snapshot::example())
        .result
        .unwrap();
    assert!(!d.reason.is_empty());
    // A corrupt cache entry is discarded and the component compiled again.
    for entry in std::fs::read_dir(dir.path().join("components")).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = engine
        .load_file(Path::new(artifacts::TARGET_TRACKING))
        .unwrap();
    assert!(!third.from_cache);
}

#[test]
fn policy_errors_keep_the_instance() {
    let mut snap = Snapshot::example();
    snap.params.insert(
        "cpu-low".into(),
        autoscaler::model::ParamValue::Number(99.0),
    );
    let mut p = policy(artifacts::SESSION_AWARE);
    assert_eq!(
        p.decide(&snap).result.unwrap_err().kind(),
        FaultKind::PolicyError
    );
    assert!(
        !p.decide(&Snapshot::example()).fresh_instance,
        "an error return is not a trap"
    );
}
