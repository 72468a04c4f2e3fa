//! Helpers shared by the integration tests.

use std::sync::OnceLock;

use autoscaler::runtime::{Limits, PolicyEngine};

/// An engine with default limits and no on-disk cache, shared by the tests of this binary.
pub fn engine() -> PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| PolicyEngine::new(Limits::default(), None).expect("engine"))
        .clone()
}

/// The workspace root.
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The compiled-artifact cache the tests share (under target/).
pub fn test_cache() -> std::path::PathBuf {
    root().join("target").join("test-cache")
}

/// Lets `service` start nothing new while its drains in flight go on (a
/// test's quiet end; `--dry-run` would pause those drains too): cooldowns
/// that never run out, counted from `now`.
pub fn no_new_actions(service: &mut autoscaler::tick::Service, now: u64) {
    let forever = std::time::Duration::from_secs(1 << 40);
    service.spec.guard.scale_out_cooldown = forever;
    service.spec.guard.scale_in_cooldown = forever;
    service.guard_state.last_scale_out = Some(now);
    service.guard_state.last_scale_in = Some(now);
}

/// Log lines captured on this thread (a current-thread test runtime's).
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures INFO and above on this thread until the guard is dropped.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// The lines at `level` (`WARN`, `INFO`, ...).
    pub fn lines(&self, level: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(&format!(" {level} ")))
            .map(str::to_string)
            .collect()
    }
}
