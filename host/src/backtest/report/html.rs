//! The HTML page: one self-contained file (inline CSS and SVG, no scripts,
//! nothing fetched) with the scenario, the table of figures, an overview
//! chart of every run's tasks against the oracle, then per run: tasks,
//! load, CPU, and drains with lost sessions; and the figures' definitions.
//!
//! The page is a `maud` template, so every text it shows (a scenario's or a
//! policy's name among them) is escaped by construction; only the CSS and
//! the charts' SVG, which plotters escapes itself, go in as they are.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::charts::{self, Chart, Line, PALETTE, TimeAxis};
use crate::backtest::BacktestError;
use crate::backtest::compare::Comparison;
use crate::backtest::run::RunOutput;
use crate::backtest::table;

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.meta { color: #555; margin-top: 0; }
table.figures { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
table.figures th, table.figures td { border: 1px solid #ddd; padding: 0.35em 0.7em; text-align: right; }
table.figures th:first-child, table.figures td:first-child { text-align: left; }
table.figures thead th { background: #f4f4f4; }
table.figures td.bad { color: #b00; font-weight: 600; }
table.figures td.oracle, table.figures th.oracle { color: #666; font-style: italic; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
dl dt { font-weight: 600; margin-top: 0.6em; }
dl dd { margin-left: 1.2em; color: #444; }
"#;

/// The whole report.
pub fn page(c: &Comparison) -> Result<String, BacktestError> {
    let s = &c.scenario;
    let x = TimeAxis::for_duration(s.duration.as_secs());
    let labels: Vec<&str> = c.runs.iter().map(|r| r.label.as_str()).collect();
    // The charts are drawn first: drawing one can fail.
    let overview_svg = charts::draw(&overview(c, &x))?;
    let run_svgs = c
        .runs
        .iter()
        .map(|r| run_charts(r, c, &x).iter().map(charts::draw).collect())
        .collect::<Result<Vec<Vec<String>>, BacktestError>>()?;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Backtest: " (s.name) " (" (labels.join(" vs ")) ")" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Backtest: " (s.name) }
                p.meta {
                    (s.description) br;
                    "Seed " (s.world.seed) ", " (humantime::format_duration(s.duration))
                    " of simulated time, a tick every " (humantime::format_duration(s.interval))
                    ", " (s.sim.session_capacity) " sessions per task, guard min " (s.guard.min)
                    " / max " (s.guard.max) "; a task-hour costs $"
                    (format!("{:.5}", s.cost.task_hour_usd())) " (" (s.cost.task_vcpu)
                    " vCPU at $" (s.cost.vcpu_hour) "/vCPU-hour, " (s.cost.task_memory_gb)
                    " GB at $" (s.cost.gb_hour) "/GB-hour)."
                }
                h2 #figures { "Figures" }
                (figures_table(c))
                h2 #overview { "Running tasks, every policy against the oracle" }
                (figure(&overview_svg))
                @for (i, (r, svgs)) in c.runs.iter().zip(&run_svgs).enumerate() {
                    section.run id=(format!("run-{}", i + 1)) {
                        h2 { (r.label) }
                        p.meta {
                            "Policy " (r.policy.name) " " (r.policy.version) " (sha256 "
                            (&r.policy.sha256[..r.policy.sha256.len().min(16)]) ")"
                            @if r.reference {
                                ", run as the session-unaware reference: scale-in lowers the desired count and ECS picks which tasks stop, sessions or not"
                            }
                            "."
                        }
                        @for svg in svgs {
                            (figure(svg))
                        }
                    }
                }
                (definitions())
            }
        }
    };
    Ok(page.into_string())
}

/// A chart, as plotters drew it (plotters escapes the text in it).
fn figure(svg: &str) -> Markup {
    html! {
        figure { (PreEscaped(svg)) }
    }
}

fn figures_table(c: &Comparison) -> Markup {
    let rows = table::rows(c, true);
    let under_oracle = rows
        .iter()
        .any(|r| r.values.iter().any(|v| v.ends_with("x*")));
    html! {
        table.figures {
            thead {
                tr {
                    th { "figure" }
                    @for r in &c.runs {
                        th { (r.label) }
                    }
                    th.oracle { (table::ONLINE_HEADING) }
                    th.oracle { (table::PACKING_HEADING) }
                    th.oracle { (table::ORACLE_HEADING) }
                }
            }
            tbody {
                @for row in &rows {
                    tr {
                        td { (row.name) }
                        @for v in &row.values {
                            td class=[(row.lost_sessions && v != "0").then_some("bad")] { (v) }
                        }
                        td.oracle { (row.online) }
                        td.oracle { (row.packing) }
                        td.oracle { (row.oracle) }
                    }
                }
            }
        }
        @if under_oracle {
            p.meta { (table::FOOTNOTE) }
        }
    }
}

fn ints(v: &[u32]) -> impl ExactSizeIterator<Item = Option<f64>> + '_ {
    v.iter().map(|&n| Some(f64::from(n)))
}

fn oracle_line(r: &RunOutput, x: &TimeAxis) -> Line {
    Line {
        label: "oracle (fewest tasks that carry the sessions)".into(),
        color: PALETTE[7],
        points: charts::bucketed(x, r.series.oracle_tasks.iter().map(|&t| Some(f64::from(t)))),
        dashed: true,
        right_axis: false,
    }
}

fn packing_line(r: &RunOutput, x: &TimeAxis) -> Line {
    Line {
        label: "packing reference (clairvoyant placement)".into(),
        color: PALETTE[8],
        points: charts::bucketed(
            x,
            r.series.packing_tasks.iter().map(|&t| Some(f64::from(t))),
        ),
        dashed: true,
        right_axis: false,
    }
}

fn overview(c: &Comparison, x: &TimeAxis) -> Chart {
    let mut lines: Vec<Line> = c
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| Line {
            label: r.label.clone(),
            color: PALETTE[i % PALETTE.len()],
            points: charts::bucketed(x, ints(&r.series.running)),
            dashed: false,
            right_axis: false,
        })
        .collect();
    if let Some(first) = c.runs.first() {
        lines.push(packing_line(first, x));
        lines.push(oracle_line(first, x));
    }
    Chart {
        title: "Running tasks by policy".into(),
        y_label: "tasks running".into(),
        y2_label: None,
        y_max: None,
        x: *x,
        lines,
    }
}

fn run_charts(r: &RunOutput, c: &Comparison, x: &TimeAxis) -> Vec<Chart> {
    let s = &r.series;
    let line = |label: &str, color: usize, points, right_axis| Line {
        label: label.into(),
        color: PALETTE[color],
        points,
        dashed: false,
        right_axis,
    };
    let name = &r.label;
    let target = c.cpu_target;
    vec![
        Chart {
            title: format!("{name}: desired and running tasks"),
            y_label: "tasks".into(),
            y2_label: None,
            y_max: None,
            x: *x,
            lines: vec![
                line(
                    "desired count",
                    0,
                    charts::bucketed(x, ints(&s.desired)),
                    false,
                ),
                line("running", 2, charts::bucketed(x, ints(&s.running)), false),
                line(
                    "serving (running, not cordoned)",
                    9,
                    charts::bucketed(x, ints(&s.serving)),
                    false,
                ),
                line("cordoned", 6, charts::bucketed(x, ints(&s.cordoned)), false),
                packing_line(r, x),
                oracle_line(r, x),
            ],
        },
        Chart {
            title: format!("{name}: load"),
            y_label: "session arrivals per minute".into(),
            y2_label: Some("active sessions".into()),
            y_max: None,
            x: *x,
            lines: vec![
                line(
                    "arrivals per minute",
                    1,
                    charts::bucketed(x, ints(&s.arrivals)),
                    false,
                ),
                line(
                    "active sessions",
                    4,
                    charts::bucketed(x, ints(&s.sessions)),
                    true,
                ),
            ],
        },
        Chart {
            title: format!("{name}: service CPU (as published, per minute)"),
            y_label: "CPU utilization (%)".into(),
            y2_label: None,
            y_max: Some(100.0),
            x: *x,
            lines: vec![
                line(
                    "CPU",
                    3,
                    charts::bucketed(x, s.cpu.iter().map(|c| c.map(f64::from))),
                    false,
                ),
                Line {
                    label: format!("target ({target:.0}%)"),
                    color: plotters::style::RGBColor(0, 0, 0),
                    points: vec![(0.0, Some(target)), (x.end, Some(target))],
                    dashed: true,
                    right_axis: false,
                },
            ],
        },
        Chart {
            title: format!("{name}: drains and lost sessions (running totals)"),
            y_label: "count since start".into(),
            y2_label: None,
            y_max: None,
            x: *x,
            // Started is dashed and drawn last, so it shows over "stopped" when they agree.
            lines: vec![
                line(
                    "drains stopped (task left)",
                    2,
                    charts::cumulative(x, &s.drains_stopped),
                    false,
                ),
                line(
                    "drains aborted or rolled back",
                    1,
                    charts::cumulative(x, &s.drains_aborted),
                    false,
                ),
                line(
                    "sessions killed",
                    3,
                    charts::cumulative(x, &s.killed),
                    false,
                ),
                line(
                    "sessions cut by the load balancer",
                    6,
                    charts::cumulative(x, &s.cut),
                    false,
                ),
                line(
                    "sessions refused",
                    5,
                    charts::cumulative(x, &s.refused),
                    false,
                ),
                Line {
                    dashed: true,
                    ..line(
                        "drains started",
                        0,
                        charts::cumulative(x, &s.drains_started),
                        false,
                    )
                },
            ],
        },
    ]
}

fn definitions() -> Markup {
    html! {
        h2 #definitions { "What the figures mean" }
        dl {
            @for (term, meaning) in DEFINITIONS {
                dt { (term) }
                dd { (meaning) }
            }
        }
    }
}

/// Each figure and what it means.
const DEFINITIONS: [(&str, &str); 14] = [
    (
        "task-hours, cost",
        "Billed task time, from each task's launch to STOPPED, as Fargate bills; cost is task-hours times the task-hour price shown above.",
    ),
    (
        "oracle (limit)",
        "The fewest task-hours that could carry every session, knowing all arrivals and lengths in hindsight: at each second, ceil(active sessions / sessions per task) tasks, never fewer than the guard's min, with instant start-up and free repacking. No policy that carries every session can cost less; \"cost vs oracle\" is each run's task-hours over it. A run that refuses or kills sessions may come in under it.",
    ),
    (
        "packing (reference)",
        "A clairvoyant placement without migration, on the same sessions (refused ones included): each session goes, for good, to the open task with room whose latest session end is closest to its own end (preferably not before it), a task opens when none has room and stops when its last session ends; no start-up delay, no buffer, never fewer than the guard's min. It is a reference, not a bound: it knows every session's end, which no autoscaler does, yet a cleverer placement could do better. The gap between it and the oracle is the price of not moving sessions between tasks.",
    ),
    (
        "online packing (reference)",
        "A placement that knows no session's length, on the same sessions: each session goes, for good, to the fullest open task with room (depth-first, as Agones' Packed strategy and Azure Virtual Desktop place sessions), a task opens when none has room and stops the moment its last session ends; no start-up delay, no buffer, never fewer than the guard's min. A policy only steers a load balancer by cordoning, so it does worse than placing each session itself. The gap between it and the packing reference is the price of not knowing how long sessions last; it is a reference, not a bound.",
    ),
    (
        "sessions killed by scale-in",
        "Sessions still active when their task was stopped. A safety figure: a session-aware scale-in should keep it at 0.",
    ),
    (
        "sessions cut by the load balancer",
        "Sessions still on a running task when its deregistered target's delay ended behind an Application Load Balancer (or a Network Load Balancer with connection termination): the load balancer closed them. The other safety figure: a cordoning policy must uncordon before the delay ends and keep it at 0.",
    ),
    (
        "cordons / uncordons, task-hours cordoned",
        "Tasks cordoned (no new sessions, keeping their own until the last ends) and uncordoned (serving again), from the decision records; task-hours cordoned sums the cordoned tasks at each tick over the time to the next. The charts show the serving tasks (running, not cordoned) and the cordoned ones.",
    ),
    (
        "sessions redirected",
        "Sessions the load balancer sent to a task whose application was cordoned, refused there and carried by another task.",
    ),
    (
        "sessions refused",
        "Arrivals that found no healthy task with room (too few tasks, or tasks still starting).",
    ),
    (
        "minutes CPU over target",
        "Minutes whose service CPU, as the metrics published it, was over the target.",
    ),
    (
        "scale-outs / scale-ins",
        "Ticks whose guarded action was carried out: a raised desired count; drains started, or for the reference a lowered desired count.",
    ),
    (
        "drains",
        "Drain workflows started; finished as stopped (the task left), aborted (a session appeared during the drain, the task rejoined the pool) or rolled back (an error or the deadline).",
    ),
    (
        "reaction p50 / p95, overload episodes",
        "A minute is overloaded when its published CPU is over the target or a session was refused in it. An episode starts at the first overloaded minute after a calm one; its reaction time runs from that minute's start to the first scale-out at or after it (publication delay included). Overloads that return before that scale-out belong to the same episode. Episodes with no later scale-out are counted but unanswered.",
    ),
    (
        "policy faults, call time",
        "Ticks whose policy call faulted (the tick held); the policy call's wall time (mean and 95th percentile), which varies by machine.",
    ),
];
