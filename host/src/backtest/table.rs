//! The side-by-side table of figures: one row per figure, one column per
//! run, then the packing reference's column and the oracle's last. The text
//! table and the HTML report share its rows.

use super::compare::Comparison;
use super::figures::Reaction;

/// One row: the figure's name, each run's value, the packing reference's and the oracle's.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The figure, with its unit.
    pub name: String,
    /// Each run's value, in run order.
    pub values: Vec<String>,
    /// The packing reference's value ("-" where it has none).
    pub packing: String,
    /// The oracle's value ("-" where it has none).
    pub oracle: String,
    /// Whether the figure counts lost sessions: a run's value other than 0 is bad.
    pub lost_sessions: bool,
}

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
    let o = &c.oracle;
    let p = &c.packing;
    let mut rows = Vec::new();
    let mut both = |name: &str,
                    f: &dyn Fn(&super::run::RunOutput) -> String,
                    packing: String,
                    oracle: String| {
        rows.push(Row {
            name: name.to_string(),
            values: c.runs.iter().map(f).collect(),
            packing,
            oracle,
            lost_sessions: false,
        });
    };
    both(
        "task-hours",
        &|r| format!("{:.1}", r.figures.task_hours),
        format!("{:.1}", p.task_hours),
        format!("{:.1}", o.task_hours),
    );
    both(
        "cost (USD)",
        &|r| format!("{:.2}", r.figures.cost_usd),
        format!("{:.2}", p.cost_usd),
        format!("{:.2}", o.cost_usd),
    );
    both(
        "cost vs oracle",
        &|r| {
            let f = &r.figures;
            let lost = f.sessions.killed + f.sessions.cut + f.sessions.refused > 0;
            let mark = if f.vs_oracle < 1.0 && lost { "*" } else { "" };
            format!("{:.2}x{mark}", f.vs_oracle)
        },
        format!("{:.2}x", p.vs_oracle),
        "1.00x".into(),
    );
    both(
        "cost vs packing reference",
        &|r| format!("{:.2}x", r.figures.vs_packing),
        "1.00x".into(),
        if p.task_hours > 0.0 {
            format!("{:.2}x", o.task_hours / p.task_hours)
        } else {
            "-".into()
        },
    );
    both(
        "peak tasks",
        &|r| r.figures.peak_tasks.to_string(),
        p.peak_tasks.to_string(),
        o.peak_tasks.to_string(),
    );
    let mut row = |name: &str, f: &dyn Fn(&super::run::RunOutput) -> String, oracle: String| {
        let packing = if oracle == "-" {
            "-".into()
        } else {
            oracle.clone()
        };
        rows.push(Row {
            name: name.to_string(),
            values: c.runs.iter().map(f).collect(),
            packing,
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
    let header: Vec<String> = c
        .runs
        .iter()
        // A label is the policy's own name: escaped before it reaches the terminal.
        .map(|r| crate::escape::escape(&r.label).into_owned())
        .chain([PACKING_HEADING.to_string(), ORACLE_HEADING.to_string()])
        .collect();
    let rows = rows(c, timing);
    let name_w = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let cell = |r: &Row, i: usize| -> String {
        match i.checked_sub(r.values.len()) {
            None => r.values[i].clone(),
            Some(0) => r.packing.clone(),
            Some(_) => r.oracle.clone(),
        }
    };
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| cell(r, i).chars().count())
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut line = pad("", name_w);
    for (h, w) in header.iter().zip(&widths) {
        line.push_str("   ");
        line.push_str(&pad(h, *w));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for r in &rows {
        let mut line = pad(&r.name, name_w);
        for (v, w) in r.values.iter().chain([&r.packing, &r.oracle]).zip(&widths) {
            line.push_str("   ");
            line.push_str(&pad(v, *w));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
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
