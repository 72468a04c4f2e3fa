//! Test support: the ECS scheduler's scale-in, which moto does not run,
//! played against moto with the [`Proxy`]'s protection state.

use autoscaler::providers::ServiceRef;

use super::proxy::Proxy;
use super::seed::{World, now};

/// Plays the ECS scheduler on moto: when the desired count is below the
/// running tasks, it stops the unprotected one (as the proxy knows protection).
pub struct Scheduler<'a> {
    pub world: &'a World,
    pub proxy: &'a Proxy,
    pub svc: ServiceRef,
    /// The only task that may be stopped.
    pub victim: String,
    /// The tasks stopped so far, in order.
    pub stopped: Vec<String>,
}

impl Scheduler<'_> {
    /// The service's RUNNING tasks (moto ignores ListTasks' service filter, so by group).
    pub async fn running(&self) -> Vec<String> {
        let listed = self
            .world
            .ecs
            .list_tasks()
            .cluster(&self.svc.cluster)
            .send()
            .await
            .expect("list_tasks");
        let arns = listed.task_arns().to_vec();
        if arns.is_empty() {
            return Vec::new();
        }
        let out = self
            .world
            .ecs
            .describe_tasks()
            .cluster(&self.svc.cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .expect("describe_tasks");
        let group = format!("service:{}", self.svc.service);
        out.tasks()
            .iter()
            .filter(|t| t.group() == Some(group.as_str()) && t.last_status() == Some("RUNNING"))
            .map(|t| {
                t.task_arn()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// The service's desired count.
    pub async fn desired(&self) -> i32 {
        self.world
            .ecs
            .describe_services()
            .cluster(&self.svc.cluster)
            .services(&self.svc.service)
            .send()
            .await
            .expect("describe_services")
            .services()[0]
            .desired_count()
    }

    /// One scheduling pass: stop the unprotected task if the service has one too many,
    /// asserting that it is the victim and that there is exactly one.
    pub async fn step(&mut self) {
        let desired = self.desired().await;
        let running = self.running().await;
        let excess = running.len().saturating_sub(desired.max(0) as usize);
        if excess == 0 {
            return;
        }
        let now = now();
        let unprotected: Vec<&String> = running
            .iter()
            .filter(|id| !self.proxy.is_protected(id, now))
            .collect();
        assert_eq!(
            unprotected,
            vec![&self.victim],
            "desired count {desired} is below {} running tasks: ECS stops unprotected tasks, \
             and the only unprotected one must be the victim",
            running.len()
        );
        assert_eq!(
            excess, 1,
            "the desired count fell by more than the one drain"
        );
        self.world
            .ecs
            .stop_task()
            .cluster(&self.svc.cluster)
            .task(&self.victim)
            .reason("Scaling activity initiated by (test) ECS scheduler")
            .send()
            .await
            .expect("stop_task");
        self.stopped.push(self.victim.clone());
    }
}
