//! Logging from a policy: messages go to the host's log, tagged with the policy's name.
//!
//! In native tests they go to standard error.

#[cfg(target_arch = "wasm32")]
use crate::bindings::autoscaler::policy::host::{self, Level};

fn write(level: &'static str, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        let level = match level {
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" => Level::Warn,
            _ => Level::Error,
        };
        host::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[policy {level}] {message}");
}

/// Logs detail for debugging a policy.
pub fn debug(message: &str) {
    write("debug", message);
}
/// Logs normal information.
pub fn info(message: &str) {
    write("info", message);
}
/// Logs something surprising that the policy handled.
pub fn warn(message: &str) {
    write("warn", message);
}
/// Logs something that went wrong.
pub fn error(message: &str) {
    write("error", message);
}
