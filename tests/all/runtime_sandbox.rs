//! The sandbox against hostile inputs made in the test: oversized files,
//! compile bombs, foreign imports, a tampered compiled cache, and the caps on
//! what a policy can make the host keep.

use std::path::Path;
use std::time::{Duration, Instant};

use autoscaler::artifacts;
use autoscaler::model::{ParamValue, Snapshot};
use autoscaler::runtime::{Limits, LoadError, Policy, PolicyEngine};

use crate::support::engine;

/// Resident set size of this process, in bytes.
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A component whose one core module defines `functions` functions, each `body` (WAT instructions).
fn component_with_functions(functions: usize, body: &str) -> Vec<u8> {
    let funcs = format!("(func {body})\n").repeat(functions);
    wat::parse_str(format!("(component (core module {funcs}))")).unwrap()
}

#[test]
fn runtime_oversized_wasm_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.wasm");
    // 60 MB, sparse: no disk used, and reading it would show in RSS.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(60_000_000)
        .unwrap();
    let before = rss_bytes();
    let started = Instant::now();
    let err = engine().load_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::FileTooLarge {
                size: 60_000_000,
                limit: 50_000_000,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("huge.wasm") && msg.contains("max_component_bytes"),
        "{msg}"
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(
        rss_bytes().saturating_sub(before) < 20 << 20,
        "the file was read"
    );
}

#[test]
fn runtime_compile_bomb_of_many_functions_is_refused_quickly_without_compiling() {
    // 150,000 empty functions: 600 KB, which wasmtime takes ~30 s to compile (debug test build).
    let bomb = component_with_functions(150_000, "");
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let started = Instant::now();
    let err = engine().load_bytes(&bomb, "bomb.wasm").unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::CodeTooLarge {
                setting: "max_functions",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("bomb.wasm"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn runtime_compile_bomb_of_one_huge_function_is_refused_quickly_without_compiling() {
    let limits = Limits {
        max_function_body_bytes: 64 << 10,
        ..Limits::default()
    };
    let engine = PolicyEngine::new(limits, None).unwrap();
    let bomb = component_with_functions(1, &"nop ".repeat(100_000));
    let started = Instant::now();
    let err = engine.load_bytes(&bomb, "bomb.wasm").unwrap_err();
    assert!(
        matches!(&err, LoadError::CodeTooLarge { setting: "max_function_body_bytes", size, .. } if *size > 100_000),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn runtime_imports_outside_the_contract_and_wasi_are_refused_before_compiling() {
    let foreign = wat::parse_str(
        r#"(component
          (import "evil:net/socket@1.0.0" (instance))
          (instance $i)
          (export "autoscaler:policy/policy@0.1.0" (instance $i)))"#,
    )
    .unwrap();
    let err = engine().load_bytes(&foreign, "foreign.wasm").unwrap_err();
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    assert!(err.to_string().contains("evil:net/socket@1.0.0"), "{err}");
}

#[test]
fn runtime_policy_error_and_info_strings_are_capped_like_reasons() {
    let limits = Limits {
        max_reason_bytes: 10,
        ..Limits::default()
    };
    let engine = PolicyEngine::new(limits, None).unwrap();
    let component = engine
        .load_file(Path::new(artifacts::SESSION_AWARE))
        .expect("a long name is cut, not refused");
    assert_eq!(component.name, "session-aw... (3 bytes cut)");
    let mut snap = Snapshot::example();
    snap.params
        .insert("cpu-low".into(), ParamValue::Number(99.0));
    let fault = Policy::new(engine, component)
        .decide(&snap)
        .result
        .unwrap_err();
    // "parameters cpu-low/memory-low must be below cpu-high/memory-high": 64 bytes.
    assert_eq!(
        fault.to_string(),
        "policy error: parameters... (54 bytes cut)"
    );
}

/// The one entry file in a cache's `components/`.
fn entry(cache: &Path) -> std::path::PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(cache.join("components"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.pop().unwrap()
}

#[test]
fn runtime_cache_entry_with_a_changed_byte_is_refused_and_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let engine = PolicyEngine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    let path = Path::new(artifacts::TARGET_TRACKING);
    assert!(!engine.load_file(path).unwrap().from_cache);
    assert!(engine.load_file(path).unwrap().from_cache);
    let file = entry(dir.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let again = engine.load_file(path).unwrap();
    assert!(!again.from_cache, "a changed artifact must not be loaded");
    // Recompiled and cached afresh, with a good tag.
    assert!(engine.load_file(path).unwrap().from_cache);
}

#[test]
fn runtime_cache_entry_swapped_in_from_another_policy_never_runs_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let engine = PolicyEngine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    let session = Path::new(artifacts::SESSION_AWARE);
    let target = Path::new(artifacts::TARGET_TRACKING);
    engine.load_file(session).unwrap();
    let session_entry = entry(dir.path());
    let saved = dir.path().join("session.cwasm");
    std::fs::rename(&session_entry, &saved).unwrap();
    engine.load_file(target).unwrap();
    let target_entry = entry(dir.path());
    // The target-tracking artifact, tag and all, under session-aware's name.
    std::fs::copy(&target_entry, &session_entry).unwrap();
    let loaded = engine.load_file(session).unwrap();
    assert!(
        !loaded.from_cache,
        "the swapped artifact must not be loaded"
    );
    assert_eq!(loaded.name, "session-aware");
}

#[test]
fn runtime_cache_dir_writable_by_others_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let engine = PolicyEngine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    let path = Path::new(artifacts::TARGET_TRACKING);
    assert!(!engine.load_file(path).unwrap().from_cache);
    assert!(!engine.load_file(path).unwrap().from_cache);
    assert!(!dir.path().join("components").exists());
    assert!(!dir.path().join("key").exists());
}
