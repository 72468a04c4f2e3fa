//! Compiled components cached on disk by content hash, so a large component
//! (an 18 MB Python policy takes seconds to compile) loads in milliseconds
//! the second time.
//!
//! An entry is named by the sha256 of the component's bytes and a hash of the
//! engine's compatibility settings, so a new wasmtime or a new engine config
//! never reads a stale artifact. Entries are written to a temporary file and
//! renamed into place, so a crash never leaves a torn entry.
//!
//! A cached artifact is native code, so it is trusted only with proof that
//! this host wrote it for these very source bytes: each entry ends with an
//! HMAC-SHA256 tag over the source's sha256, the engine key and the artifact,
//! keyed with a secret the host keeps in the cache root (see `cache_dir`).
//! A changed byte, or an entry copied over another policy's name, fails the
//! tag (compared in constant time), is deleted and compiled again. The
//! artifact is read into memory once, checked, and deserialized from those
//! same bytes, so it cannot be swapped between the check and the use.
//!
//! Why not wasmtime's own compilation cache (`Config::cache`, the `cache`
//! feature): it keys entries by a hash of the module and the compiler
//! settings and deserializes whatever file sits under that name, trusting
//! the directory, so a swapped or altered entry would run as native code in
//! the host. SECURITY.md requires each entry to carry proof that this host
//! wrote it for these source bytes; wasmtime's cache has no hook for such a
//! tag. It would also hide whether a load came from the cache (the
//! `from_cache` a load logs and `policy check` shows) and add a cache worker
//! thread and its dependencies. This cache is the small part of it we need:
//! one entry per source hash and engine, written atomically, tagged.

use std::hash::{Hash, Hasher};

use fnv::FnvHasher;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::cache_dir::{self, KEY_BYTES};

/// Bytes in the tag at the end of each entry.
const TAG_BYTES: usize = 32;

/// The on-disk cache of compiled components.
#[derive(Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCache")
            .field("dir", &self.dir)
            .field("engine_key", &self.engine_key)
            .finish_non_exhaustive()
    }
}

impl ArtifactCache {
    /// A cache in `root` for artifacts of this engine, or none (with one WARN
    /// naming the directory and what to do) when `root` is not safe to use:
    /// not owned by this user, or writable by group or others.
    pub fn open(root: PathBuf, engine: &Engine) -> Option<Self> {
        let dir = root.join("components");
        let key = match cache_dir::open(&root, &dir) {
            Ok(key) => key,
            Err(why) => {
                tracing::warn!(dir = %root.display(), "Not using the compiled-component cache: {why}. Policies are compiled at every load until this is fixed.");
                return None;
            }
        };
        // FNV, not std's hasher: the same name for the same engine on every build.
        let mut h = FnvHasher::default();
        engine.precompile_compatibility_hash().hash(&mut h);
        Some(ArtifactCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
            key,
        })
    }

    /// The file of the entry for these source bytes.
    pub fn entry(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    fn mac(&self, sha256: &str, artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(sha256.as_bytes());
        mac.update(b"\0");
        mac.update(self.engine_key.as_bytes());
        mac.update(b"\0");
        mac.update(artifact);
        mac
    }

    /// The compiled component for these bytes, if cached, intact and tagged by this host.
    pub fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.entry(sha256);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => return self.discard(&path, &e.to_string()),
        };
        let Some(split) = bytes.len().checked_sub(TAG_BYTES) else {
            return self.discard(&path, "it is too short to carry a tag");
        };
        let (artifact, tag) = bytes.split_at(split);
        if self.mac(sha256, artifact).verify_slice(tag).is_err() {
            return self.discard(
                &path,
                "its tag does not match (it was changed, or written for other source bytes or by another host)",
            );
        }
        // SAFETY: wasmtime requires that deserialized bytes come from
        // `Component::serialize` of a compatible engine. These bytes carry an
        // HMAC tag that only this host's key makes, over the very bytes being
        // deserialized (read once, into memory), the source's sha256 and the
        // engine's compatibility hash; wasmtime also checks the header.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(engine, artifact) };
        match loaded {
            Ok(c) => Some(c),
            Err(e) => self.discard(&path, &e.to_string()),
        }
    }

    fn discard<T>(&self, path: &Path, why: &str) -> Option<T> {
        tracing::warn!(path = %path.display(), "Ignoring a cached component: {why}. It will be compiled again.");
        let _ = std::fs::remove_file(path);
        None
    }

    /// Stores a compiled component. Failures are logged, never fatal: the cache is an optimisation.
    pub fn put(&self, sha256: &str, component: &Component) {
        if let Err(e) = self.try_put(sha256, component) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "Could not cache a compiled component; the next load will compile it again.");
        }
    }

    fn try_put(&self, sha256: &str, component: &Component) -> Result<(), String> {
        cache_dir::create_private_dir(&self.dir).map_err(|e| e.to_string())?;
        let mut bytes = component.serialize().map_err(|e| e.to_string())?;
        let tag = self.mac(sha256, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        let path = self.entry(sha256);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &path).map_err(|e| e.to_string())
    }
}
