//! Bearer tokens for the ingest API: read from a file (one token a line,
//! blank lines and `#` comments ignored), re-read whenever the file's
//! modification time or size changes, and compared in constant time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

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

#[derive(Debug)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    tokens: Tokens,
}

/// A tokens file, re-read when it changes.
#[derive(Debug, Clone)]
pub struct TokensFile {
    path: PathBuf,
    loaded: Arc<Mutex<Loaded>>,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl TokensFile {
    /// Reads `path` now; the error names the file.
    pub fn open(path: &Path) -> Result<TokensFile, String> {
        let stamp = stamp(path);
        let tokens = Tokens::load(path)?;
        Ok(TokensFile {
            path: path.to_path_buf(),
            loaded: Arc::new(Mutex::new(Loaded { stamp, tokens })),
        })
    }

    /// Whether `candidate` is a current token. The file is checked (one
    /// `stat`) on every call and re-read when its modification time or size
    /// changed; if it cannot be read, the tokens read last stay in force.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        let now = stamp(&self.path);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if now.is_some() && now != loaded.stamp {
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
}
