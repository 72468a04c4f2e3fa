//! Bearer tokens for the ingest API: read from a file (one token a line,
//! blank lines and `#` comments ignored), re-read whenever the file's
//! inode, size, modification or change time changes, and compared in
//! constant time. A deleted file fails closed: no token is accepted until it
//! is back.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use subtle::ConstantTimeEq;

/// The tokens of one file.
#[derive(Debug, Clone, Default)]
pub struct Tokens(Vec<Vec<u8>>);

impl Tokens {
    /// Reads the tokens in `path`; the error names the file.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the tokens file {}: {e}; create it with one token a line",
                path.display()
            )
        })?;
        Ok(Tokens::parse(&text))
    }

    /// The tokens in `text`: one a line, trimmed; blank lines and `#` comments ignored.
    pub fn parse(text: &str) -> Tokens {
        Tokens(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.as_bytes().to_vec())
                .collect(),
        )
    }

    /// Whether there is no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `candidate` is one of the tokens. Every token is compared, each
    /// in constant time, so the time taken does not tell how much matched.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        let mut found = subtle::Choice::from(0);
        for token in &self.0 {
            found |= token.as_slice().ct_eq(candidate);
        }
        bool::from(found) && !candidate.is_empty()
    }
}

/// What tells one version of the file from another: a rewrite of the same
/// size that keeps the modification time still changes the change time (and
/// a rename over it the inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
    ctime: i64,
    ctime_nsec: i64,
}

#[derive(Debug)]
struct Loaded {
    stamp: Option<Stamp>,
    tokens: Tokens,
    /// The file was found missing and that was logged.
    missing: bool,
}

/// A tokens file, re-read when it changes.
#[derive(Debug, Clone)]
pub struct TokensFile {
    path: PathBuf,
    loaded: Arc<Mutex<Loaded>>,
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        ino: meta.ino(),
        ctime: meta.ctime(),
        ctime_nsec: meta.ctime_nsec(),
    }
}

/// Whether the file's mode lets its group or everyone read it.
fn readable_by_others(meta: &std::fs::Metadata) -> bool {
    meta.mode() & 0o044 != 0
}

impl TokensFile {
    /// Reads `path` now; the error names the file.
    /// WARNs once if the file is readable by its group or by everyone.
    pub fn open(path: &Path) -> Result<TokensFile, String> {
        let meta = std::fs::metadata(path).ok();
        let tokens = Tokens::load(path)?;
        if meta.as_ref().is_some_and(readable_by_others) {
            tracing::warn!(
                file = %path.display(),
                "The ingest tokens file {} is readable by its group or by everyone: \
                 anyone who can read it can forge session events; chmod 600 it.",
                path.display()
            );
        }
        Ok(TokensFile {
            path: path.to_path_buf(),
            loaded: Arc::new(Mutex::new(Loaded {
                stamp: meta.as_ref().map(stamp),
                tokens,
                missing: false,
            })),
        })
    }

    /// Whether `candidate` is a current token. The file is checked (one
    /// `stat`) on every call and re-read when its inode, size, modification
    /// or change time changed. If it is gone (cannot be `stat`ed), no token
    /// is accepted (one WARN naming it) until it is back; if it is there but
    /// cannot be read, the tokens read last stay in force.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        let meta = std::fs::metadata(&self.path);
        let mut loaded = self.loaded.lock();
        let now = match meta {
            Ok(meta) => Some(stamp(&meta)),
            Err(e) => {
                if !loaded.missing {
                    tracing::warn!(
                        file = %self.path.display(),
                        "The ingest tokens file {} is gone ({e}): no token is accepted until it is back.",
                        self.path.display()
                    );
                    loaded.missing = true;
                }
                loaded.tokens = Tokens::default();
                loaded.stamp = None;
                return false;
            }
        };
        loaded.missing = false;
        if now != loaded.stamp {
            match Tokens::load(&self.path) {
                Ok(tokens) => {
                    tracing::info!(file = %self.path.display(), count = tokens.0.len(), "The ingest tokens file changed and was re-read.");
                    loaded.tokens = tokens;
                    loaded.stamp = now;
                }
                Err(e) => tracing::warn!("{e}; the tokens read before stay in force."),
            }
        }
        loaded.tokens.accepts(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_and_comments_are_not_tokens() {
        let t = Tokens::parse("# rotated 2026-11-30\n\n  alpha  \nbeta\n#gamma\n");
        assert!(t.accepts(b"alpha"));
        assert!(t.accepts(b"beta"));
        assert!(!t.accepts(b"gamma"));
        assert!(!t.accepts(b"#gamma"));
        assert!(!t.accepts(b""));
        assert!(!t.accepts(b"alph"));
        assert!(Tokens::parse("# only a comment\n\n").is_empty());
    }

    #[test]
    fn a_rewritten_tokens_file_is_re_read_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "old-token\n").unwrap();
        let file = TokensFile::open(&path).unwrap();
        assert!(file.accepts(b"old-token"));
        // A different size, so the change is seen even within one mtime tick.
        std::fs::write(&path, "new-token-after-rotation\n").unwrap();
        assert!(file.accepts(b"new-token-after-rotation"));
        assert!(!file.accepts(b"old-token"));
    }

    #[test]
    fn a_same_size_rewrite_that_keeps_the_modification_time_is_re_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "token-aaaa\n").unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let file = TokensFile::open(&path).unwrap();
        assert!(file.accepts(b"token-aaaa"));
        std::fs::write(&path, "token-bbbb\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert!(file.accepts(b"token-bbbb"));
        assert!(!file.accepts(b"token-aaaa"));
    }

    /// Runs `f` with this thread's logs captured; returns them.
    fn logs(f: impl FnOnce()) -> String {
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Writer(writer.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.lock().clone()).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_deleted_tokens_file_fails_closed_with_one_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "kept-token\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = TokensFile::open(&path).unwrap();
        assert!(file.accepts(b"kept-token"));
        std::fs::remove_file(&path).unwrap();
        let out = logs(|| {
            for _ in 0..3 {
                assert!(!file.accepts(b"kept-token"));
            }
        });
        assert_eq!(out.matches("WARN").count(), 1, "{out}");
        assert!(out.contains(&path.display().to_string()), "{out}");
        std::fs::write(&path, "kept-token\n").unwrap();
        assert!(
            file.accepts(b"kept-token"),
            "accepted again once it is back"
        );
    }

    #[test]
    fn a_tokens_file_others_can_read_warns_once_at_start() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "t\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = logs(|| {
            let file = TokensFile::open(&path).unwrap();
            assert!(file.accepts(b"t"));
            assert!(file.accepts(b"t"));
        });
        assert_eq!(out.matches("WARN").count(), 1, "{out}");
        assert!(
            out.contains("readable by its group or by everyone"),
            "{out}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = logs(|| {
            TokensFile::open(&path).unwrap();
        });
        assert!(!out.contains("WARN"), "{out}");
    }
}
