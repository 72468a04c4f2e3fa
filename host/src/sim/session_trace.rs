//! Exact-session traces: one recorded session per line, replayed exactly
//! (the `sessions` workload; the format is documented in [`crate::sim`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::SimError;
use super::limits::MAX_SESSION;

/// One session arrival as the workload produced it: when, and how long the
/// session was drawn to last, whether it then landed on a task or was refused.
/// Policy-independent: the backtester's oracle and its check that two runs
/// faced the same users read these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionArrival {
    /// The arrival time, in seconds.
    pub at: u64,
    /// The drawn session length, in seconds (at least 1).
    pub duration: u64,
}

/// The largest sessions file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// The most sessions one file may hold.
pub const MAX_SESSIONS: usize = 5_000_000;
/// The latest start a session may have, in seconds (400 days, the longest run).
pub const MAX_START_S: u64 = 400 * 86_400;
/// The longest `task_hint`, in characters.
pub const MAX_HINT_CHARS: usize = 128;

/// The columns a sessions file may have.
const COLUMNS: [&str; 3] = ["start_s", "duration_s", "task_hint"];

/// A parsed sessions trace: every session, ordered by start (then length).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTrace {
    sessions: Arc<[SessionArrival]>,
    /// Lines that carried a `task_hint`.
    pub hinted: usize,
}

impl SessionTrace {
    /// Reads and parses a sessions file, refusing one larger than [`MAX_FILE_BYTES`].
    pub fn load(path: &Path) -> Result<SessionTrace, SimError> {
        let io = |source| SimError::TraceIo {
            file: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let too_large = || SimError::TraceTooLarge {
            file: path.to_path_buf(),
            limit: format!("{} MiB", MAX_FILE_BYTES >> 20),
        };
        if file.metadata().map_err(io)?.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large());
        }
        SessionTrace::parse(path, &text)
    }

    /// Parses sessions text; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<SessionTrace, SimError> {
        let field_err = |line: usize, field: &str, message: String| SimError::TraceField {
            file: PathBuf::from(file),
            line,
            field: field.to_string(),
            message,
        };
        let line_err = |line: usize, message: String| SimError::TraceLine {
            file: PathBuf::from(file),
            line,
            message,
        };
        let mut header: Option<Vec<usize>> = None;
        let mut sessions = Vec::new();
        let mut hinted = 0;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let Some(columns) = &header else {
                let mut columns = Vec::with_capacity(cells.len());
                for cell in &cells {
                    let name = cell.trim_matches('"');
                    let Some(c) = COLUMNS.iter().position(|k| *k == name) else {
                        return Err(field_err(
                            line_no,
                            name,
                            "unknown column in the header; expected `start_s`, `duration_s` and optionally `task_hint`".into(),
                        ));
                    };
                    if columns.contains(&c) {
                        return Err(field_err(line_no, name, "column named twice".into()));
                    }
                    columns.push(c);
                }
                for (c, name) in COLUMNS.iter().enumerate().take(2) {
                    if !columns.contains(&c) {
                        return Err(field_err(
                            line_no,
                            name,
                            "missing from the header (the first line), which must name the columns, such as `start_s,duration_s,task_hint`".into(),
                        ));
                    }
                }
                header = Some(columns);
                continue;
            };
            if cells.len() != columns.len() {
                return Err(line_err(
                    line_no,
                    format!(
                        "expected {} comma-separated values as the header names, found {}",
                        columns.len(),
                        cells.len()
                    ),
                ));
            }
            if sessions.len() >= MAX_SESSIONS {
                return Err(line_err(
                    line_no,
                    format!("more than {MAX_SESSIONS} sessions; split the trace"),
                ));
            }
            let (mut start, mut duration) = (0, 0);
            for (cell, &c) in cells.iter().zip(columns) {
                let name = COLUMNS[c];
                let whole = |max: u64, min: u64| -> Result<u64, SimError> {
                    let v: u64 = cell.parse().map_err(|_| {
                        field_err(
                            line_no,
                            name,
                            format!("expected a whole number of seconds, found {cell:?}"),
                        )
                    })?;
                    if v < min || v > max {
                        return Err(field_err(
                            line_no,
                            name,
                            format!("expected {min}..={max} seconds, found {v}"),
                        ));
                    }
                    Ok(v)
                };
                match c {
                    0 => start = whole(MAX_START_S, 0)?,
                    1 => duration = whole(MAX_SESSION.as_secs(), 1)?,
                    _ => {
                        if cell.is_empty() {
                            continue;
                        }
                        if cell.chars().count() > MAX_HINT_CHARS
                            || !cell
                                .chars()
                                .all(|ch| ch.is_ascii_alphanumeric() || "-_.:/".contains(ch))
                        {
                            return Err(field_err(
                                line_no,
                                name,
                                format!(
                                    "expected at most {MAX_HINT_CHARS} letters, digits and -_.:/ (a task ID)"
                                ),
                            ));
                        }
                        hinted += 1;
                    }
                }
            }
            sessions.push(SessionArrival {
                at: start,
                duration,
            });
        }
        if header.is_none() || sessions.is_empty() {
            return Err(SimError::TraceEmpty {
                file: file.to_path_buf(),
            });
        }
        // Exports come in any order: sessions replay by start, then length.
        sessions.sort_unstable_by_key(|s| (s.at, s.duration));
        Ok(SessionTrace {
            sessions: sessions.into(),
            hinted,
        })
    }

    /// The sessions, ordered by start.
    pub fn sessions(&self) -> &Arc<[SessionArrival]> {
        &self.sessions
    }

    /// Sessions starting within `[t - t % 60, t - t % 60 + 60)`.
    pub fn arrivals_in_minute(&self, t: u64) -> usize {
        let m = t - t % 60;
        let a = self.sessions.partition_point(|s| s.at < m);
        let b = self.sessions.partition_point(|s| s.at < m + 60);
        b - a
    }

    /// The most sessions active at once (a session lasts `[start, start + duration)`).
    pub fn peak_active(&self) -> u64 {
        let mut edges: Vec<(u64, i8)> = Vec::with_capacity(self.sessions.len() * 2);
        for s in self.sessions.iter() {
            edges.push((s.at, 1));
            edges.push((s.at + s.duration, -1));
        }
        // Ends before starts at the same second.
        edges.sort_unstable();
        let (mut active, mut peak) = (0i64, 0i64);
        for (_, d) in edges {
            active += i64::from(d);
            peak = peak.max(active);
        }
        peak as u64
    }

    /// The last session's start.
    pub fn last_start(&self) -> u64 {
        self.sessions.last().map_or(0, |s| s.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SessionTrace, String> {
        SessionTrace::parse(Path::new("traces/week.csv"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_file_parses_in_start_order_with_optional_hints() {
        let t = parse(
            "# exported 2026-11-30\nstart_s,duration_s,task_hint\n120,60,abc123\n0,3600,\n0,30,def\n\n",
        )
        .expect("parses");
        let s: Vec<(u64, u64)> = t.sessions().iter().map(|s| (s.at, s.duration)).collect();
        assert_eq!(s, vec![(0, 30), (0, 3600), (120, 60)]);
        assert_eq!(t.hinted, 2);
        assert_eq!(t.arrivals_in_minute(30), 2);
        assert_eq!(t.arrivals_in_minute(125), 1);
        assert_eq!(t.arrivals_in_minute(600), 0);
        assert_eq!(t.peak_active(), 2);
        assert_eq!(t.last_start(), 120);
        let reordered = parse("duration_s,start_s\n5,10\n").expect("columns in any order");
        assert_eq!(
            reordered.sessions()[0],
            SessionArrival {
                at: 10,
                duration: 5
            }
        );
    }

    #[test]
    fn bad_lines_name_the_file_line_and_field() {
        let e = parse("start_s,duration_s\n0,10\n5,0\n").unwrap_err();
        assert!(
            e.contains("traces/week.csv") && e.contains("line 3") && e.contains("`duration_s`"),
            "{e}"
        );
        let e = parse("start_s,duration_s\n-4,10\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("`start_s`") && e.contains("whole"),
            "{e}"
        );
        let e = parse("start_s,length\n").unwrap_err();
        assert!(
            e.contains("`length`") && e.contains("unknown column"),
            "{e}"
        );
        let e = parse("start_s\n0\n").unwrap_err();
        assert!(e.contains("`duration_s`") && e.contains("missing"), "{e}");
        let e = parse("0,10\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("header"), "{e}");
        let e = parse("start_s,duration_s\n0,10,x\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("2 comma-separated"),
            "{e}"
        );
        let e = parse("start_s,duration_s,task_hint\n0,10,\"a b\"\n").unwrap_err();
        assert!(e.contains("`task_hint`"), "{e}");
        let e = parse("start_s,duration_s\n0,99999999\n").unwrap_err();
        assert!(e.contains("`duration_s`") && e.contains("2592000"), "{e}");
        let e = parse("start_s,duration_s\n").unwrap_err();
        assert!(e.contains("no data line"), "{e}");
    }

    #[test]
    fn an_oversized_file_is_refused_before_parsing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.csv");
        let f = std::fs::File::create(&path).expect("create");
        f.set_len(MAX_FILE_BYTES + 10).expect("sparse file");
        let e = SessionTrace::load(&path).unwrap_err().to_string();
        assert!(e.contains("big.csv") && e.contains("256 MiB"), "{e}");
    }
}
