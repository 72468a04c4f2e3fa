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

/// LEB128 of `n`.
fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A section: id, size, contents.
fn section(id: u8, contents: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(contents.len(), out);
    out.extend_from_slice(contents);
}

/// A component of one core module defining `globals` i32 globals and no
/// function, encoded by hand (the text would be 30 MB).
fn component_with_globals(globals: usize) -> Vec<u8> {
    let mut entries = Vec::with_capacity(globals * 5 + 8);
    leb(globals, &mut entries);
    for _ in 0..globals {
        // i32, immutable, (i32.const 0) end
        entries.extend_from_slice(&[0x7f, 0x00, 0x41, 0x00, 0x0b]);
    }
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(6, &entries, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    // Section 1 of a component: a core module.
    section(1, &module, &mut component);
    component
}

#[test]
fn runtime_module_of_a_million_globals_is_refused_quickly_without_compiling() {
    let bomb = component_with_globals(1_000_000);
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bomb)
        .expect("the bomb is valid wasm");
    let before = rss_bytes();
    let started = Instant::now();
    let err = engine().load_bytes(&bomb, "globals.wasm").unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::CodeTooLarge {
                setting: "max_globals",
                size: 1_000_000,
                limit: 10_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("globals.wasm"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        rss_bytes().saturating_sub(before) < 20 << 20,
        "RSS grew by {} bytes",
        rss_bytes().saturating_sub(before)
    );
}

#[test]
fn runtime_many_instances_of_a_module_are_refused_quickly_without_compiling() {
    // 2,000 instances of an empty module: over max_instances (250).
    let instances = "(core instance (instantiate $m))\n".repeat(2_000);
    let many = wat::parse_str(format!("(component (core module $m) {instances})")).unwrap();
    let started = Instant::now();
    let err = engine().load_bytes(&many, "instances.wasm").unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::CodeTooLarge {
                setting: "max_instances",
                ..
            }
        ),
        "{err}"
    );
    // 100 instances of a module of 5,000 globals: each count is under its
    // limit, the 500,000 globals they hold are not.
    let globals = "(global i32 (i32.const 0))\n".repeat(5_000);
    let instances = "(core instance (instantiate $m))\n".repeat(100);
    let many = wat::parse_str(format!(
        "(component (core module $m {globals}) {instances})"
    ))
    .unwrap();
    let before = rss_bytes();
    let err = engine().load_bytes(&many, "instances.wasm").unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::CodeTooLarge {
                setting: "max_instance_globals",
                size: 500_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(rss_bytes().saturating_sub(before) < 20 << 20);
}

#[test]
fn runtime_many_imports_and_locals_are_refused_before_compiling() {
    let limits = Limits {
        max_imports: 10,
        max_locals: 1_000,
        ..Limits::default()
    };
    let engine = PolicyEngine::new(limits, None).unwrap();
    let imports = "(import \"m\" \"f\" (func))\n".repeat(11);
    let many = wat::parse_str(format!("(component (core module {imports}))")).unwrap();
    let err = engine.load_bytes(&many, "imports.wasm").unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::CodeTooLarge {
                setting: "max_imports",
                size: 11,
                ..
            }
        ),
        "{err}"
    );
    let funcs = "(func (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64))\n".repeat(101);
    let many = wat::parse_str(format!("(component (core module {funcs}))")).unwrap();
    let err = engine.load_bytes(&many, "locals.wasm").unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::CodeTooLarge {
                setting: "max_locals",
                size: 1_010,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn runtime_log_import_lowered_with_utf16_strings_is_refused_naming_the_encoding() {
    for encoding in ["utf16", "latin1+utf16"] {
        let component = wat::parse_str(format!(
            r#"(component
              (import "autoscaler:policy/host@0.1.0" (instance $h
                (export "log" (func (param "level" u8) (param "message" string)))))
              (core module $mem (memory (export "m") 1))
              (core instance $mi (instantiate $mem))
              (alias core export $mi "m" (core memory $m))
              (alias export $h "log" (func $log))
              (core func (canon lower (func $log) (memory $m) string-encoding={encoding})))"#
        ))
        .unwrap();
        let err = engine().load_bytes(&component, "utf16.wasm").unwrap_err();
        assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("string-encoding={encoding},")) && msg.contains("utf16.wasm"),
            "{msg}"
        );
    }
}
