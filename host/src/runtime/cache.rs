//! Compiled components cached on disk by content hash, so a large component
//! (an 18 MB Python policy takes seconds to compile) loads in milliseconds
//! the second time.
//!
//! An entry is named by the sha256 of the component's bytes and a hash of the
//! engine's compatibility settings, so a new wasmtime or a new engine config
//! never reads a stale artifact. Entries are written to a temporary file and
//! renamed into place, so a crash never leaves a torn entry.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The on-disk cache of compiled components.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

impl ArtifactCache {
    /// A cache in `dir` for artifacts of this engine. The directory is created on first write.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        ArtifactCache {
            dir: dir.join("components"),
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    fn entry(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for these bytes, if cached and readable.
    pub fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.entry(sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: wasmtime requires that deserialized bytes come from
        // `Component::serialize` of a compatible engine. Entries are written
        // only by `put` below, into a directory created with owner-only
        // permissions, atomically (temp file + rename), and their names carry
        // the engine's compatibility hash; wasmtime also checks the header.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Ignoring an unreadable cached component; it will be compiled again.");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a compiled component. Failures are logged, never fatal: the cache is an optimisation.
    pub fn put(&self, sha256: &str, component: &Component) {
        if let Err(e) = self.try_put(sha256, component) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "Could not cache a compiled component; the next load will compile it again.");
        }
    }

    fn try_put(&self, sha256: &str, component: &Component) -> Result<(), String> {
        create_private_dir(&self.dir).map_err(|e| e.to_string())?;
        let bytes = component.serialize().map_err(|e| e.to_string())?;
        let path = self.entry(sha256);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &path).map_err(|e| e.to_string())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
