//! The sim's bounds on a service and a session, and the check of a
//! non-negative figure, shared by the configs and the trace readers.

use std::time::Duration;

use super::error::SimError;

/// The most tasks a service may want (the ECS quota of tasks per service).
pub const MAX_TASKS_PER_SERVICE: u32 = 5000;

/// The longest session a length distribution or a sessions trace may give.
pub const MAX_SESSION: Duration = Duration::from_secs(30 * 86_400);

/// Checks that `value` is a finite number at least zero.
pub(crate) fn check_non_negative(field: &str, value: f64) -> Result<(), SimError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(SimError::config(
            field,
            format!("expected a finite number at least 0, found {value}"),
        ))
    }
}
