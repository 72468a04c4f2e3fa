//! Warnings `autoscaler run` gives at start, read from the real binary's
//! standard error: a config without `[http]`, and a service already running
//! more tasks than its `guard.max`.

use std::process::Command;

use autoscaler::artifacts::SESSION_AWARE;

/// Runs `autoscaler run` on `toml` for 30 simulated minutes; returns its standard error.
fn run(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("autoscaler.toml");
    std::fs::write(&cfg, format!("state_dir = \"state\"\n{toml}")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args(["run", "--no-status", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn services(http: &str) -> String {
    format!(
        r#"{http}
[provider]
kind = "sim"
speed = 0
duration = "30m"

[[service]]
name = "web"
cluster = "e2e"
target_group = "web-tg"
policy = "{SESSION_AWARE}"
[service.sim]
initial_tasks = 12

[[service]]
name = "api"
cluster = "e2e"
target_group = "api-tg"
policy = "{SESSION_AWARE}"
[service.sim]
initial_tasks = 3
"#
    )
}

#[test]
fn run_warns_without_http_and_once_per_service_running_above_guard_max() {
    let stderr = run(&services(""));
    let http = "The config has no [http] table: metrics (/metrics), health (/healthz, /readyz) and /v1/services are not served.";
    assert_eq!(stderr.matches(http).count(), 1, "{stderr}");
    let web = "Service e2e/web has 12 tasks running, above its guard.max of 10 (the default when [service.guard] sets no max is 10)";
    // 30 ticks, one warning.
    assert_eq!(stderr.matches(web).count(), 1, "{stderr}");
    assert_eq!(stderr.matches("above its guard.max").count(), 1, "{stderr}");
}

#[test]
fn run_gives_no_warning_when_http_is_set_and_guard_max_is_above_the_running_count() {
    let toml = services("[http]\nlisten = \"127.0.0.1:0\"\n").replace(
        "initial_tasks = 12",
        "initial_tasks = 12\n[service.guard]\nmax = 40",
    );
    let stderr = run(&toml);
    assert!(!stderr.contains("[http]"), "{stderr}");
    assert!(!stderr.contains("guard.max"), "{stderr}");
}
