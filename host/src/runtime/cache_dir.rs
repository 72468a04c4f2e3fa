//! The cache directory's safety checks and its HMAC key.
//!
//! A cached artifact is native code that runs in the host's process, so the
//! directory must be the host user's alone: owned by it and not writable by
//! group or others. The key that tags artifacts lives in the cache root, beside
//! `components/`, readable by the owner only.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Bytes in the HMAC key.
pub(crate) const KEY_BYTES: usize = 32;

/// The key file's name in the cache root.
const KEY_FILE: &str = "key";

/// Creates `root` (owner-only) if missing, checks it and `components/` in it,
/// and returns the key, made on first use. The error says what is wrong and what to do.
pub(crate) fn open(root: &Path, components: &Path) -> Result<[u8; KEY_BYTES], String> {
    create_private_dir(root)
        .map_err(|e| format!("cannot create it: {e}; create it, owned by this user, mode 0700"))?;
    check_private(root)?;
    if components.exists() {
        check_private(components)?;
    }
    load_or_make_key(&root.join(KEY_FILE))
}

/// Creates `dir` and any missing parents with owner-only permissions.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}

/// Refuses `path` unless it is owned by this user and not writable by group or others.
fn check_private(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
    let me = effective_uid();
    if meta.uid() != me {
        return Err(format!(
            "{} is owned by user {}, not by this host's user {me}; use a directory this user owns (`[cache_dir]` or $AUTOSCALER_CACHE_DIR)",
            path.display(),
            meta.uid()
        ));
    }
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", path.display()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o}); run `chmod go-w {}`",
            path.display(),
            meta.mode() & 0o777,
            path.display()
        ));
    }
    Ok(())
}

/// Reads the key at `path`, or makes one there (mode 0600) if there is none.
fn load_or_make_key(path: &Path) -> Result<[u8; KEY_BYTES], String> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
            if meta.uid() != effective_uid() || meta.mode() & 0o077 != 0 {
                return Err(format!(
                    "the cache key {} must be owned by this user and readable by it alone (mode 0600, now {:o}); delete it and a new one is made",
                    path.display(),
                    meta.mode() & 0o777
                ));
            }
            bytes.try_into().map_err(|b: Vec<u8>| {
                format!(
                    "the cache key {} is {} bytes, not {KEY_BYTES}; delete it and a new one is made",
                    path.display(),
                    b.len()
                )
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => make_key(path),
        Err(e) => Err(format!("cannot read the cache key {}: {e}", path.display())),
    }
}

fn make_key(path: &Path) -> Result<[u8; KEY_BYTES], String> {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness for the cache key: {e}"))?;
    // Written beside, then renamed: two hosts starting at once each write a
    // whole key, and the loser's artifacts just fail their tag and recompile.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("cannot write the cache key {}: {e}", path.display()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn runtime_cache_dir_writable_by_group_is_refused_saying_what_to_do() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o775)).unwrap();
        let why = open(root.path(), &root.path().join("components")).unwrap_err();
        assert!(why.contains("writable by group or others"), "{why}");
        assert!(why.contains(&root.path().display().to_string()), "{why}");
        assert!(why.contains("chmod go-w"), "{why}");
        assert!(
            !root.path().join(KEY_FILE).exists(),
            "no key made in an unsafe dir"
        );
    }

    #[test]
    fn runtime_cache_key_is_made_once_owner_only_and_kept() {
        let root = tempfile::tempdir().unwrap();
        let components = root.path().join("components");
        let first = open(root.path(), &components).unwrap();
        let mode = std::fs::metadata(root.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(open(root.path(), &components).unwrap(), first);
        // A key others can read is refused, not used.
        std::fs::set_permissions(
            root.path().join(KEY_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let why = open(root.path(), &components).unwrap_err();
        assert!(why.contains("0600"), "{why}");
    }
}
