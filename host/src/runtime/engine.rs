//! The shared wasmtime engine, its limits, and the epoch ticker that bounds wall time.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde::Deserialize;
use wasmtime::{Config, Engine, OptLevel};

use super::cache::ArtifactCache;
use super::fault::LoadError;

/// How often the epoch ticker advances the engine's epoch.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The limits every policy call runs under.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The most memory a policy instance may hold, in bytes: all its linear
    /// memories together, plus its tables at 8 bytes an element. A component
    /// holds several core instances, each with its own memories and tables;
    /// the cap is on their sum, so declaring more memories gains nothing.
    pub memory_bytes: usize,
    /// The most linear memories a policy instance may declare, across all its
    /// core instances. A Rust policy has 1, a JavaScript one 3, a Python one 1.
    pub max_memories: usize,
    /// The most tables a policy instance may declare, across all its core
    /// instances. A Rust policy has 2, a JavaScript one 3, a Python one 2.
    pub max_tables: usize,
    /// The most core instances a policy component may create when it starts
    /// (also checked before compiling, against its core instantiations). A
    /// Rust policy creates about 20, a Python one about 110. Each holds its
    /// module's globals in host memory, so this and `max_globals` bound it.
    pub max_instances: usize,
    /// Fuel (roughly, WebAssembly instructions) per call. Deterministic, so a
    /// backtest reproduces exactly; an endless loop ends when it runs out.
    pub fuel: u64,
    /// Wall time per call, enforced by epoch interruption: the backstop for
    /// anything fuel does not catch.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The longest `reason` a decision may carry, in bytes.
    pub max_reason_bytes: usize,
    /// The most drain candidates a decision may name.
    pub max_drain: usize,
    /// The most log lines a call may write; more are dropped and counted.
    pub max_log_lines: usize,
    /// The longest log line, in bytes; longer ones are truncated.
    pub max_log_bytes: usize,
    /// The most log bytes a call may keep, over all its lines. Only the kept
    /// part of a message is ever copied into the host; once the budget is
    /// spent, further lines are dropped and counted.
    pub log_budget_bytes: usize,
    /// The largest policy file (`.wasm`) the host reads, in bytes. Larger
    /// files are refused before being read. A Python policy is about 19 MB.
    pub max_component_bytes: u64,
    /// The most functions a component may define, over all its core modules,
    /// checked before compiling. Compile time grows with the number of
    /// functions (150,000 empty ones, 600 KB, take 31 s in a debug build), so
    /// this bounds it; a Python policy defines about 13,500.
    pub max_functions: usize,
    /// The largest function body a component may hold, in bytes, checked
    /// before compiling (compile time grows with the size of a function). The
    /// largest in a Python policy (the interpreter loop) is about 430 KB.
    pub max_function_body_bytes: usize,
    /// The most globals one core module may define, checked before
    /// compiling. Each instance of the module holds them all (16 bytes each)
    /// in memory the host allocates outside fuel and epochs. The largest
    /// module of a Python policy defines 508.
    pub max_globals: usize,
    /// The most globals all core instances may hold: core instantiations
    /// times the globals of the largest module, checked before compiling
    /// (a Python policy: 38 x 508 = 19,304).
    pub max_instance_globals: usize,
    /// The most core module imports plus canonical functions a component
    /// may hold, checked before compiling (each lowered import is a compiled
    /// trampoline). A Python policy has 2,396.
    pub max_imports: usize,
    /// The most locals a component's functions may declare, summed over all
    /// of them, checked before compiling. A Python policy declares 47,728.
    pub max_locals: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 128 << 20,
            max_memories: 8,
            max_tables: 32,
            max_instances: 250,
            fuel: 200_000_000,
            timeout: Duration::from_millis(50),
            max_reason_bytes: 4096,
            max_drain: 10_000,
            max_log_lines: 100,
            max_log_bytes: 4096,
            log_budget_bytes: 64 << 10,
            max_component_bytes: 50_000_000,
            max_functions: 30_000,
            max_function_body_bytes: 1 << 20,
            max_globals: 10_000,
            max_instance_globals: 200_000,
            max_imports: 25_000,
            max_locals: 1_000_000,
        }
    }
}

struct Inner {
    engine: Engine,
    limits: Limits,
    cache: Option<ArtifactCache>,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The engine every policy is compiled and run with. Cheap to clone.
#[derive(Clone)]
pub struct PolicyEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("limits", &self.inner.limits)
            .finish()
    }
}

impl PolicyEngine {
    /// An engine with these limits, caching compiled components in `cache_dir`
    /// (none disables the cache; so does a directory that is not safe to use,
    /// with a WARN saying why).
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self, LoadError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            // QuickJS-built components use the async ABI's builtins even when synchronous.
            .wasm_component_model_async(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed)
            .max_wasm_stack(1 << 20);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(e.to_string()))?;
        let cache = cache_dir.and_then(|dir| ArtifactCache::open(dir, &engine));

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (ticker_engine, stop) = (engine.clone(), stop_ticker.clone());
        thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| LoadError::Engine(format!("cannot start the epoch ticker: {e}")))?;

        Ok(PolicyEngine {
            inner: Arc::new(Inner {
                engine,
                limits,
                cache,
                stop_ticker,
            }),
        })
    }

    /// The default cache directory: `$AUTOSCALER_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/autoscaler`, else `~/.cache/autoscaler`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("AUTOSCALER_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("autoscaler"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("autoscaler"))
    }

    /// The wasmtime engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The compiled-artifact cache, if enabled.
    pub(crate) fn cache(&self) -> Option<&ArtifactCache> {
        self.inner.cache.as_ref()
    }

    /// The epoch deadline, in ticks, that matches the configured timeout.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.inner.limits.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}
