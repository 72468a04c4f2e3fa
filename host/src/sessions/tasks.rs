//! [`CurrentTasks`]: the configured services' current tasks as of their last
//! gather (ID, private IP, active sessions), published by the daemon and read
//! by the ingest API, which accepts events only for these tasks and counts
//! the sessions it admits against the per-task and per-service caps.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

/// One current task, as the last gather saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// The ECS task ID.
    pub id: String,
    /// Its private IP, when it is registered in the target group.
    pub ip: Option<IpAddr>,
    /// Active sessions the gather counted on it.
    pub sessions: u32,
}

#[derive(Debug, Default)]
struct ServiceView {
    /// When the view was gathered (the snapshot's time).
    at: u64,
    /// Task ID -> (private IP, sessions counted at the gather plus starts admitted since).
    tasks: HashMap<String, (Option<IpAddr>, u32)>,
    /// Sessions of the whole service, counted the same way.
    sessions: u64,
}

/// What the ingest may know about a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The service is not configured on this host.
    UnknownService,
    /// The service has not been gathered yet.
    NotGathered,
    /// The task is not a current task of the service.
    UnknownTask,
    /// A current task, with its private IP if known.
    Task(Option<IpAddr>),
}

/// Why a start may not be admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The task holds `max_sessions_per_task`.
    TaskFull(u32),
    /// The service holds `max_sessions_per_service`.
    ServiceFull(u32),
}

/// Shared, per service (`cluster/service` with the cluster's name): the
/// current tasks. Cloning shares the same map.
#[derive(Debug, Clone, Default)]
pub struct CurrentTasks(Arc<Mutex<HashMap<String, Option<ServiceView>>>>);

impl CurrentTasks {
    /// A map of the given services (partition keys), none gathered yet.
    pub fn new<S: Into<String>>(services: impl IntoIterator<Item = S>) -> CurrentTasks {
        CurrentTasks(Arc::new(Mutex::new(
            services.into_iter().map(|s| (s.into(), None)).collect(),
        )))
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, HashMap<String, Option<ServiceView>>> {
        self.0.lock()
    }

    /// When `service` was last published, if it was.
    pub fn published_at(&self, service: &str) -> Option<u64> {
        self.lock().get(service)?.as_ref().map(|v| v.at)
    }

    /// Replaces `service`'s tasks with those gathered at `at`. Starts admitted
    /// before are now counted by the gather (or were not stored).
    pub fn publish(&self, service: &str, at: u64, tasks: impl IntoIterator<Item = TaskView>) {
        let mut view = ServiceView {
            at,
            ..ServiceView::default()
        };
        for t in tasks {
            view.sessions += u64::from(t.sessions);
            view.tasks.insert(t.id, (t.ip, t.sessions));
        }
        self.lock().insert(service.to_string(), Some(view));
    }

    /// What is known of `task_id` in `service`.
    pub fn lookup(&self, service: &str, task_id: &str) -> Lookup {
        match self.lock().get(service) {
            None => Lookup::UnknownService,
            Some(None) => Lookup::NotGathered,
            Some(Some(view)) => match view.tasks.get(task_id) {
                None => Lookup::UnknownTask,
                Some((ip, _)) => Lookup::Task(*ip),
            },
        }
    }

    /// Counts one more session on `task_id` unless a cap is reached. The
    /// caller calls [`CurrentTasks::release`] if the session was not stored.
    pub fn admit(
        &self,
        service: &str,
        task_id: &str,
        per_task: u32,
        per_service: u32,
    ) -> Result<(), Refusal> {
        let mut map = self.lock();
        let Some(Some(view)) = map.get_mut(service) else {
            return Ok(());
        };
        if view.sessions >= u64::from(per_service) {
            return Err(Refusal::ServiceFull(per_service));
        }
        let Some((_, sessions)) = view.tasks.get_mut(task_id) else {
            return Ok(());
        };
        if *sessions >= per_task {
            return Err(Refusal::TaskFull(per_task));
        }
        *sessions += 1;
        view.sessions += 1;
        Ok(())
    }

    /// Uncounts one session on `task_id` (a start that stored nothing, or an end that removed one).
    pub fn release(&self, service: &str, task_id: &str) {
        let mut map = self.lock();
        let Some(Some(view)) = map.get_mut(service) else {
            return;
        };
        if let Some((_, sessions)) = view.tasks.get_mut(task_id)
            && *sessions > 0
        {
            *sessions -= 1;
            view.sessions = view.sessions.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, sessions: u32) -> TaskView {
        TaskView {
            id: id.into(),
            ip: None,
            sessions,
        }
    }

    #[test]
    fn lookups_before_and_after_the_first_gather() {
        let tasks = CurrentTasks::new(["prod/web"]);
        assert_eq!(tasks.lookup("prod/api", "t1"), Lookup::UnknownService);
        assert_eq!(tasks.lookup("prod/web", "t1"), Lookup::NotGathered);
        tasks.publish("prod/web", 60, [task("t1", 0)]);
        assert_eq!(tasks.lookup("prod/web", "t1"), Lookup::Task(None));
        assert_eq!(tasks.lookup("prod/web", "t2"), Lookup::UnknownTask);
    }

    #[test]
    fn caps_count_the_gathered_sessions_and_the_admitted_ones() {
        let tasks = CurrentTasks::new(["prod/web"]);
        tasks.publish("prod/web", 60, [task("t1", 2), task("t2", 0)]);
        assert_eq!(tasks.admit("prod/web", "t1", 3, 10), Ok(()));
        assert_eq!(
            tasks.admit("prod/web", "t1", 3, 10),
            Err(Refusal::TaskFull(3))
        );
        tasks.release("prod/web", "t1");
        assert_eq!(tasks.admit("prod/web", "t1", 3, 10), Ok(()));
        // The service now holds 3 (t1) + 0 (t2): one more fits under 4, then none.
        assert_eq!(tasks.admit("prod/web", "t2", 3, 4), Ok(()));
        assert_eq!(
            tasks.admit("prod/web", "t2", 3, 4),
            Err(Refusal::ServiceFull(4))
        );
    }
}
