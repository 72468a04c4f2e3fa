use super::*;
use parking_lot::Mutex;

/// A clock the test moves by hand.
fn clock() -> (WallClock, Arc<Mutex<SystemTime>>) {
    let now = Arc::new(Mutex::new(SystemTime::now()));
    let read = now.clone();
    (Arc::new(move || *read.lock()), now)
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
    let start = *now.lock();
    for i in 0..48 {
        *now.lock() = start + i as u32 * hour;
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
    *now.lock() = start + 48 * hour;
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
