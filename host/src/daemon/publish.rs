//! What the daemon shows of each service: its status on the board, and its
//! current tasks for the session ingest API.

use crate::providers::Provider;
use crate::tick::Service;
use crate::tick::record::PolicyRef;

use super::Daemon;
use super::status::{self, ServiceStatus};

impl<P: Provider> Daemon<P> {
    /// Shows service `i` on the board, and shares its tasks with the ingest API.
    pub(super) fn publish(&self, i: usize) {
        let s = &self.services[i];
        let c = s.policy.component();
        let mut status = ServiceStatus {
            service: s.key(),
            policy: PolicyRef::from(c.as_ref()),
            shadows: s
                .shadows
                .iter()
                .map(|p| p.component().name.clone())
                .collect(),
            next_tick: s.next_tick,
            drains: s.drains.clone(),
            drains_paused: s.spec.dry_run && !s.drains.is_empty(),
            last: s.last_record.clone(),
            interval: s.spec.interval,
            gather_failures: 0,
            holder: self.ha.as_ref().and_then(|h| h.holder(&s.key())),
            held_here: self
                .ha
                .as_ref()
                .is_none_or(|h| h.leases.held(&s.key()).is_some()),
        };
        let mut board = self.board.lock();
        let previous = board.get(&status.service);
        status.gather_failures = status::gather_failures(previous, status.last.as_ref());
        board.insert(status.service.clone(), status);
        self.publish_tasks(s);
    }

    /// Shares the service's current tasks, as of its last gather, with the ingest API.
    fn publish_tasks(&self, s: &Service) {
        let (Some(tasks), Some(snap)) = (&self.current_tasks, &s.last_snapshot) else {
            return;
        };
        let key = crate::sessions::partition_key(&s.spec.svc.cluster, &s.spec.svc.service);
        if tasks.published_at(&key) == Some(snap.now) {
            return;
        }
        // `last_targets[i]` is the target of `snap.tasks[i]`.
        let targets = s.last_targets.iter().chain(std::iter::repeat(&None));
        tasks.publish(
            &key,
            snap.now,
            snap.tasks
                .iter()
                .zip(targets)
                .map(|(t, target)| crate::sessions::tasks::TaskView {
                    id: t.id.clone(),
                    ip: target.as_ref().map(|t| t.ip),
                    sessions: t.sessions,
                }),
        );
    }

    /// Shares the current tasks of service `i`, which another host runs
    /// (`[ha]`), with the ingest API: read now, as its gather would.
    pub(super) async fn publish_tasks_run_elsewhere(&self, i: usize, now: u64) {
        let Some(tasks) = &self.current_tasks else {
            return;
        };
        let svc = &self.services[i].spec.svc;
        let listed = self.provider.tasks(svc).await;
        let counts = self.provider.sessions_by_task(svc, now).await;
        match (listed, counts) {
            (Ok(listed), Ok(counts)) => tasks.publish(
                &crate::sessions::partition_key(&svc.cluster, &svc.service),
                now,
                listed
                    .into_iter()
                    .filter(|t| t.status != crate::model::TaskStatus::Stopped)
                    .map(|t| crate::sessions::tasks::TaskView {
                        sessions: counts.get(&t.id).copied().unwrap_or(0),
                        ip: t.target.map(|x| x.ip),
                        id: t.id,
                    }),
            ),
            (Err(e), _) | (_, Err(e)) => tracing::warn!(
                service = %svc.key(),
                "Cannot read the tasks of a service another host runs, for the session ingest: {e}"
            ),
        }
    }
}
