//! The data behind `autoscaler sessions list`: a service's sessions grouped by
//! task, and a plain-text table of them.

use crate::escape::escape;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::schema::SessionRecord;
use super::store::SessionStore;
use crate::providers::ProviderResult;

/// One task's stored sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskSessions {
    /// The ECS task ID.
    pub task_id: String,
    /// Sessions that count: no deadline, or a deadline not yet passed. Oldest first.
    pub active: Vec<SessionRecord>,
    /// Sessions whose heartbeat deadline passed; the host ignores them. Oldest first.
    pub expired: Vec<SessionRecord>,
}

/// A service's sessions per task, as of `now`, sorted by task ID (one Query).
pub async fn list_by_task(
    store: &SessionStore,
    cluster: &str,
    service: &str,
    now: u64,
) -> ProviderResult<Vec<TaskSessions>> {
    Ok(group_by_task(store.list(cluster, service).await?, now))
}

/// Groups records by task, splitting active from expired at `now`.
pub fn group_by_task(records: Vec<SessionRecord>, now: u64) -> Vec<TaskSessions> {
    let mut by_task: BTreeMap<String, TaskSessions> = BTreeMap::new();
    for record in records {
        let entry = by_task
            .entry(record.task_id.clone())
            .or_insert_with(|| TaskSessions {
                task_id: record.task_id.clone(),
                active: Vec::new(),
                expired: Vec::new(),
            });
        if record.is_active(now) {
            entry.active.push(record)
        } else {
            entry.expired.push(record)
        }
    }
    let mut tasks: Vec<TaskSessions> = by_task.into_values().collect();
    for t in &mut tasks {
        t.active
            .sort_by(|a, b| (a.started_at, &a.session_id).cmp(&(b.started_at, &b.session_id)));
        t.expired
            .sort_by(|a, b| (a.started_at, &a.session_id).cmp(&(b.started_at, &b.session_id)));
    }
    tasks
}

/// A compact duration: `45s`, `3m05s`, `2h10m`, `3d4h`.
fn short(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A table with one row per session, grouped by task, and a summary line.
pub fn format_table(tasks: &[TaskSessions], now: u64) -> String {
    let mut rows: Vec<[String; 4]> = vec![[
        "TASK".into(),
        "SESSION".into(),
        "STARTED".into(),
        "DEADLINE".into(),
    ]];
    for task in tasks {
        for (i, r) in task.active.iter().chain(&task.expired).enumerate() {
            let deadline = match r.expires_at {
                None => "none".to_string(),
                Some(d) if r.is_active(now) => format!("in {}", short(d - now.min(d))),
                Some(d) => format!("expired {} ago (ignored)", short(now.saturating_sub(d))),
            };
            rows.push([
                if i == 0 {
                    escape(&task.task_id).into_owned()
                } else {
                    String::new()
                },
                escape(&r.session_id).into_owned(),
                format!("{} ago", short(now.saturating_sub(r.started_at))),
                deadline,
            ]);
        }
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let active: usize = tasks.iter().map(|t| t.active.len()).sum();
    let expired: usize = tasks.iter().map(|t| t.expired.len()).sum();
    let busy = tasks.iter().filter(|t| !t.active.is_empty()).count();
    let _ = writeln!(
        out,
        "{active} active sessions on {busy} tasks; {expired} expired and ignored."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(task: &str, session: &str, started: u64, expires: Option<u64>) -> SessionRecord {
        SessionRecord {
            task_id: task.into(),
            session_id: session.into(),
            started_at: started,
            expires_at: expires,
        }
    }

    #[test]
    fn groups_by_task_and_splits_expired() {
        let tasks = group_by_task(
            vec![
                rec("b", "s3", 10, Some(50)),
                rec("a", "s2", 20, None),
                rec("a", "s1", 10, Some(1_000)),
            ],
            100,
        );
        assert_eq!(
            tasks.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            tasks[0]
                .active
                .iter()
                .map(|r| r.session_id.as_str())
                .collect::<Vec<_>>(),
            ["s1", "s2"]
        );
        assert!(tasks[1].active.is_empty());
        assert_eq!(tasks[1].expired.len(), 1);
    }

    #[test]
    fn the_table_shows_every_session_and_a_summary() {
        let now = 10_000;
        let tasks = group_by_task(
            vec![
                rec("t1", "alpha", now - 65, Some(now + 30)),
                rec("t2", "beta", now - 7_200, Some(now - 5)),
            ],
            now,
        );
        let table = format_table(&tasks, now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("TASK"));
        assert!(
            lines[1].contains("t1")
                && lines[1].contains("alpha")
                && lines[1].contains("1m05s ago")
                && lines[1].contains("in 30s")
        );
        assert!(lines[2].contains("expired 5s ago (ignored)") && lines[2].contains("2h00m ago"));
        assert_eq!(
            lines[3],
            "1 active sessions on 1 tasks; 1 expired and ignored."
        );
    }

    #[test]
    fn stored_ids_are_escaped_in_the_table() {
        let now = 10_000;
        let tasks = group_by_task(
            vec![rec(
                "t\u{1b}[31m1",
                "s\u{202e}gnp.exe\u{200b}",
                now - 5,
                None,
            )],
            now,
        );
        let table = format_table(&tasks, now);
        assert!(
            !table.contains(['\u{1b}', '\u{202e}', '\u{200b}']),
            "{table}"
        );
        assert!(table.contains("t\\u{1b}[31m1"), "{table}");
        assert!(table.contains("s\\u{202e}gnp.exe\\u{200b}"), "{table}");
    }
}
