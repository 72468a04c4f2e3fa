//! The HTTP endpoint over a real socket on 127.0.0.1, and `autoscaler run` as a user runs it.

use std::process::Command;

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::daemon::http;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sim_run::{SimRun, config};

pub async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn healthz_metrics_and_services_are_served() {
    let toml = config(
        SESSION_AWARE,
        "[service.sim]\ninitial_tasks = 3\nworkload = { kind = \"steady\", per_min = 2.0 }\n",
    );
    let mut run = SimRun::new(&toml);
    run.run_until(600).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(
        listener,
        http::router(run.daemon.board.clone(), run.daemon.events.clone()),
        async move {
            let _ = stopped.await;
        },
    ));

    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_string()));
    let (code, metrics) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("autoscaler_ticks_total{service=\"e2e/web\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE autoscaler_policy_call_seconds histogram"),
        "{metrics}"
    );
    // Every family with its HELP and TYPE under its exposed name, also those
    // with no sample yet; no OpenMetrics `# EOF`.
    for family in [
        "# HELP autoscaler_ticks_total Ticks run, per service.\n# TYPE autoscaler_ticks_total counter\n",
        "# HELP autoscaler_policy_reloads_total Policy file reloads, by result (swapped or refused).\n# TYPE autoscaler_policy_reloads_total counter\n",
        "# TYPE autoscaler_cordoned_tasks gauge\n",
    ] {
        assert!(metrics.contains(family), "{family}{metrics}");
    }
    assert!(!metrics.contains("# EOF"), "{metrics}");
    assert!(
        metrics.contains("autoscaler_policy_call_seconds_count{service=\"e2e/web\"} 10"),
        "{metrics}"
    );
    let (code, services) = get(addr, "/v1/services").await;
    assert_eq!(code, 200);
    let services: serde_json::Value = serde_json::from_str(&services).unwrap();
    assert_eq!(services[0]["service"], "e2e/web");
    assert_eq!(services[0]["policy"]["name"], "session-aware");
    assert_eq!(services[0]["last"]["at"], 540);
    assert_eq!(get(addr, "/nope").await.0, 404);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn autoscaler_run_prints_status_lines_and_a_summary_and_stops_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("demo.toml");
    let toml = config(
        SESSION_AWARE,
        "[service.sim]\ninitial_tasks = 2\nworkload = { kind = \"step\", before_per_min = 1.0, after_per_min = 8.0, at = \"20m\" }\n",
    )
    .replace("speed = 0", "speed = 0\nduration = \"2h\"");
    std::fs::write(&cfg, format!("state_dir = \"state\"\n{toml}")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args(["-q", "run", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ticks = stdout.lines().filter(|l| l.starts_with("[day 0 ")).count();
    assert_eq!(ticks, 120, "one status line per tick:\n{stdout}");
    assert!(stdout.contains("scale-out"), "{stdout}");
    assert!(
        stdout.contains("Summary:") && stdout.contains("e2e/web: 120 ticks"),
        "{stdout}"
    );
    let records = std::fs::read_to_string(dir.path().join("state/decisions.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 120);
}

#[test]
fn bad_configs_are_refused_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the state directory would have to be.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "a file").unwrap();
    let state_under_file = format!(
        "state_dir = {:?}\n{}",
        blocker.join("state"),
        config(SESSION_AWARE, "")
    );
    let state_is_file = format!("state_dir = {:?}\n{}", blocker, config(SESSION_AWARE, ""));
    let cases = [
        (
            "unknown",
            config(SESSION_AWARE, "colour = \"blue\""),
            "unknown field `colour`",
        ),
        (
            "duration",
            config(SESSION_AWARE, "").replace("interval = \"60s\"", "interval = \"soon\""),
            "interval",
        ),
        (
            "minmax",
            config(SESSION_AWARE, "[service.guard]\nmin = 5\nmax = 2"),
            "field `service[0].guard.min`: min (5) is greater than max (2)",
        ),
        (
            "missing",
            config("/nonexistent/p.wasm", ""),
            "field `service[0].policy`: policy file /nonexistent/p.wasm does not exist",
        ),
        (
            "state-under-file",
            state_under_file,
            &format!(
                "field `state_dir`: cannot create {}: {} is a regular file, not a directory",
                blocker.join("state").display(),
                blocker.display()
            ),
        ),
        (
            "state-is-file",
            state_is_file,
            &format!(
                "field `state_dir`: {} is a regular file, not a directory",
                blocker.display()
            ),
        ),
        (
            "fault-plan",
            config(SESSION_AWARE, "").replace(
                "[provider.world]",
                "[provider.faults.set_desired]\npartial = 0.2\n[provider.world]",
            ),
            "field `provider.faults.set_desired.partial`: only batch writes",
        ),
        (
            "fault-unknown",
            config(SESSION_AWARE, "").replace(
                "[provider.world]",
                "[provider.faults.all]\nthrotle = 0.2\n[provider.world]",
            ),
            "unknown field `throtle`",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, &text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_autoscaler"))
            .args(["run", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(path.to_str().unwrap()),
            "{name} names the file: {stderr}"
        );
        assert!(
            stderr.contains(want),
            "{name}: expected {want:?} in {stderr}"
        );
    }
}
