//! rotate: an append-only JSON-lines file that rotates by size and age,
//! keeping a fixed number of older files. The daemon's `decisions.jsonl` and
//! `reloads.jsonl` are written through it.
//!
//! Rotation happens only between whole lines: a line is written with one
//! `write` call to the current file, and the file is rotated *before* a line
//! that would take it past `max_size` (or once it is `max_age` old), never in
//! the middle of one. So a record is never split between two files. A line
//! longer than `max_size` gets a file of its own.
//!
//! Rotated files are numbered, newest first: `decisions.jsonl` is current,
//! `decisions.1.jsonl` the one before it, up to `decisions.{keep}.jsonl`; a
//! rotation renames each one up by one and deletes what would pass `keep`.
//! [`files`] lists them oldest first, for readers that want every record in
//! order.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytesize::ByteSize;
use serde::Deserialize;

/// When a record file rotates and how many older files are kept: the
/// `[records]` table of the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Rotate before a line would take the current file past this size
    /// (such as "64MiB" or "500KB"; a bare number is bytes).
    #[serde(default = "default_max_size")]
    pub max_size: ByteSize,
    /// Rotate once the current file is this old (such as "24h").
    #[serde(default = "default_max_age", with = "humantime_serde")]
    pub max_age: Duration,
    /// How many rotated files to keep besides the current one; older ones are deleted.
    #[serde(default = "default_keep")]
    pub keep: u32,
}

fn default_max_size() -> ByteSize {
    ByteSize::mib(64)
}

fn default_max_age() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_keep() -> u32 {
    7
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_size: default_max_size(),
            max_age: default_max_age(),
            keep: default_keep(),
        }
    }
}

impl Rotation {
    /// Checks the values; on error, the field (within the table) and what to do.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_size.as_u64() == 0 {
            return Err((
                "max_size",
                "expected a size above 0, such as \"64MiB\"".into(),
            ));
        }
        if self.max_age < Duration::from_secs(1) {
            return Err((
                "max_age",
                "expected at least \"1s\", such as \"24h\"".into(),
            ));
        }
        if self.keep == 0 {
            return Err((
                "keep",
                "expected at least 1 rotated file, or every rotation would delete records".into(),
            ));
        }
        Ok(())
    }
}

/// What time it is on the wall; injectable so tests can age files.
pub type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The `n`th rotated file of `path`: `decisions.jsonl` -> `decisions.{n}.jsonl`.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let (stem, ext) = stem_ext(path);
    path.with_file_name(match ext {
        Some(ext) => format!("{stem}.{n}.{ext}"),
        None => format!("{stem}.{n}"),
    })
}

fn stem_ext(path: &Path) -> (String, Option<String>) {
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
    (stem, ext)
}

/// The rotated files of `path` that exist, as (number, path), in no order.
fn numbered(path: &Path) -> std::io::Result<Vec<(u32, PathBuf)>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (stem, ext) = stem_ext(path);
    let prefix = format!("{stem}.");
    let suffix = ext.map(|e| format!(".{e}")).unwrap_or_default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let n = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(&suffix))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = n.filter(|&n| n > 0) {
            found.push((n, entry.path()));
        }
    }
    Ok(found)
}

/// Every file of `path` that exists, oldest first (`decisions.7.jsonl`, ...,
/// `decisions.1.jsonl`, `decisions.jsonl`): reading them in this order gives
/// every kept record in the order it was written.
pub fn files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut all = numbered(path)?;
    all.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut out: Vec<PathBuf> = all.into_iter().map(|(_, p)| p).collect();
    if path.exists() {
        out.push(path.to_path_buf());
    }
    Ok(out)
}

/// An append-only lines file that rotates by [`Rotation`].
pub struct RotatingFile {
    path: PathBuf,
    rotation: Rotation,
    clock: WallClock,
    file: File,
    /// Bytes in the current file.
    size: u64,
    /// When the current file was started.
    started: SystemTime,
    line: Vec<u8>,
}

impl RotatingFile {
    /// Opens `path` for appending (creating it and its folder): a restarted
    /// host goes on in the current file.
    pub fn open(path: &Path, rotation: Rotation) -> std::io::Result<Self> {
        Self::open_with_clock(path, rotation, Arc::new(SystemTime::now))
    }

    /// [`RotatingFile::open`] with a given clock.
    ///
    /// The age of a file that already holds lines is counted from its
    /// creation time where the file system records one, else from its last
    /// change.
    pub fn open_with_clock(
        path: &Path,
        rotation: Rotation,
        clock: WallClock,
    ) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = open_append(path)?;
        let meta = file.metadata()?;
        let mut size = meta.len();
        let started = if size == 0 {
            clock()
        } else {
            meta.created()
                .or_else(|_| meta.modified())
                .unwrap_or_else(|_| clock())
        };
        // A host that crashed in the middle of a write left a torn last line:
        // end it, so the next record starts on a line of its own.
        if size > 0 && !ends_with_newline(&mut file)? {
            file.write_all(b"\n")?;
            size += 1;
        }
        Ok(RotatingFile {
            path: path.to_path_buf(),
            rotation,
            clock,
            file,
            size,
            started,
            line: Vec::new(),
        })
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` (without its newline) as one line, rotating first if
    /// the current file is full or old. The line reaches the file in one
    /// write, so a crash loses at most this line, never an earlier one.
    pub fn append_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        debug_assert!(!line.contains(&b'\n'), "a record is one line");
        let len = line.len() as u64 + 1;
        let full = self.size + len > self.rotation.max_size.as_u64();
        let old = (self.clock)()
            .duration_since(self.started)
            .unwrap_or_default()
            >= self.rotation.max_age;
        if self.size > 0 && (full || old) {
            self.rotate().map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot rotate {}: {e}", self.path.display()),
                )
            })?;
        }
        self.line.clear();
        self.line.extend_from_slice(line);
        self.line.push(b'\n');
        self.file.write_all(&self.line)?;
        self.size += len;
        Ok(())
    }

    /// Renames the current file to `.1`, each older one up by one, deletes
    /// those past `keep`, and starts a new current file. Each step is a
    /// rename or a delete of a whole file, so a crash part way loses no line
    /// that a kept file held.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        if !self.path.exists() {
            // An earlier rotation moved the current file away but could not
            // open a new one: open it now, and shift nothing (shifting again
            // would push one more kept file out on every try).
            self.file = open_append(&self.path)?;
            self.size = 0;
            self.started = (self.clock)();
            return Ok(());
        }
        let keep = self.rotation.keep;
        let mut older = numbered(&self.path)?;
        for (_, p) in older.iter().filter(|(n, _)| *n >= keep) {
            std::fs::remove_file(p)?;
        }
        older.retain(|(n, _)| *n < keep);
        older.sort_by_key(|f| std::cmp::Reverse(f.0));
        for (n, p) in &older {
            std::fs::rename(p, rotated(&self.path, n + 1))?;
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        self.started = (self.clock)();
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    let mut last = [0u8];
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests;
