//! A deterministic, seeded, in-process simulation of Fargate services behind
//! load balancer target groups, on a virtual clock in whole seconds.
//!
//! [`SimWorld`] holds the services; [`crate::providers::sim::SimProvider`]
//! wraps it behind the provider traits, so the tick pipeline, the daemon and
//! the backtester run the very same code against it as against AWS.
//!
//! The sim is event-driven: it jumps from one event (a task's state change, a
//! target's health change, a session's arrival or end, a minute boundary) to
//! the next, so advancing a minute costs in proportion to what happened in it,
//! not to its length. The same seed and the same sequence of calls give the
//! same run: every draw comes from a seeded stream, events at the same second
//! run in a fixed order (the minute closes, then sessions end, then tasks and
//! targets change state in the order those changes were scheduled, then
//! sessions arrive), and no hash map order leaks out. Arrivals and session
//! lengths have streams of their own, drawn even for refused sessions, so
//! whatever a policy does, the same seed brings the same users.
//!
//! # What the sim models
//!
//! - **Task lifecycle.** A new task is PROVISIONING for `provisioning`, then
//!   PENDING for `startup`, then RUNNING. A task being stopped is DEACTIVATING
//!   while its target drains, then STOPPING for `stopping`, DEPROVISIONING for
//!   `deprovisioning`, then STOPPED; stopped tasks stay listed for
//!   `stopped_retention`. Task IDs are 32 hex characters derived from the seed;
//!   each task has a private IP in 10.N.0.0/16 (N the service's order of
//!   addition) and the service's container port, known from PENDING on. The
//!   service's `initial_tasks` start RUNNING, healthy and idle.
//! - **The service scheduler.** Whenever the desired count, a protection or a
//!   task changes, it compares the active tasks (those not being stopped) with
//!   the desired count. Below: it launches tasks. Above: it stops unprotected
//!   tasks, choosing victims without looking at sessions, like ECS: first tasks
//!   not yet running, newest first, then running tasks in a seeded random
//!   order. It never stops a scale-in-protected task; if only protected tasks
//!   remain it waits, and acts when protection is turned off or expires
//!   (`expires_minutes`, 0 meaning ECS's default of 120) or the desired count
//!   rises. A stopped task (ECS StopTask, [`SimWorld::stop_task`]) or a failed
//!   one ([`SimWorld::fail_task`]) no longer counts as active, so with the
//!   desired count unchanged a replacement starts at once.
//! - **Stopping.** A task stopped by the scheduler or by StopTask has its target
//!   deregistered and stays DEACTIVATING until the target has drained (the
//!   remainder of the delay if the target was already draining; no time at all
//!   if it had already left the group), then reaches STOPPING. A failed task
//!   reaches STOPPING at once.
//! - **Target group.** A task's target registers when it reaches RUNNING:
//!   `initial`, then `healthy` after `health_check_delay`. Deregistering puts it
//!   in `draining` for `deregistration_delay`, after which it leaves the group
//!   (`unregistered`, not listed). Registering a draining or unregistered target
//!   of a running task makes it `initial` then `healthy` again; registering the
//!   target of a task that is not running makes it `unhealthy` (its health
//!   checks fail). Registering or deregistering an address that is no task's
//!   fails the whole call, as an invalid target does in ELBv2.
//! - **Sessions.** Arrivals form a Poisson process whose rate is the workload's
//!   rate at the start of each minute, held for that minute. Session lengths are
//!   drawn per arrival, exponential or lognormal around `session_mean` (or the
//!   trace's `mean_session_s`), or from a two-part `mixture` of uniform ranges
//!   (typical and long sessions), rounded to whole seconds, at least 1 s. The
//!   `sessions` workload replays recorded sessions exactly instead: each
//!   arrives at its `start_s` with its `duration_s`, nothing is drawn.
//! - **Routing.** A session reaches only a HEALTHY registered target of a
//!   RUNNING task with fewer than `session_capacity` sessions. The load
//!   balancer picks among those in `round-robin` order (oldest task first)
//!   or, with `routing = "least-outstanding"`, the one with the fewest
//!   sessions (ties: the oldest task). When no healthy target has room, the
//!   session is refused and counted.
//! - **App-level cordon.** `set_cordon` ([`SimWorld::set_cordon`], the
//!   session store's cordon item) marks a task not accepting; the mark lives
//!   in the world, so it outlasts a daemon restart. A session the load
//!   balancer sends to a cordoned task is refused by its application and the
//!   client lands on the next accepting task with room, in the routing's
//!   order (counted as redirected); it is refused only when no accepting
//!   task has room. The task keeps its own sessions.
//! - **Load balancer kinds.** `load_balancer = "network"` (the default):
//!   deregistration does not end sessions (long-lived connections): they
//!   carry on while the target drains, after it left the group, and while the
//!   task is DEACTIVATING. `load_balancer = "application"`, or a network one
//!   with `connection_termination = true`: when a deregistered target's delay
//!   ends and its task is still RUNNING, the sessions still on it are **cut
//!   by the load balancer**: counted per service and per task
//!   (`sessions_cut`). [`SimWorld::target_group_info`] answers the kind, the
//!   delay and the termination setting, as DescribeTargetGroups would.
//! - **Killed sessions.** A session still active when its task reaches
//!   STOPPING is **killed**: counted per service and per task (a task being
//!   stopped keeps its sessions through the delay, whatever the load
//!   balancer, and they count as killed, not cut). Killed and cut are the
//!   safety figures.
//! - **Usage and metrics.** A task's CPU is `cpu_base + cpu_per_session × its
//!   average sessions over the minute + cpu_noise × N(0,1)`, clamped to
//!   0..=100, and memory likewise. Tasks use resources while RUNNING or
//!   DEACTIVATING. The service's figure for a minute is the average over the
//!   tasks up in it, weighted by their time up; a minute with no task up has
//!   no figure. A minute `[m, m+60)` is readable from `m + 60 + metrics_delay`;
//!   a metrics read returns the latest readable minute with figures that
//!   started within `metrics_lookback`, or none. Per-task CPU and memory in
//!   [`crate::providers::ClusterTask`] are the task's last complete minute.
//! - **Session store.** Active sessions per task are exact and fresh, except
//!   for a session placed with [`SimWorld::open_session`]: a connection routed
//!   to a task just before its target was deregistered and reported late, so
//!   the store shows it only from the moment it is placed.
//! - **API faults.** None by default. A [`FaultPlan`] (`[provider.faults]`)
//!   adds throttling, 5xx, timeouts after the effect, partial batches and
//!   reads that lag writes, drawn from a seeded stream ([`faults`]).
//! - **Statistics.** [`SimStats`]: sessions started, ended, killed, cut,
//!   redirected and refused,
//!   task-seconds (creation to STOPPED, what Fargate bills) and running
//!   task-seconds, current counts, and the scale actions and API calls seen.
//!
//! # What the sim does not model
//!
//! Deployments, minimum healthy and maximum percent, availability zones and
//! their balancing, capacity shortages and task placement failures, the
//! ACTIVATING status, API latency, health checks that
//! fail on a running task, load balancer connection limits, the slow-start
//! mode, requests within a session, CPU throttling when a task is overloaded,
//! clients retrying a refused session, session-store lag or expired
//! heartbeats, and CloudWatch's statistics other than the per-minute average.
//!
//! # Workloads
//!
//! [`Workload`] maps virtual time to arrivals per minute: `steady`, `diurnal`
//! (a 24-hour sinusoid, virtual time 0 being midnight), `step`, `spike` (a
//! flash crowd: jump, hold, exponential decay), `ramp`, `sawtooth`, and
//! `trace`, the replay of a JSON-lines file:
//!
//! ```text
//! {"t": 0, "arrivals_per_min": 12.5, "mean_session_s": 1800}
//! {"t": 60, "arrivals_per_min": 14}
//! ```
//!
//! One JSON object per line, blank lines skipped. `t` (required) is a whole
//! number of seconds since the start of the simulation, increasing from line
//! to line, normally one line per minute. `arrivals_per_min` (required, at
//! least 0) holds from `t` until the next line's `t`; the last line holds for
//! 60 s. `mean_session_s` (optional, at least 1) is the mean length of
//! sessions arriving while the line holds; without it the service's
//! `session_mean` applies. Before the first line and after the last the rate
//! is 0, unless `repeat = true`, which starts the trace over every `last t +
//! 60` seconds. Any other field is an error; errors name the file, the line
//! and the field.

mod api;
mod config;
pub(crate) mod ends;
mod error;
mod events;
pub mod faults;
mod lifecycle;
mod limits;
mod random;
mod series;
mod service;
mod session_length;
pub mod session_trace;
mod sessions;
mod state;
mod stats;
mod targets;
mod task;
mod trace;
mod usage;
mod workload;
mod world;

#[cfg(test)]
mod tests;

pub use config::{SimConfig, SimLoadBalancer, SimRouting, SimServiceConfig, Usage};
pub use error::SimError;
pub use faults::{FaultKind, FaultPlan, OpFaults};
pub use limits::{MAX_SESSION, MAX_TASKS_PER_SERVICE};
pub use session_length::SessionLength;
pub use session_trace::{SessionArrival, SessionTrace};
pub use stats::SimStats;
pub use task::{SimTask, StopCause};
pub use trace::Trace;
pub use workload::{Workload, WorkloadModel};
pub use world::SimWorld;
