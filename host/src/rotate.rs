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
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A clock the test moves by hand.
    fn clock() -> (WallClock, Arc<Mutex<SystemTime>>) {
        let now = Arc::new(Mutex::new(SystemTime::now()));
        let read = now.clone();
        (Arc::new(move || *read.lock().unwrap()), now)
    }

    fn rotation(max_size: u64, max_age: Duration, keep: u32) -> Rotation {
        Rotation {
            max_size: ByteSize::b(max_size),
            max_age,
            keep,
        }
    }

    /// `{"n":i,"pad":"xxx..."}`: a record of about `width` bytes.
    fn record(i: usize, width: usize) -> String {
        let line = format!("{{\"n\":{i},\"pad\":\"\"}}");
        let pad = "x".repeat(width.saturating_sub(line.len()));
        format!("{{\"n\":{i},\"pad\":\"{pad}\"}}")
    }

    /// Every line of every file, oldest first, parsed; and the files' sizes.
    fn read_all(path: &Path) -> (Vec<usize>, Vec<u64>) {
        let mut ns = Vec::new();
        let mut sizes = Vec::new();
        for f in files(path).unwrap() {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(text.ends_with('\n'), "{} ends mid-line", f.display());
            sizes.push(text.len() as u64);
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: torn line {line:?}: {e}", f.display()));
                ns.push(v["n"].as_u64().unwrap() as usize);
            }
        }
        (ns, sizes)
    }

    #[test]
    fn rotates_by_size_between_whole_lines_keeping_every_record_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let (clock, _) = clock();
        // 100-byte lines (99 + newline) in files of at most 350 bytes: 3 lines a file.
        let mut f =
            RotatingFile::open_with_clock(&path, rotation(350, Duration::MAX, 10), clock).unwrap();
        for i in 0..20 {
            f.append_line(record(i, 99).as_bytes()).unwrap();
        }
        let (ns, sizes) = read_all(&path);
        assert_eq!(ns, (0..20).collect::<Vec<_>>());
        assert_eq!(sizes, [300, 300, 300, 300, 300, 300, 200]);
        assert!(rotated(&path, 6).exists() && !rotated(&path, 7).exists());
        // The newest rotated file holds the lines just before the current file's.
        let one = std::fs::read_to_string(rotated(&path, 1)).unwrap();
        assert!(one.starts_with("{\"n\":15,"), "{one}");
    }

    #[test]
    fn a_line_longer_than_max_size_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reloads.jsonl");
        let (clock, _) = clock();
        let mut f =
            RotatingFile::open_with_clock(&path, rotation(100, Duration::MAX, 5), clock).unwrap();
        f.append_line(record(0, 40).as_bytes()).unwrap();
        f.append_line(record(1, 500).as_bytes()).unwrap();
        f.append_line(record(2, 40).as_bytes()).unwrap();
        let (ns, sizes) = read_all(&path);
        assert_eq!(ns, [0, 1, 2]);
        assert_eq!(sizes, [41, 501, 41]);
    }

    #[test]
    fn rotates_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let (clock, now) = clock();
        let hour = Duration::from_secs(3600);
        let mut f =
            RotatingFile::open_with_clock(&path, rotation(1 << 30, 24 * hour, 7), clock).unwrap();
        let start = *now.lock().unwrap();
        for i in 0..48 {
            *now.lock().unwrap() = start + i as u32 * hour;
            f.append_line(record(i, 50).as_bytes()).unwrap();
        }
        // Lines 0..24 were written at hours 0..23 of the first file; line 24
        // came at hour 24 and started the second file.
        let (ns, sizes) = read_all(&path);
        assert_eq!(ns, (0..48).collect::<Vec<_>>());
        assert_eq!(sizes, [24 * 51, 24 * 51]);
        // At hour 47 the second file is 23 hours old: no rotation; at hour 48 it is 24.
        f.append_line(record(48, 50).as_bytes()).unwrap();
        assert_eq!(read_all(&path).1, [24 * 51, 25 * 51]);
        *now.lock().unwrap() = start + 48 * hour;
        f.append_line(record(49, 50).as_bytes()).unwrap();
        let (ns, sizes) = read_all(&path);
        assert_eq!(ns, (0..50).collect::<Vec<_>>());
        assert_eq!(sizes, [24 * 51, 25 * 51, 51]);
    }

    #[test]
    fn keeps_only_keep_rotated_files_and_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let (clock, _) = clock();
        // One 100-byte line a file.
        let mut f =
            RotatingFile::open_with_clock(&path, rotation(100, Duration::MAX, 3), clock).unwrap();
        for i in 0..10 {
            f.append_line(record(i, 99).as_bytes()).unwrap();
        }
        let names: Vec<String> = files(&path)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "decisions.3.jsonl",
                "decisions.2.jsonl",
                "decisions.1.jsonl",
                "decisions.jsonl"
            ]
        );
        let (ns, _) = read_all(&path);
        assert_eq!(ns, [6, 7, 8, 9], "the newest records stay, in order");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn a_restarted_writer_appends_to_the_current_file_and_ends_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let (clock, _) = clock();
        let rot = rotation(1000, Duration::from_secs(3600), 7);
        {
            let mut f = RotatingFile::open_with_clock(&path, rot.clone(), clock.clone()).unwrap();
            f.append_line(record(0, 99).as_bytes()).unwrap();
            f.append_line(record(1, 99).as_bytes()).unwrap();
        }
        let mut f = RotatingFile::open_with_clock(&path, rot.clone(), clock.clone()).unwrap();
        f.append_line(record(2, 99).as_bytes()).unwrap();
        assert_eq!(
            files(&path).unwrap(),
            std::slice::from_ref(&path),
            "no rotation on restart"
        );
        let (ns, _) = read_all(&path);
        assert_eq!(ns, [0, 1, 2]);
        // The bytes written before the restart count: ten lines fill the
        // 1,000 bytes, the eleventh starts a new file.
        for i in 3..11 {
            f.append_line(record(i, 99).as_bytes()).unwrap();
        }
        drop(f);
        let (ns, sizes) = read_all(&path);
        assert_eq!(ns, (0..11).collect::<Vec<_>>());
        assert_eq!(sizes, [1000, 100]);

        // A crash in the middle of a write: the torn line is ended, and the
        // next record starts on its own line.
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(b"{\"n\":11,\"pa").unwrap();
        drop(raw);
        let mut f = RotatingFile::open_with_clock(&path, rot, clock).unwrap();
        f.append_line(record(12, 99).as_bytes()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("{\"n\":10,"));
        assert_eq!(lines[1], "{\"n\":11,\"pa");
        assert!(lines[2].starts_with("{\"n\":12,"), "{text}");
    }

    #[test]
    fn validate_names_the_field() {
        let ok = Rotation::default();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(
            Rotation {
                keep: 0,
                ..ok.clone()
            }
            .validate()
            .unwrap_err()
            .0,
            "keep"
        );
        assert_eq!(
            Rotation {
                max_size: ByteSize::b(0),
                ..ok.clone()
            }
            .validate()
            .unwrap_err()
            .0,
            "max_size"
        );
        assert_eq!(
            Rotation {
                max_age: Duration::ZERO,
                ..ok
            }
            .validate()
            .unwrap_err()
            .0,
            "max_age"
        );
    }
}
