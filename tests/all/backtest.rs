//! Backtests and A/B comparisons: scenarios through the real daemon on the
//! simulated cluster, their figures, the oracle, the report, recording a
//! trace and replaying it, and the command line's errors. Layer: sim.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use autoscaler::artifacts::{CONSOLIDATE, SESSION_AWARE, TARGET_TRACKING};
use autoscaler::backtest::compare::{self, Comparison, Options, PolicyChoice, Silent};
use autoscaler::backtest::{Scenario, report};
use autoscaler::runtime::{Limits, PolicyEngine};

use crate::sim_run::config as config_for;
use crate::support::test_cache;

/// An engine as the backtest commands make it: fuel bounds calls, the
/// wall-clock deadline is a generous backstop.
fn engine() -> PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let limits = Limits {
                timeout: Duration::from_secs(2),
                ..Limits::default()
            };
            PolicyEngine::new(limits, Some(test_cache())).expect("engine")
        })
        .clone()
}

fn scenario(name: &str, duration: &str) -> Scenario {
    Scenario::resolve(name)
        .expect("a built-in scenario")
        .with_overrides(
            None,
            Some(humantime::parse_duration(duration).unwrap()),
            &Default::default(),
        )
        .expect("valid overrides")
}

fn run(s: &Scenario, choices: &[PolicyChoice]) -> Comparison {
    compare::compare(s, choices, &engine(), &Options::default(), &Silent)
        .expect("the comparison runs")
}

fn file(p: &str) -> PolicyChoice {
    PolicyChoice::File(PathBuf::from(p))
}

fn reference() -> PolicyChoice {
    PolicyChoice::Reference(PathBuf::from(TARGET_TRACKING))
}

/// The RDP week's first two days, session-aware against the reference (run once, shared).
fn rdp() -> &'static Comparison {
    static RDP: OnceLock<Comparison> = OnceLock::new();
    RDP.get_or_init(|| {
        run(
            &scenario("rdp-workday", "2d"),
            &[file(SESSION_AWARE), reference()],
        )
    })
}

/// Runs the command line; `simulate` and `compare` share the tests' compiled-component cache.
fn cli(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autoscaler"));
    cmd.args(args);
    if matches!(args.first(), Some(&"simulate" | &"compare")) && !args.contains(&"--list-scenarios")
    {
        cmd.args(["--cache-dir", test_cache().to_str().unwrap()]);
    }
    cmd.output().expect("the autoscaler binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_same_seed_gives_byte_identical_json() {
    let args = [
        "simulate",
        "--policy",
        SESSION_AWARE,
        "--scenario",
        "sawtooth",
        "--duration",
        "6h",
        "--json",
        "--no-timing",
    ];
    let a = cli(&args);
    let b = cli(&args);
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout, "two runs of the same seed differ");
    let json: serde_json::Value = serde_json::from_slice(&a.stdout).expect("JSON");
    let run = &json["runs"][0];
    assert_eq!(run["figures"]["ticks"], 360);
    assert!(
        run.get("timing").is_none(),
        "--no-timing leaves wall-clock figures out"
    );
    assert!(run["figures"]["scale_outs"].as_u64().unwrap() > 0, "{run}");

    let mut other = args.to_vec();
    other.extend(["--seed", "2"]);
    let c = cli(&other);
    let other: serde_json::Value = serde_json::from_slice(&c.stdout).expect("JSON");
    assert_eq!(other["scenario"]["seed"], 2);
    assert_ne!(
        other["runs"][0]["figures"]["arrivals_digest"], run["figures"]["arrivals_digest"],
        "another seed, other users"
    );
}

#[test]
fn every_policy_in_a_comparison_faces_the_same_arrivals() {
    let c = run(
        &scenario("sawtooth", "12h"),
        &[file(SESSION_AWARE), file(TARGET_TRACKING), reference()],
    );
    assert_eq!(c.runs.len(), 3);
    let first = &c.runs[0].figures;
    assert!(first.sessions.arrived > 1000, "{first:?}");
    for r in &c.runs {
        let f = &r.figures;
        assert_eq!(f.arrivals_digest, first.arrivals_digest, "{}", r.label);
        assert_eq!(f.sessions.arrived, first.sessions.arrived, "{}", r.label);
        assert_eq!(
            f.sessions.started + f.sessions.refused,
            f.sessions.arrived,
            "{}: every arrival either landed or was refused",
            r.label
        );
        assert_eq!(r.oracle, c.oracle, "{}: one oracle for all", r.label);
    }
    // The same users, yet the policies did act differently.
    assert_ne!(c.runs[0].figures.task_hours, c.runs[1].figures.task_hours);
    assert_eq!(c.runs[2].label, "AWS-style (session-unaware)");
    assert!(c.runs[2].reference);
}

#[test]
fn on_the_rdp_workday_session_aware_kills_none_and_the_reference_kills_some() {
    let c = rdp();
    let (aware, aws) = (&c.runs[0].figures, &c.runs[1].figures);
    assert_eq!(c.runs[0].label, "session-aware");
    assert_eq!(aware.sessions.killed, 0, "{aware:?}");
    assert!(
        aware.drains.stopped > 10,
        "it did scale in, by draining: {aware:?}"
    );
    assert!(aws.sessions.killed > 0, "{aws:?}");
    assert!(aws.scale_ins > 0 && aws.drains.started == 0, "{aws:?}");
}

/// Consolidation on the RDP week's first two days: cordoning busy tasks (here
/// by deregistering their targets behind the sim's NLB) loses no session and
/// costs less than waiting for idle tasks.
#[test]
fn on_the_rdp_workday_consolidate_kills_and_cuts_none_and_costs_less_than_session_aware() {
    let c = run(
        &scenario("rdp-workday", "2d"),
        &[file(SESSION_AWARE), file(CONSOLIDATE)],
    );
    let (aware, packed) = (&c.runs[0].figures, &c.runs[1].figures);
    assert_eq!(c.runs[1].label, "consolidate");
    assert_eq!(packed.sessions.killed, 0, "{packed:?}");
    assert_eq!(packed.sessions.cut, 0, "{packed:?}");
    assert!(
        packed.sessions.refused * 100 <= packed.sessions.arrived,
        "refused at most 1 %: {packed:?}"
    );
    assert!(packed.cordons.cordons > 0, "it cordoned: {packed:?}");
    assert!(
        packed.task_hours < aware.task_hours * 0.95,
        "consolidate {} task-hours, session-aware {}",
        packed.task_hours,
        aware.task_hours
    );
}

/// The oracle is a lower bound on the cost of carrying every session: a run
/// that refused and killed none costs at least as much; only a run that lost
/// sessions may cost less.
#[test]
fn no_run_that_carried_every_session_costs_less_than_the_oracle() {
    let mut carried_all = Vec::new();
    let comparisons = [
        rdp().clone(),
        run(
            &scenario("diurnal-week", "2d"),
            &[file(SESSION_AWARE), file(TARGET_TRACKING)],
        ),
        run(
            &scenario("slow-ramp", "1d"),
            &[file(SESSION_AWARE), file(TARGET_TRACKING)],
        ),
        run(
            &scenario("flash-crowd", "1d"),
            &[file(SESSION_AWARE), file(TARGET_TRACKING)],
        ),
    ];
    for c in &comparisons {
        assert!(c.oracle.task_hours > 0.0);
        for r in &c.runs {
            let f = &r.figures;
            let lost = f.sessions.killed + f.sessions.refused;
            let name = format!("{}/{}", c.scenario.name, r.label);
            assert!(
                f.task_hours >= c.oracle.task_hours || lost > 0,
                "{name}: {} task-hours, under the oracle's {} without losing a session",
                f.task_hours,
                c.oracle.task_hours
            );
            assert_eq!(
                f.vs_oracle >= 1.0,
                f.task_hours >= c.oracle.task_hours,
                "{name}"
            );
            if lost == 0 {
                carried_all.push(name.clone());
            }
            assert!(
                c.packing.task_hours >= c.oracle.task_hours,
                "{name}: the packing reference places without migration, so never under the oracle"
            );
            assert_eq!(
                r.packing, c.packing,
                "{name}: one packing reference for all"
            );
        }
    }
    assert!(
        carried_all.len() >= 4,
        "too few runs carried every session for the bound to be tested: {carried_all:?}"
    );
}

#[test]
fn the_report_escapes_a_hostile_scenario_or_policy_name() {
    let mut c = run(&scenario("flash-crowd", "1h"), &[file(SESSION_AWARE)]);
    let hostile = "<script>alert(\"x\")</script> & <img src=x onerror=alert(1)>";
    c.scenario.name = hostile.into();
    c.scenario.description = hostile.into();
    c.runs[0].label = hostile.into();
    c.runs[0].policy.name = hostile.into();
    c.runs[0].policy.version = hostile.into();
    let html = report::html::page(&c).expect("the page renders");
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "a name reached the page unescaped"
    );
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;";
    // The title (name and label), the heading, the description, the table's
    // column, the run's heading, the policy's name and version, and the
    // charts' titles and legends (plotters escapes those).
    let n = html.matches(escaped).count();
    assert!(n >= 8, "{n} escaped names in {html}");
}

#[test]
fn the_report_has_the_table_and_charts_for_every_policy() {
    let c = run(
        &scenario("flash-crowd", "3h"),
        &[file(SESSION_AWARE), file(TARGET_TRACKING), reference()],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    report::write(&c, &path).expect("written");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<table class=\"figures\">"));
    for row in [
        "task-hours",
        "sessions killed by scale-in",
        "sessions cut by the load balancer",
        "cost vs oracle",
        "cost vs packing reference",
        "cordons / uncordons",
        "task-hours cordoned",
        "reaction p50 / p95",
    ] {
        assert!(
            html.contains(&format!("<td>{row}</td>")),
            "missing row {row}"
        );
    }
    let sections: Vec<&str> = html.split("<section class=\"run\"").skip(1).collect();
    assert_eq!(sections.len(), 3);
    for (section, r) in sections.iter().zip(&c.runs) {
        let label = maud::html! { (r.label) }.into_string();
        assert!(
            html.contains(&format!("<th>{label}</th>")),
            "a table column for {label}"
        );
        assert!(section.contains(&format!("<h2>{label}</h2>")));
        assert_eq!(
            section.matches("<svg").count(),
            4,
            "{label}: tasks, load, CPU, drains"
        );
        for title in [
            "desired and running tasks",
            "load",
            "service CPU",
            "drains and lost sessions",
        ] {
            assert!(section.contains(title), "{label}: no {title} chart");
        }
        for axis in [
            "tasks",
            "session arrivals per minute",
            "active sessions",
            "CPU utilization (%)",
            "time since start (hours)",
        ] {
            assert!(section.contains(axis), "{label}: no axis {axis}");
        }
    }
    assert_eq!(
        html.matches("<svg").count(),
        1 + 4 * 3,
        "the overview and four per run"
    );
    assert!(
        !html.contains("<script") && !html.contains(" src="),
        "self-contained"
    );
    assert!(html.contains("<th class=\"oracle\">packing (reference)</th>"));
    for line in [
        "serving (running, not cordoned)",
        "cordoned",
        "packing reference",
    ] {
        assert!(html.contains(line), "no {line} line in the charts");
    }
}

/// An exact-sessions file: every policy faces exactly its sessions, and the
/// oracle and the packing reference are computed on them.
#[test]
fn an_exact_sessions_file_is_replayed_identically_for_every_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("day.csv");
    let mut text = String::from("start_s,duration_s,task_hint\n");
    let mut x: u64 = 7;
    let mut n = 0;
    for minute in 0..(12 * 60u64) {
        // A deterministic pseudo-random day: 0-4 sessions a minute, 5-120 minutes long.
        for _ in 0..(x % 5) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let start = minute * 60 + (x >> 33) % 60;
            let len = 300 + (x >> 20) % 7000;
            text.push_str(&format!("{start},{len},t{}\n", x % 9));
            n += 1;
        }
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
    std::fs::write(&path, text).unwrap();
    let s = Scenario::resolve(path.to_str().unwrap()).expect("a sessions file is a scenario");
    let c = run(&s, &[file(SESSION_AWARE), file(TARGET_TRACKING)]);
    for r in &c.runs {
        let f = &r.figures;
        assert_eq!(
            f.sessions.arrived, n,
            "{}: every session of the file",
            r.label
        );
        assert_eq!(f.arrivals_digest, c.runs[0].figures.arrivals_digest);
        assert_eq!(r.oracle, c.oracle);
        assert_eq!(r.packing, c.packing);
    }
    assert!(c.packing.task_hours >= c.oracle.task_hours);
    let json: serde_json::Value = serde_json::from_str(&c.to_json(false)).unwrap();
    assert!(json["packing_reference"]["task_hours"].as_f64().unwrap() > 0.0);
    assert!(json["runs"][0]["figures"]["vs_packing"].as_f64().unwrap() > 0.0);
    assert_eq!(json["runs"][0]["figures"]["sessions"]["cut"], 0);
}

/// Behind an ALB, the shipped policies cut no session: their drains only
/// take idle tasks, and the reference's scale-ins kill (not cut) sessions.
#[test]
fn behind_an_alb_the_shipped_policies_cut_no_session() {
    let mut s = scenario("rdp-workday", "2d");
    s.sim.load_balancer = autoscaler::sim::SimLoadBalancer::Application;
    let c = run(
        &s,
        &[
            file(SESSION_AWARE),
            file(TARGET_TRACKING),
            reference(),
            file(CONSOLIDATE),
        ],
    );
    for r in &c.runs {
        assert_eq!(r.figures.sessions.cut, 0, "{}: {:?}", r.label, r.figures);
    }
    // Its deregister-cordons were uncordoned before the ALB's delay ended.
    assert_eq!(c.runs[3].figures.sessions.killed, 0);
    // And with the application refusing new sessions instead:
    s.cordon = autoscaler::workflow::CordonMode::App;
    let app = run(&s, &[file(CONSOLIDATE)]);
    let f = &app.runs[0].figures;
    assert_eq!((f.sessions.cut, f.sessions.killed), (0, 0), "{f:?}");
    assert!(f.cordons.cordons > 0, "{f:?}");
    assert_eq!(c.runs[0].figures.sessions.killed, 0);
    assert!(
        c.runs[2].figures.sessions.killed > 0,
        "the reference still kills"
    );
}

#[test]
fn a_recorded_trace_replays_the_traffic_it_saw() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rec.toml");
    let body = r#"
[service.params]
session-capacity = 25
[service.guard]
min = 2
max = 60
[service.sim]
initial_tasks = 10
session_capacity = 25
session_mean = "30m"
workload = { kind = "steady", per_min = 20.0 }
"#;
    std::fs::write(
        &config,
        format!("state_dir = \"state\"\n{}", config_for(SESSION_AWARE, body)),
    )
    .unwrap();
    let trace = dir.path().join("web.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args([
            "record",
            "--config",
            config.to_str().unwrap(),
            "--out",
            trace.to_str().unwrap(),
            "--duration",
            "6h",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Wrote 360 minutes"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 360);
    let arrivals: f64 = lines
        .iter()
        .map(|l| l["arrivals_per_min"].as_f64().unwrap())
        .sum();
    let per_min = arrivals / 360.0;
    assert!(
        (per_min - 20.0).abs() < 2.0,
        "20 a minute were offered, {per_min:.2} recorded"
    );
    let mean = lines[359]["mean_session_s"]
        .as_f64()
        .expect("an estimate by the end");
    assert!(
        (mean - 1800.0).abs() < 450.0,
        "30-minute sessions, estimated {mean}"
    );

    // The trace replays as a scenario with as many arrivals.
    let replay = Scenario::resolve(trace.to_str().unwrap()).expect("a trace scenario");
    assert_eq!(replay.duration.as_secs(), 6 * 3600);
    let c = run(&replay, &[file(SESSION_AWARE)]);
    let replayed = c.runs[0].figures.sessions.arrived as f64;
    assert!(
        (replayed - arrivals).abs() < 0.1 * arrivals,
        "recorded {arrivals}, replayed {replayed}"
    );
}

/// `record --sessions` writes one line per session the store saw, and the
/// file replays as a scenario with exactly those sessions.
#[test]
fn recorded_exact_sessions_replay_one_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rec.toml");
    let body = r#"
[service.params]
session-capacity = 25
[service.sim]
initial_tasks = 4
session_capacity = 25
session_mean = "20m"
workload = { kind = "steady", per_min = 10.0 }
"#;
    std::fs::write(
        &config,
        format!("state_dir = \"state\"\n{}", config_for(SESSION_AWARE, body)),
    )
    .unwrap();
    let out_file = dir.path().join("day.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args([
            "record",
            "--sessions",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
            "--duration",
            "2h",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&out_file).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("start_s,duration_s,task_hint"));
    let sessions: Vec<(u64, u64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap())
        })
        .collect();
    // About 10 a minute for two hours were offered.
    assert!(
        (1000..1400).contains(&sessions.len()),
        "{} sessions recorded",
        sessions.len()
    );
    let odd: Vec<&(u64, u64)> = sessions
        .iter()
        .filter(|&&(start, d)| start > 7200 || d == 0)
        .collect();
    assert!(odd.is_empty(), "{odd:?}");

    let replay = Scenario::resolve(out_file.to_str().unwrap()).expect("a sessions scenario");
    let c = run(&replay, &[file(SESSION_AWARE)]);
    assert_eq!(
        c.runs[0].figures.sessions.arrived,
        sessions.len() as u64,
        "every recorded session arrives once in the replay"
    );
}

#[test]
fn bad_inputs_are_refused_naming_what_is_wrong() {
    let o = cli(&[
        "simulate",
        "--policy",
        SESSION_AWARE,
        "--scenario",
        "no-such-thing",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("unknown scenario `no-such-thing`") && e.contains("rdp-workday"),
        "{e}"
    );

    let o = cli(&[
        "simulate",
        "--policy",
        "/nonexistent/policy.wasm",
        "--scenario",
        "steady",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("/nonexistent/policy.wasm") && e.contains("cannot find the policy component"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("bad.jsonl");
    std::fs::write(
        &trace,
        "{\"t\": 0, \"arrivals_per_min\": 2}\n{\"t\": 60, \"arivals_per_min\": 2}\n",
    )
    .unwrap();
    let o = cli(&[
        "simulate",
        "--policy",
        SESSION_AWARE,
        "--scenario",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.jsonl") && e.contains("line 2") && e.contains("`arivals_per_min`"),
        "{e}"
    );

    let o = cli(&["compare", "--scenario", "steady", SESSION_AWARE]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--reference"), "{}", stderr(&o));

    let o = cli(&[
        "simulate",
        "--policy",
        SESSION_AWARE,
        "--scenario",
        "steady",
        "--duration",
        "30s",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`duration`"), "{}", stderr(&o));
}

#[test]
fn scenarios_are_listed_one_a_line() {
    let o = cli(&["scenarios"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for name in [
        "steady",
        "diurnal-week",
        "flash-crowd",
        "slow-ramp",
        "sawtooth",
        "rdp-workday",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    let o2 = cli(&["simulate", "--list-scenarios"]);
    assert_eq!(o.stdout, o2.stdout);
}

#[test]
fn compare_prints_a_table_and_writes_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("ab.html");
    let o = cli(&[
        "compare",
        "--scenario",
        "steady",
        "--duration",
        "2h",
        SESSION_AWARE,
        "--reference",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let header = text
        .lines()
        .find(|l| l.contains("oracle (limit)"))
        .expect("a header");
    assert!(
        header.contains("session-aware") && header.contains("AWS-style (session-unaware)"),
        "{text}"
    );
    for row in [
        "task-hours",
        "cost (USD)",
        "sessions killed by scale-in",
        "policy call mean / p95",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "no {row} row:\n{text}"
        );
    }
    assert!(report.is_file() && Path::new(&report).metadata().unwrap().len() > 10_000);
}
