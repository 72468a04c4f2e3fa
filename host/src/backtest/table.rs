//! The side-by-side table of figures: one row per figure, one column per
//! run, then the online packing reference's, the packing reference's and
//! the oracle's last. The text
//! table and the HTML report share its rows.

use comfy_table::Table;
use comfy_table::presets::NOTHING;

use super::compare::Comparison;
use super::figures::Reaction;

/// One row: the figure's name, each run's value, then the references'.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The figure, with its unit.
    pub name: String,
    /// Each run's value, in run order.
    pub values: Vec<String>,
    /// The online packing reference's value ("-" where it has none).
    pub online: String,
    /// The packing reference's value ("-" where it has none).
    pub packing: String,
    /// The oracle's value ("-" where it has none).
    pub oracle: String,
    /// Whether the figure counts lost sessions: a run's value other than 0 is bad.
    pub lost_sessions: bool,
}

/// The online packing reference's column heading.
pub const ONLINE_HEADING: &str = "online packing (reference)";
/// The packing reference's column heading.
pub const PACKING_HEADING: &str = "packing (reference)";
/// The oracle's column heading.
pub const ORACLE_HEADING: &str = "oracle (limit)";

/// A duration in seconds, short: "45s", "3m 20s", "1h 05m".
pub fn short_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn reaction(r: &Reaction) -> String {
    match (r.p50_s, r.p95_s) {
        (Some(a), Some(b)) => format!("{} / {}", short_duration(a), short_duration(b)),
        _ => "-".into(),
    }
}

/// The rows of the comparison's table. `timing` adds the wall-clock rows.
pub fn rows(c: &Comparison, timing: bool) -> Vec<Row> {
    let (o, p, n) = (&c.oracle, &c.packing, &c.online_packing);
    let over = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "-".into()
        }
    };
    let mut rows = Vec::new();
    // `refs`: the online packing reference's, the packing reference's and the oracle's values.
    let mut both = |name: &str, f: &dyn Fn(&super::run::RunOutput) -> String, refs: [String; 3]| {
        let [online, packing, oracle] = refs;
        rows.push(Row {
            name: name.to_string(),
            values: c.runs.iter().map(f).collect(),
            online,
            packing,
            oracle,
            lost_sessions: false,
        });
    };
    both(
        "task-hours",
        &|r| format!("{:.1}", r.figures.task_hours),
        [
            format!("{:.1}", n.task_hours),
            format!("{:.1}", p.task_hours),
            format!("{:.1}", o.task_hours),
        ],
    );
    both(
        "cost (USD)",
        &|r| format!("{:.2}", r.figures.cost_usd),
        [
            format!("{:.2}", n.cost_usd),
            format!("{:.2}", p.cost_usd),
            format!("{:.2}", o.cost_usd),
        ],
    );
    both(
        "cost vs oracle",
        &|r| {
            let f = &r.figures;
            let lost = f.sessions.killed + f.sessions.cut + f.sessions.refused > 0;
            let mark = if f.vs_oracle < 1.0 && lost { "*" } else { "" };
            format!("{:.2}x{mark}", f.vs_oracle)
        },
        [
            format!("{:.2}x", n.vs_oracle),
            format!("{:.2}x", p.vs_oracle),
            "1.00x".into(),
        ],
    );
    both(
        "cost vs online packing",
        &|r| format!("{:.2}x", r.figures.vs_online_packing),
        [
            "1.00x".into(),
            over(p.task_hours, n.task_hours),
            over(o.task_hours, n.task_hours),
        ],
    );
    both(
        "cost vs packing reference",
        &|r| format!("{:.2}x", r.figures.vs_packing),
        [
            over(n.task_hours, p.task_hours),
            "1.00x".into(),
            over(o.task_hours, p.task_hours),
        ],
    );
    both(
        "peak tasks",
        &|r| r.figures.peak_tasks.to_string(),
        [
            n.peak_tasks.to_string(),
            p.peak_tasks.to_string(),
            o.peak_tasks.to_string(),
        ],
    );
    // The references carry every session: their value is the oracle's, or none.
    let mut row = |name: &str, f: &dyn Fn(&super::run::RunOutput) -> String, oracle: String| {
        rows.push(Row {
            name: name.to_string(),
            values: c.runs.iter().map(f).collect(),
            online: oracle.clone(),
            packing: oracle.clone(),
            oracle,
            lost_sessions: false,
        });
        rows.len() - 1
    };
    let arrived = c.runs.first().map_or(0, |r| r.figures.sessions.arrived);
    row(
        "sessions arrived",
        &|r| count(r.figures.sessions.arrived),
        count(arrived),
    );
    let killed = row(
        "sessions killed by scale-in",
        &|r| count(r.figures.sessions.killed),
        "0".into(),
    );
    let cut = row(
        "sessions cut by the load balancer",
        &|r| count(r.figures.sessions.cut),
        "0".into(),
    );
    let refused = row(
        "sessions refused (no capacity)",
        &|r| count(r.figures.sessions.refused),
        "0".into(),
    );
    row(
        &format!("minutes CPU over {:.0}%", c.cpu_target),
        &|r| count(r.figures.cpu_over_target_minutes),
        "-".into(),
    );
    row(
        "scale-outs / scale-ins",
        &|r| format!("{} / {}", r.figures.scale_outs, r.figures.scale_ins),
        "-".into(),
    );
    row(
        "drains started / stopped",
        &|r| {
            format!(
                "{} / {}",
                r.figures.drains.started, r.figures.drains.stopped
            )
        },
        "-".into(),
    );
    row(
        "cordons / uncordons",
        &|r| {
            format!(
                "{} / {}",
                count(r.figures.cordons.cordons),
                count(r.figures.cordons.uncordons)
            )
        },
        "-".into(),
    );
    row(
        "task-hours cordoned",
        &|r| format!("{:.1}", r.figures.cordons.cordoned_task_hours),
        "-".into(),
    );
    row(
        "sessions redirected by a cordoned app",
        &|r| count(r.figures.sessions.redirected),
        "-".into(),
    );
    row(
        "drains aborted / rolled back",
        &|r| {
            format!(
                "{} / {}",
                r.figures.drains.aborted, r.figures.drains.rolled_back
            )
        },
        "-".into(),
    );
    row(
        "reaction p50 / p95",
        &|r| reaction(&r.figures.reaction),
        "-".into(),
    );
    row(
        "overload episodes (answered)",
        &|r| {
            format!(
                "{} ({})",
                r.figures.reaction.episodes, r.figures.reaction.answered
            )
        },
        "-".into(),
    );
    row(
        "policy faults",
        &|r| count(r.figures.policy_faults),
        "-".into(),
    );
    if timing {
        row(
            "policy call mean / p95 (µs)",
            &|r| format!("{:.1} / {}", r.timing.call_mean_us, r.timing.call_p95_us),
            "-".into(),
        );
        row(
            "run time (ticks/s)",
            &|r| {
                format!(
                    "{:.2}s ({})",
                    r.timing.wall_seconds,
                    count(r.timing.ticks_per_second as u64)
                )
            },
            "-".into(),
        );
    }
    for i in [killed, cut, refused] {
        rows[i].lost_sessions = true;
    }
    rows
}

/// The comparison as a text table, preceded by a line on the scenario.
pub fn render(c: &Comparison, timing: bool) -> String {
    let s = &c.scenario;
    let mut out = format!(
        "Scenario {} (seed {}, {}, ticks every {}): {}\n\n",
        s.name,
        s.world.seed,
        humantime::format_duration(s.duration),
        humantime::format_duration(s.interval),
        s.description
    );
    let header: Vec<String> = std::iter::once(String::new())
        .chain(
            c.runs
                .iter()
                // A label is the policy's own name: escaped before it reaches the terminal.
                .map(|r| crate::escape::escape(&r.label).into_owned()),
        )
        .chain([ONLINE_HEADING, PACKING_HEADING, ORACLE_HEADING].map(String::from))
        .collect();
    let rows = rows(c, timing);
    let mut table = Table::new();
    table.load_style(NOTHING).set_header(header);
    for r in &rows {
        let cells: Vec<&str> = std::iter::once(&r.name)
            .chain(&r.values)
            .chain([&r.online, &r.packing, &r.oracle])
            .map(String::as_str)
            .collect();
        table.add_row(cells);
    }
    // No borders: three spaces between columns, each left-aligned.
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((if i == 0 { 0 } else { 3 }, 0));
    }
    out.push_str(&table.trim_fmt());
    out.push('\n');
    if rows
        .iter()
        .any(|r| r.values.iter().any(|v| v.ends_with('*')))
    {
        out.push_str(FOOTNOTE);
        out.push('\n');
    }
    out
}

/// Why a run can cost less than the oracle.
pub const FOOTNOTE: &str = "* under the oracle only by killing, cutting or refusing sessions: the oracle carries every session to its end.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts_and_durations() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(short_duration(45), "45s");
        assert_eq!(short_duration(200), "3m 20s");
        assert_eq!(short_duration(3900), "1h 05m");
    }
}
