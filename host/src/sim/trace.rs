//! Trace replay: a recorded workload read from a JSON-lines file, one line
//! per minute (the format is documented in [`crate::sim`]).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::SimError;

/// One line of a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TracePoint {
    /// Seconds since the trace's start.
    pub t: u64,
    /// Session arrivals per minute from `t` on.
    pub arrivals_per_min: f64,
    /// The mean session length of sessions arriving from `t` on, in seconds.
    pub mean_session_s: Option<f64>,
}

/// A parsed trace: a step function of time, one step per line.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    points: Vec<TracePoint>,
    repeat: bool,
}

impl Trace {
    /// Reads and parses a trace file.
    pub fn load(path: &Path, repeat: bool) -> Result<Trace, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::TraceIo {
            file: path.to_path_buf(),
            source,
        })?;
        Trace::parse(path, &text, repeat)
    }

    /// Parses trace text; `file` names it in errors.
    pub fn parse(file: &Path, text: &str, repeat: bool) -> Result<Trace, SimError> {
        let mut points: Vec<TracePoint> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let p = parse_line(file, line_no, line)?;
            if let Some(prev) = points.last()
                && p.t <= prev.t
            {
                return Err(field_err(
                    file,
                    line_no,
                    "t",
                    format!(
                        "{} is not after the previous line's {}; times must increase",
                        p.t, prev.t
                    ),
                ));
            }
            points.push(p);
        }
        if points.is_empty() {
            return Err(SimError::TraceEmpty {
                file: file.to_path_buf(),
            });
        }
        Ok(Trace { points, repeat })
    }

    /// When the trace ends: its last line lasts one minute.
    fn end(&self) -> u64 {
        self.points.last().map_or(0, |p| p.t.saturating_add(60))
    }

    fn point_at(&self, t: u64) -> Option<&TracePoint> {
        let end = self.end();
        let t = if self.repeat && end > 0 { t % end } else { t };
        if t >= end {
            return None;
        }
        let i = self.points.partition_point(|p| p.t <= t);
        i.checked_sub(1).map(|i| &self.points[i])
    }

    /// Arrivals per minute at `t`: the last line at or before `t`; 0 before the
    /// first line and, unless repeating, after the trace ends.
    pub fn rate_per_min(&self, t: u64) -> f64 {
        self.point_at(t).map_or(0.0, |p| p.arrivals_per_min)
    }

    /// The mean session length at `t`, when the line in force gives one.
    pub fn mean_session_secs(&self, t: u64) -> Option<f64> {
        self.point_at(t).and_then(|p| p.mean_session_s)
    }
}

fn field_err(file: &Path, line: usize, field: &str, message: impl Into<String>) -> SimError {
    SimError::TraceField {
        file: PathBuf::from(file),
        line,
        field: field.to_string(),
        message: message.into(),
    }
}

fn parse_line(file: &Path, line_no: usize, line: &str) -> Result<TracePoint, SimError> {
    let line_err = |message: String| SimError::TraceLine {
        file: file.to_path_buf(),
        line: line_no,
        message,
    };
    let value: Value =
        serde_json::from_str(line).map_err(|e| line_err(format!("not valid JSON ({e})")))?;
    let Value::Object(obj) = value else {
        return Err(line_err(
            "expected a JSON object like {\"t\": 0, \"arrivals_per_min\": 12.5}".to_string(),
        ));
    };
    if let Some(unknown) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "t" | "arrivals_per_min" | "mean_session_s"))
    {
        return Err(field_err(
            file,
            line_no,
            unknown,
            "unknown field; expected `t`, `arrivals_per_min` and optionally `mean_session_s`",
        ));
    }
    let number = |obj: &Map<String, Value>, field: &str| -> Result<Option<f64>, SimError> {
        match obj.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(field_err(
                file,
                line_no,
                field,
                format!("expected a number, found {other}"),
            )),
        }
    };
    let t = match obj.get("t") {
        None => {
            return Err(field_err(
                file,
                line_no,
                "t",
                "missing; expected seconds since the trace's start",
            ));
        }
        Some(v) => v.as_u64().ok_or_else(|| {
            field_err(
                file,
                line_no,
                "t",
                format!("expected a whole number of seconds at least 0, found {v}"),
            )
        })?,
    };
    let arrivals_per_min = number(&obj, "arrivals_per_min")?.ok_or_else(|| {
        field_err(
            file,
            line_no,
            "arrivals_per_min",
            "missing; expected arrivals per minute",
        )
    })?;
    if !(arrivals_per_min.is_finite() && arrivals_per_min >= 0.0) {
        return Err(field_err(
            file,
            line_no,
            "arrivals_per_min",
            format!("expected a number at least 0, found {arrivals_per_min}"),
        ));
    }
    let mean_session_s = number(&obj, "mean_session_s")?;
    if let Some(m) = mean_session_s
        && !(m.is_finite() && m >= 1.0)
    {
        return Err(field_err(
            file,
            line_no,
            "mean_session_s",
            format!("expected seconds at least 1, found {m}"),
        ));
    }
    Ok(TracePoint {
        t,
        arrivals_per_min,
        mean_session_s,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::sim::Workload;

    const GOOD: &str = r#"{"t": 0, "arrivals_per_min": 12.5, "mean_session_s": 1800}
{"t": 60, "arrivals_per_min": 20}

{"t": 120, "arrivals_per_min": 0.5, "mean_session_s": 600}
"#;

    #[test]
    fn a_good_file_loads_through_the_workload_and_replays_as_steps() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(GOOD.as_bytes()).expect("write");
        let w = Workload::Trace {
            path: f.path().to_path_buf(),
            repeat: false,
        }
        .load()
        .expect("loads");
        assert_eq!(w.rate_per_min(0), 12.5);
        assert_eq!(w.rate_per_min(59), 12.5);
        assert_eq!(w.rate_per_min(60), 20.0);
        assert_eq!(w.rate_per_min(179), 0.5);
        assert_eq!(
            w.rate_per_min(180),
            0.0,
            "ends one minute after its last line"
        );
        assert_eq!(w.mean_session_secs(30), Some(1800.0));
        assert_eq!(w.mean_session_secs(90), None);
        assert_eq!(w.mean_session_secs(150), Some(600.0));
        let looped = Trace::parse(Path::new("x"), GOOD, true).expect("parses");
        assert_eq!(
            looped.rate_per_min(180 + 60),
            20.0,
            "repeats with a 180 s period"
        );
    }

    fn err(text: &str) -> String {
        Trace::parse(Path::new("traces/day.jsonl"), text, false)
            .expect_err(text)
            .to_string()
    }

    #[test]
    fn bad_lines_name_the_file_line_and_field() {
        let e = err("{\"t\": 0, \"arrivals_per_min\": 1}\n{\"t\": 60, \"arrivals_per_min\": -3}");
        assert!(
            e.contains("traces/day.jsonl")
                && e.contains("line 2")
                && e.contains("`arrivals_per_min`"),
            "{e}"
        );
        let e = err("{\"t\": 0, \"arrivals_per_min\": \"many\"}");
        assert!(
            e.contains("line 1")
                && e.contains("`arrivals_per_min`")
                && e.contains("expected a number"),
            "{e}"
        );
        let e = err("{\"arrivals_per_min\": 1}");
        assert!(e.contains("`t`") && e.contains("missing"), "{e}");
        let e = err("{\"t\": 1.5, \"arrivals_per_min\": 1}");
        assert!(e.contains("`t`") && e.contains("whole number"), "{e}");
        let e = err("{\"t\": 0, \"arrivals_per_min\": 1, \"rate\": 2}");
        assert!(e.contains("`rate`") && e.contains("unknown field"), "{e}");
        let e = err("{\"t\": 60, \"arrivals_per_min\": 1}\n\n{\"t\": 60, \"arrivals_per_min\": 1}");
        assert!(
            e.contains("line 3") && e.contains("`t`") && e.contains("must increase"),
            "{e}"
        );
        let e = err("{\"t\": 0, \"arrivals_per_min\": 1, \"mean_session_s\": 0}");
        assert!(e.contains("`mean_session_s`"), "{e}");
        let e = err("{\"t\": 0, \"arrivals_per_min\": 1\n");
        assert!(e.contains("line 1") && e.contains("not valid JSON"), "{e}");
        let e = err("[0, 1]");
        assert!(e.contains("expected a JSON object"), "{e}");
        let e = err("\n\n");
        assert!(e.contains("no data line"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = Workload::Trace {
            path: PathBuf::from("/nonexistent/trace.jsonl"),
            repeat: false,
        }
        .load()
        .expect_err("missing")
        .to_string();
        assert!(e.contains("/nonexistent/trace.jsonl"), "{e}");
    }
}
