//! The HTML page: one self-contained file (inline CSS and SVG, no scripts,
//! nothing fetched) with the scenario, the table of figures, an overview
//! chart of every run's tasks against the oracle, then per run: tasks,
//! load, CPU, and drains with lost sessions; and the figures' definitions.

use std::fmt::Write;

use super::charts::{self, Chart, Line, PALETTE, TimeAxis};
use crate::backtest::BacktestError;
use crate::backtest::compare::Comparison;
use crate::backtest::run::RunOutput;
use crate::backtest::table;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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
    let mut h = String::with_capacity(256 * 1024);
    let labels: Vec<String> = c.runs.iter().map(|r| r.label.clone()).collect();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Backtest: {} ({})</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&s.name),
        escape(&labels.join(" vs "))
    );
    let _ = write!(
        h,
        "<h1>Backtest: {}</h1>\n<p class=\"meta\">{}<br>Seed {}, {} of simulated time, a tick every {}, {} sessions per task, guard min {} / max {}; a task-hour costs ${:.5} ({} vCPU at ${}/vCPU-hour, {} GB at ${}/GB-hour).</p>\n",
        escape(&s.name),
        escape(&s.description),
        s.world.seed,
        humantime::format_duration(s.duration),
        humantime::format_duration(s.interval),
        s.sim.session_capacity,
        s.guard.min,
        s.guard.max,
        s.cost.task_hour_usd(),
        s.cost.task_vcpu,
        s.cost.vcpu_hour,
        s.cost.task_memory_gb,
        s.cost.gb_hour,
    );
    h.push_str("<h2 id=\"figures\">Figures</h2>\n");
    figures_table(&mut h, c);
    h.push_str("<h2 id=\"overview\">Running tasks, every policy against the oracle</h2>\n");
    figure(&mut h, &charts::draw(&overview(c, &x))?);
    for (i, r) in c.runs.iter().enumerate() {
        let _ = writeln!(
            h,
            "<section class=\"run\" id=\"run-{}\">\n<h2>{}</h2>\n<p class=\"meta\">Policy {} {} (sha256 {}){}.</p>",
            i + 1,
            escape(&r.label),
            escape(&r.policy.name),
            escape(&r.policy.version),
            escape(&r.policy.sha256[..r.policy.sha256.len().min(16)]),
            if r.reference {
                ", run as the session-unaware reference: scale-in lowers the desired count and ECS picks which tasks stop, sessions or not"
            } else {
                ""
            }
        );
        for chart in run_charts(r, c, &x) {
            figure(&mut h, &charts::draw(&chart)?);
        }
        h.push_str("</section>\n");
    }
    h.push_str(DEFINITIONS);
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

fn figure(h: &mut String, svg: &str) {
    h.push_str("<figure>\n");
    h.push_str(svg);
    h.push_str("\n</figure>\n");
}

fn figures_table(h: &mut String, c: &Comparison) {
    h.push_str("<table class=\"figures\">\n<thead><tr><th>figure</th>");
    for r in &c.runs {
        let _ = write!(h, "<th>{}</th>", escape(&r.label));
    }
    let _ = write!(
        h,
        "<th class=\"oracle\">{}</th><th class=\"oracle\">{}</th></tr></thead>\n<tbody>\n",
        table::PACKING_HEADING,
        table::ORACLE_HEADING
    );
    for row in table::rows(c, true) {
        let _ = write!(h, "<tr><td>{}</td>", escape(&row.name));
        let bad = row.lost_sessions;
        for v in &row.values {
            let class = if bad && v != "0" {
                " class=\"bad\""
            } else {
                ""
            };
            let _ = write!(h, "<td{class}>{}</td>", escape(v));
        }
        let _ = writeln!(
            h,
            "<td class=\"oracle\">{}</td><td class=\"oracle\">{}</td></tr>",
            escape(&row.packing),
            escape(&row.oracle)
        );
    }
    h.push_str("</tbody>\n</table>\n");
    if h.contains("x*</td>") {
        let _ = writeln!(h, "<p class=\"meta\">{}</p>", escape(table::FOOTNOTE));
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

const DEFINITIONS: &str = r#"<h2 id="definitions">What the figures mean</h2>
<dl>
<dt>task-hours, cost</dt><dd>Billed task time, from each task's launch to STOPPED, as Fargate bills; cost is task-hours times the task-hour price shown above.</dd>
<dt>oracle (limit)</dt><dd>The fewest task-hours that could carry every session, knowing all arrivals and lengths in hindsight: at each second, ceil(active sessions / sessions per task) tasks, never fewer than the guard's min, with instant start-up and free repacking. No policy that carries every session can cost less; "cost vs oracle" is each run's task-hours over it. A run that refuses or kills sessions may come in under it.</dd>
<dt>packing (reference)</dt><dd>A clairvoyant placement without migration, on the same sessions (refused ones included): each session goes, for good, to the open task with room whose latest session end is closest to its own end (preferably not before it), a task opens when none has room and stops when its last session ends; no start-up delay, no buffer, never fewer than the guard's min. It is a reference, not a bound: it knows every session's end, which no autoscaler does, yet a cleverer placement could do better. The gap between it and the oracle is the price of not moving sessions between tasks.</dd>
<dt>sessions killed by scale-in</dt><dd>Sessions still active when their task was stopped. A safety figure: a session-aware scale-in should keep it at 0.</dd>
<dt>sessions cut by the load balancer</dt><dd>Sessions still on a running task when its deregistered target's delay ended behind an Application Load Balancer (or a Network Load Balancer with connection termination): the load balancer closed them. The other safety figure: a cordoning policy must uncordon before the delay ends and keep it at 0.</dd>
<dt>cordons / uncordons, task-hours cordoned</dt><dd>Tasks cordoned (no new sessions, keeping their own until the last ends) and uncordoned (serving again), from the decision records; task-hours cordoned sums the cordoned tasks at each tick over the time to the next. The charts show the serving tasks (running, not cordoned) and the cordoned ones.</dd>
<dt>sessions redirected</dt><dd>Sessions the load balancer sent to a task whose application was cordoned, refused there and carried by another task.</dd>
<dt>sessions refused</dt><dd>Arrivals that found no healthy task with room (too few tasks, or tasks still starting).</dd>
<dt>minutes CPU over target</dt><dd>Minutes whose service CPU, as the metrics published it, was over the target.</dd>
<dt>scale-outs / scale-ins</dt><dd>Ticks whose guarded action was carried out: a raised desired count; drains started, or for the reference a lowered desired count.</dd>
<dt>drains</dt><dd>Drain workflows started; finished as stopped (the task left), aborted (a session appeared during the drain, the task rejoined the pool) or rolled back (an error or the deadline).</dd>
<dt>reaction p50 / p95, overload episodes</dt><dd>A minute is overloaded when its published CPU is over the target or a session was refused in it. An episode starts at the first overloaded minute after a calm one; its reaction time runs from that minute's start to the first scale-out at or after it (publication delay included). Overloads that return before that scale-out belong to the same episode. Episodes with no later scale-out are counted but unanswered.</dd>
<dt>policy faults, call time</dt><dd>Ticks whose policy call faulted (the tick held); the policy call's wall time (mean and 95th percentile), which varies by machine.</dd>
</dl>
"#;
