//! `/healthz` and `/readyz` tell the truth: liveness follows the daemon
//! loop's heartbeat in wall time, readiness each service's gathers.

use std::time::{Duration, Instant};

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::daemon::http;
use autoscaler::providers::sim::SimOp;
use autoscaler::providers::{Clock, ProviderError};

use crate::http::get;
use crate::sim_run::{SimRun, config};

const STEADY: &str =
    "[service.sim]\ninitial_tasks = 3\nworkload = { kind = \"steady\", per_min = 2.0 }\n";

async fn serve(run: &SimRun) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(http::serve(
        listener,
        http::router(run.daemon.board.clone(), run.daemon.events.clone()),
        async move {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

/// Polls `path` until it answers `code`, for at most `limit`; returns the body.
async fn until(addr: std::net::SocketAddr, path: &str, code: u16, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let (got, body) = get(addr, path).await;
        if got == code {
            return body;
        }
        assert!(
            start.elapsed() < limit,
            "{path} still answers {got} after {limit:?}, not {code}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn healthz_turns_503_while_the_loop_stalls_and_200_once_it_runs_again() {
    // 60 simulated seconds per wall second: the 60 s interval is 1 s of wall
    // time, so the loop is overdue 2 s after its next wake was due.
    let toml = config(SESSION_AWARE, STEADY).replace("speed = 0", "speed = 60");
    let mut run = SimRun::new(&toml);
    run.daemon.stop_at = Some(run.sim.now() + 60 * 40);
    let (addr, stop) = serve(&run).await;
    let board = run.daemon.board.clone();
    let (shutdown, rx) = tokio::sync::watch::channel(false);

    let mut checks = tokio::spawn(async move {
        assert_eq!(
            until(addr, "/healthz", 200, Duration::from_secs(5)).await,
            "ok\n"
        );
        // Hold the status board: the loop blocks publishing its next step.
        let stall = tokio::task::spawn_blocking(move || {
            let _held = board.lock();
            std::thread::sleep(Duration::from_secs(6));
        });
        let reason = until(addr, "/healthz", 503, Duration::from_secs(5)).await;
        assert!(
            reason.contains("the tick loop is overdue")
                && reason.contains("more than 2 intervals of 1.0 s"),
            "{reason}"
        );
        stall.await.unwrap();
        until(addr, "/healthz", 200, Duration::from_secs(3)).await;
    });
    // The checks run beside the daemon; once they end (passed or failed),
    // the daemon is told to stop and the checks' result is reported.
    let daemon = run.daemon.run(rx, None);
    tokio::pin!(daemon);
    let checked = tokio::select! {
        r = &mut daemon => panic!("the daemon stopped before the checks ended: {r:?}"),
        r = &mut checks => r,
    };
    shutdown.send(true).unwrap();
    daemon.await.unwrap();
    stop.send(()).unwrap();
    checked.unwrap();
}

#[tokio::test]
async fn readyz_turns_503_after_three_failed_gathers_and_200_after_a_good_one() {
    let mut run = SimRun::new(&config(SESSION_AWARE, STEADY));
    run.run_until(120).await;
    let (addr, stop) = serve(&run).await;
    let (code, body) = get(addr, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["services"]["e2e/web"]["ready"], true);

    run.sim.inject_fault(
        SimOp::Service,
        1000,
        ProviderError::AccessDenied {
            service: "sim-ecs",
            message: "not authorized to perform ecs:DescribeServices".into(),
        },
    );
    // Ticks at 120 and 180 fail: two failures are not enough.
    run.run_until(181).await;
    assert_eq!(get(addr, "/readyz").await.0, 200);
    run.run_until(241).await;
    let (code, body) = get(addr, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["ready"], false);
    assert_eq!(ready["services"]["e2e/web"]["ready"], false);
    let reason = ready["services"]["e2e/web"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the last 3 gathers failed: ")
            && reason.contains("not authorized to perform ecs:DescribeServices"),
        "{reason}"
    );

    // A later injection replaces this one: none left, the next gather works.
    run.sim.inject_fault(
        SimOp::Service,
        0,
        ProviderError::AccessDenied {
            service: "sim-ecs",
            message: String::new(),
        },
    );
    run.run_until(301).await;
    let (code, body) = get(addr, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    stop.send(()).unwrap();
}

/// Every sample's family has `# HELP` and `# TYPE`, and every family listed
/// has its samples right after.
#[tokio::test]
async fn metrics_have_help_and_type_for_every_family() {
    let mut run = SimRun::new(&config(SESSION_AWARE, STEADY));
    run.run_until(600).await;
    let text = run.daemon.events.prometheus();
    let mut helped = std::collections::BTreeSet::new();
    let mut typed = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "{line}");
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            typed.insert(name.to_string(), kind.to_string());
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(name);
            assert!(typed.contains_key(family), "{line} has no TYPE:\n{text}");
        }
    }
    for family in [
        "autoscaler_ticks_total",
        "autoscaler_gather_failures_total",
        "autoscaler_drain_steps_total",
        "autoscaler_drain_retries_total",
        "autoscaler_drains_total",
        "autoscaler_policy_reloads_total",
        "autoscaler_policy_call_seconds",
    ] {
        assert!(helped.contains(family), "{family} has no HELP:\n{text}");
    }
    assert!(
        text.contains("autoscaler_ticks_total{service=\"e2e/web\"} 10"),
        "{text}"
    );
}
