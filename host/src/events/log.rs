//! The log line of each [`Event`]. Free text (errors, reasons, names) is
//! escaped, so a log line can never be forged from a field. Enum fields go
//! in as their `&'static str` names, so they print like any other string
//! field (quoted), as they did when events carried strings.

use super::event::Event;
use crate::escape::Escaped;
use crate::tick::guard::Action;

/// Writes the log line of `event`, if it has one.
pub(super) fn log(event: &Event<'_>) {
    match *event {
        Event::TickFinished {
            service,
            action,
            summary,
        } => {
            // Holds are the common case; actions are worth a line at info.
            let summary = Escaped(summary);
            let name = action.name();
            if *action == Action::Hold {
                tracing::debug!(service, action = name, "{summary}");
            } else {
                tracing::info!(service, action = name, "{summary}");
            }
        }
        Event::GatherFailed { service, error } => {
            tracing::warn!(
                service,
                "Could not gather a snapshot, so this tick holds: {}",
                Escaped(error)
            );
        }
        Event::PolicyCalled { .. } | Event::CordonedTasks { .. } => {}
        Event::PolicyFaulted {
            service,
            policy,
            kind,
            message,
            shadow,
        } => {
            let role = if shadow { "shadow" } else { "live" };
            tracing::warn!(
                service,
                policy = %Escaped(policy),
                kind = <&str>::from(kind),
                role,
                "The {role} policy faulted and its decision is void: {}",
                Escaped(message)
            );
        }
        Event::GuardAdjusted {
            service,
            rule,
            reason,
        } => {
            tracing::debug!(
                service,
                rule = rule.name(),
                "The guard adjusted the decision: {}",
                Escaped(reason)
            );
        }
        Event::DesiredSet { service, desired } => {
            tracing::info!(service, desired, "Set the desired count to {desired}.");
        }
        Event::ActionFailed { service, error } => {
            tracing::warn!(
                service,
                "An action failed; the next tick decides again: {}",
                Escaped(error)
            );
        }
        Event::DrainStep {
            service,
            task,
            step,
        } => {
            let task = Escaped(task);
            tracing::debug!(service, %task, step = <&str>::from(step), "Drain step {step} done for task {task}.");
        }
        Event::DrainRetried {
            service,
            task,
            step,
            error,
        } => {
            let task = Escaped(task);
            tracing::warn!(
                service,
                %task,
                step = <&str>::from(step),
                "Drain step {step} failed for task {task}; retrying after a backoff: {}",
                Escaped(error)
            );
        }
        Event::DrainFinished {
            service,
            task,
            outcome,
            detail,
        } => {
            let task = Escaped(task);
            tracing::info!(
                service,
                %task,
                outcome = <&str>::from(outcome),
                "Drain of task {task} finished: {outcome}. {}",
                Escaped(detail)
            );
        }
        Event::Cordoned {
            service,
            task,
            mechanism,
        } => {
            let task = Escaped(task);
            tracing::info!(service, %task, mechanism = <&str>::from(mechanism), "Cordoned task {task} ({mechanism}): it takes no new sessions and stops once its sessions end.");
        }
        Event::Uncordoned {
            service,
            task,
            reason,
        } => {
            let task = Escaped(task);
            tracing::info!(service, %task, "Uncordoned task {task}: it serves new sessions again. {}", Escaped(reason));
        }
        Event::ReDeregistered {
            service,
            task,
            error,
        } => {
            let task = Escaped(task);
            match error {
                None => {
                    tracing::warn!(service, %task, "The cordoned task {task}'s target was registered again (by ECS or a person); deregistered it again.")
                }
                Some(e) => {
                    tracing::warn!(service, %task, "The cordoned task {task}'s target was registered again, and deregistering it again failed (retried next tick): {}", Escaped(e))
                }
            }
        }
        Event::FallbackDecided {
            service,
            policy,
            faults,
            window,
        } => {
            let policy = Escaped(policy);
            tracing::warn!(
                service,
                %policy,
                faults,
                "The live policy faulted on {faults} of the last {window} ticks, so the fallback policy {policy} decided this tick."
            );
        }
        Event::PolicyReloaded {
            service,
            path,
            error,
        } => {
            let path = Escaped(path);
            match error {
                None => tracing::info!(
                    service,
                    %path,
                    "Reloaded the policy from {path}; it decides from the next tick on."
                ),
                Some(e) => tracing::error!(
                    service,
                    %path,
                    "Refused the changed policy file {path}; the previous policy keeps running: {}",
                    Escaped(e)
                ),
            }
        }
    }
}
