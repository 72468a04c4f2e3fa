//! A compile overtaken by a newer change of its file.

use super::*;

fn done(path: &Path, generation: u64) -> Compiled {
    Compiled {
        path: path.to_path_buf(),
        generation,
        outcome: Outcome::Unchanged,
    }
}

#[test]
fn a_compile_overtaken_by_a_newer_change_of_its_file_is_dropped() {
    let mut r = Reloads::default();
    let (a, b) = (Path::new("/p/a.wasm"), Path::new("/p/b.wasm"));
    let older = r.begin(a);
    let other = r.begin(b);
    let newer = r.begin(a);
    assert_eq!(r.in_flight(), 3);
    // The newer change finishes first, the older one after it: only the newer counts.
    assert!(r.settle(&done(a, newer)));
    assert!(!r.settle(&done(a, older)));
    // Another file's change is not affected.
    assert!(r.settle(&done(b, other)));
    assert_eq!(r.in_flight(), 0);
    // Nor is a later change of the same file.
    let later = r.begin(a);
    assert!(r.settle(&done(a, later)));
}
