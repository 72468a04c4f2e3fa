//! Building policy crates into WebAssembly components from a build script,
//! and naming the results in generated constants. Shared by host/build.rs
//! (the example policies, shipped) and tests/policies/artifacts/build.rs (the
//! adversarial test policies, for the tests only), which include this file.
//!
//! Both build into one target directory, `target/policies`, so wit-bindgen
//! and its macros are compiled once (the SDK is compiled once per workspace:
//! its path, and so its hash, differs between them), and cargo's lock on that
//! directory keeps two builds from writing it at the same time: the second
//! waits for the first, then finds the shared crates built. Neither holds a
//! lock the other's outer cargo needs, so they cannot deadlock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the components are built, under the workspace root.
pub fn target_dir(root: &Path) -> PathBuf {
    root.join("target").join("policies")
}

/// The policy crates (directories with a Cargo.toml) directly under `dir`,
/// sorted, as (directory name, path). Tells cargo to rerun on changes there.
pub fn crate_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("Cargo.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect()
}

/// Builds `packages` of the workspace at `manifest` for wasm32-wasip2 with the
/// `policy` profile into [`target_dir`], and returns the directory holding
/// the `.wasm` files.
pub fn build(root: &Path, manifest: &Path, packages: &[String]) -> PathBuf {
    let target_dir = target_dir(root);
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--profile", "policy", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage) are not meant for the guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("cannot run cargo to build the policy components");
    if !status.success() {
        panic!(
            "\n\nBuilding the policy components of {} failed (see the errors above).\n\
             If the errors say `can't find crate for core` or name wasm32-wasip2, the \
             WebAssembly target is missing: run `rustup target add wasm32-wasip2` \
             (scripts/test and scripts/demo do this for you).\n",
            manifest.display()
        );
    }
    target_dir.join("wasm32-wasip2").join("policy")
}

/// Rust source declaring one `&str` constant per package (its name in upper
/// snake case) with the path of its component in `wasm_dir`, and `ALL`, every
/// (package, path). Panics if a component is missing.
pub fn constants(header: &str, wasm_dir: &Path, packages: &[String]) -> String {
    let mut code = format!("// {header}\n");
    let mut all = String::from(
        "/// Every component built here: (package name, path).\npub const ALL: &[(&str, &str)] = &[\n",
    );
    for package in packages {
        let file = wasm_dir.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(
            file.is_file(),
            "the build did not produce {}",
            file.display()
        );
        let constant = package.replace('-', "_").to_uppercase();
        code.push_str(&format!(
            "/// The `{package}` component.\npub const {constant}: &str = {:?};\n",
            file.display().to_string()
        ));
        all.push_str(&format!("    ({package:?}, {constant}),\n"));
    }
    all.push_str("];\n");
    code.push_str(&all);
    code
}
