//! `autoscaler policy new`: a policy started in a folder of its own builds,
//! passes its own unit tests, and loads in the host, in each language, with
//! the commands its README gives (the same tools `scripts/build-polyglot`
//! uses: pip and `python -m autoscaler_sdk.build`, npm and `npm run build`).
//!
//! The Python and JavaScript ones need Python and Node with their package
//! registries; like the polyglot tests they are skipped, with a message, where
//! `scripts/build-polyglot` has not set up `.venv`, and fail there when
//! AUTOSCALER_REQUIRE_POLYGLOT is set (as `scripts/test` does).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{root, test_cache};

fn autoscaler() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autoscaler"))
}

/// Runs `cmd`, panicking with its output unless it succeeds.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `policy new NAME --lang LANG --dir DIR --sdk <this checkout>`, which must succeed.
fn scaffold(name: &str, lang: &str, dir: &Path) {
    let out = run(autoscaler()
        .args(["policy", "new", name, "--lang", lang, "--dir"])
        .arg(dir)
        .arg("--sdk")
        .arg(root()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("README.md"), "{stdout}");
    assert!(dir.join("README.md").is_file());
}

/// `policy check` loads the component as a host would; then a short backtest runs it.
fn check_and_simulate(wasm: &Path, name: &str) {
    let out = run(autoscaler()
        .args(["policy", "check", "--cache-dir"])
        .arg(test_cache())
        .arg(wasm));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("policy:     {name} 0.1.0")),
        "{stdout}"
    );
    assert!(
        stdout.contains("contract:   autoscaler:policy@0.2.0"),
        "{stdout}"
    );
    assert!(stdout.contains("cpu-high (number, default 75"), "{stdout}");
    let out = run(autoscaler()
        .args(["simulate", "--scenario", "steady", "--duration", "3h"])
        .args(["--json", "--no-timing", "--cache-dir"])
        .arg(test_cache())
        .arg("--policy")
        .arg(wasm));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["runs"][0]["figures"]["policy_faults"], 0, "{json}");
}

/// Whether the Python and JavaScript tools are set up; panics where they must be.
fn polyglot_tools() -> bool {
    if root().join(".venv/bin/componentize-py").is_file() {
        return true;
    }
    if std::env::var_os("AUTOSCALER_REQUIRE_POLYGLOT").is_some() {
        panic!(".venv has no componentize-py: run scripts/build-polyglot");
    }
    eprintln!("skipping: .venv is not set up (run scripts/build-polyglot, or scripts/test)");
    false
}

/// The toolchain the repository pins: a policy outside the checkout would
/// otherwise build with the default one, which may lack wasm32-wasip2.
fn pinned_toolchain() -> String {
    let text = std::fs::read_to_string(root().join("rust-toolchain.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("channel"))
        .expect("rust-toolchain.toml names a channel");
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn a_new_rust_policy_tests_builds_and_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cpu-band");
    scaffold("cpu-band", "rust", &dir);
    let cargo = || {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
        // A target folder kept between runs, so only the first one compiles the SDK.
        cmd.current_dir(&dir)
            .env("CARGO_TARGET_DIR", root().join("target/scaffold"))
            .env("RUSTUP_TOOLCHAIN", pinned_toolchain());
        cmd
    };
    let out = run(cargo().args(["test", "--quiet"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 passed"), "{stdout}");
    run(cargo().args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"]));
    let wasm = root().join("target/scaffold/wasm32-wasip2/release/cpu_band.wasm");
    check_and_simulate(&wasm, "cpu-band");
}

#[test]
fn a_new_python_policy_tests_builds_and_loads() {
    if !polyglot_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("py-band");
    scaffold("py-band", "python", &dir);
    // A virtualenv beside the policy, not in it: componentize-py reads the whole policy folder.
    let venv = tmp.path().join("venv");
    let python = venv.join("bin/python");
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["-r", "requirements.txt"])
        .current_dir(&dir));
    let out = run(Command::new(&python)
        .args(["-m", "unittest"])
        .current_dir(&dir));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Ran 6 tests"), "{stderr}");
    run(Command::new(&python)
        .args(["-m", "autoscaler_sdk.build"])
        .current_dir(&dir));
    check_and_simulate(&dir.join("py-band.wasm"), "py-band");
}

#[test]
fn a_new_javascript_policy_tests_builds_and_loads() {
    if !polyglot_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("js-band");
    scaffold("js-band", "js", &dir);
    let npm = |args: &[&str]| {
        let mut cmd = Command::new("npm");
        cmd.args(args).current_dir(&dir);
        run(&mut cmd)
    };
    npm(&["install", "--no-audit", "--no-fund", "--loglevel=error"]);
    let out = npm(&["test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("# pass 6"), "{stdout}");
    npm(&["run", "--silent", "build"]);
    check_and_simulate(&dir.join("js-band.wasm"), "js-band");
}

/// Runs `policy new` with `args`, which must fail with exit code 2; returns its standard error.
fn refused(args: &[&str], cwd: &Path) -> String {
    let out = autoscaler()
        .args(["policy", "new"])
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?} wrote nothing");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn policy_new_refuses_bad_input_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();

    let e = refused(&["My_Policy", "--lang", "rust"], cwd);
    assert!(e.contains("\"My_Policy\" is not allowed"), "{e}");
    assert!(e.contains("'M' '_' 'P'"), "{e}");
    assert!(
        e.contains("lowercase letters a-z, digits 0-9 and `-`, starting with a letter"),
        "{e}"
    );
    let e = refused(&["9lives", "--lang", "js"], cwd);
    assert!(e.contains("\"9lives\" is not allowed"), "{e}");

    let e = refused(&["ok", "--lang", "cobol"], cwd);
    assert!(
        e.contains("invalid value 'cobol' for '--lang <LANG>'"),
        "{e}"
    );
    assert!(e.contains("rust, python, js"), "{e}");
    let e = refused(&["ok"], cwd);
    assert!(e.contains("--lang <LANG>"), "{e}");

    std::fs::create_dir(cwd.join("taken")).unwrap();
    std::fs::write(cwd.join("taken/keep.txt"), "mine").unwrap();
    let e = refused(&["ok", "--lang", "python", "--dir", "taken"], cwd);
    assert!(
        e.contains("taken already exists and is not an empty folder"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(cwd.join("taken/keep.txt")).unwrap(),
        "mine"
    );
    std::fs::create_dir(cwd.join("ok")).unwrap();
    std::fs::write(cwd.join("ok/x"), "").unwrap();
    let e = refused(&["ok", "--lang", "rust"], cwd);
    assert!(
        e.contains("ok already exists and is not an empty folder"),
        "{e}"
    );

    let e = refused(&["ok2", "--lang", "rust", "--sdk", "/nonexistent"], cwd);
    assert!(
        e.contains("not a checkout of the autoscaler repository"),
        "{e}"
    );
    let e = refused(
        &[
            "ok2",
            "--lang",
            "js",
            "--sdk",
            "https://example.invalid/autoscaler.git",
        ],
        cwd,
    );
    assert!(
        e.contains("npm cannot install a package from a subfolder"),
        "{e}"
    );
    assert!(
        !cwd.join("ok2").exists(),
        "a refused scaffold writes nothing"
    );
}

#[test]
fn policy_new_fills_an_empty_folder_and_names_the_sdk_by_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("empty");
    std::fs::create_dir(&dir).unwrap();
    scaffold("band", "rust", &dir);
    let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let sdk = root().join("sdk").canonicalize().unwrap();
    assert!(
        cargo_toml.contains(&format!(
            "autoscaler-sdk = {{ path = \"{}\" }}",
            sdk.display()
        )),
        "{cargo_toml}"
    );
    assert!(cargo_toml.contains("name = \"band\""), "{cargo_toml}");
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("export_policy!(decide, params = params());"));
    assert!(lib.contains("#[test]"));
}
