//! The snapshot digest of decision records: sha256 over a compact canonical
//! binary form of the snapshot, streamed into the hasher.
//!
//! Each field goes straight to sha256, with no JSON in between (formatting
//! every float and string would cost more than the rest of a tick, and
//! backtests run tens of thousands of ticks a second): strings length-first,
//! integers little-endian, floats by their bits, options and enums by a tag
//! byte, lists by their length, in declaration order. Equal snapshots give
//! equal digests, and any change to a field changes it.

use sha2::{Digest, Sha256};

use super::{ParamValue, Snapshot};

/// Bytes are gathered in a small buffer and hashed a block at a time: one
/// `update` per field would cost more than the hashing.
struct Feed {
    hash: Sha256,
    buf: [u8; 1024],
    len: usize,
}

impl Feed {
    fn new() -> Feed {
        Feed {
            hash: Sha256::new(),
            buf: [0; 1024],
            len: 0,
        }
    }
    fn put(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            self.hash.update(&self.buf[..self.len]);
            self.len = 0;
            if b.len() > self.buf.len() {
                self.hash.update(b);
                return;
            }
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.put(s.as_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn tag(&mut self, t: u8) {
        self.put(&[t]);
    }
    fn f64(&mut self, v: Option<f64>) {
        match v {
            None => self.tag(0),
            Some(x) => {
                self.tag(1);
                self.put(&x.to_bits().to_le_bytes());
            }
        }
    }
    fn finish(mut self) -> String {
        self.hash.update(&self.buf[..self.len]);
        hex::encode(&self.hash.finalize()[..12])
    }
}

/// The first 12 bytes of the sha256, in hex.
pub(super) fn of(s: &Snapshot) -> String {
    let mut f = Feed::new();
    f.str(&s.cluster);
    f.str(&s.service);
    f.u64(s.now);
    for v in [s.desired, s.running, s.pending, s.min, s.max] {
        f.u32(v);
    }
    f.f64(s.cpu);
    f.f64(s.memory);
    f.tag(u8::from(s.sessions_known));
    f.u64(s.tasks.len() as u64);
    for t in &s.tasks {
        f.str(&t.id);
        f.tag(t.status as u8);
        f.tag(t.health as u8);
        f.u32(t.age_seconds);
        f.tag(u8::from(t.protected));
        f.u32(t.sessions);
        f.f64(t.cpu);
        f.f64(t.memory);
        f.tag(u8::from(t.draining));
    }
    f.u64(s.drains.len() as u64);
    for d in &s.drains {
        f.str(&d.task_id);
        f.tag(d.step as u8);
        f.u32(d.elapsed_seconds);
    }
    f.u64(s.history.len() as u64);
    for h in &s.history {
        f.u64(h.at);
        f.u32(h.desired);
        f.u32(h.running);
        f.f64(h.cpu);
        f.f64(h.memory);
        match h.sessions {
            None => f.tag(0),
            Some(n) => {
                f.tag(1);
                f.u32(n);
            }
        }
    }
    f.u64(s.params.len() as u64);
    for (k, v) in &s.params {
        f.str(k);
        match v {
            ParamValue::Flag(b) => {
                f.tag(0);
                f.tag(u8::from(*b));
            }
            ParamValue::Number(x) => {
                f.tag(1);
                f.f64(Some(*x));
            }
            ParamValue::Text(t) => {
                f.tag(2);
                f.str(t);
            }
        }
    }
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::super::{Snapshot, TaskStatus};

    #[test]
    fn equal_snapshots_agree_and_any_field_changes_the_digest() {
        let s = Snapshot::example();
        let d = s.digest();
        assert_eq!(d.len(), 24);
        assert_eq!(d, s.clone().digest());
        type Change = Box<dyn Fn(&mut Snapshot)>;
        let changed: Vec<Change> = vec![
            Box::new(|s| s.now += 1),
            Box::new(|s| s.cpu = None),
            Box::new(|s| s.tasks[0].sessions += 1),
            Box::new(|s| s.tasks[1].status = TaskStatus::Stopping),
            Box::new(|s| s.tasks[2].id.push('x')),
            Box::new(|s| s.tasks.truncate(3)),
            Box::new(|s| s.history[0].cpu = Some(99.0)),
            Box::new(|s| {
                s.params.insert("z".into(), super::ParamValue::Flag(true));
            }),
            Box::new(|s| s.sessions_known = !s.sessions_known),
        ];
        for (i, change) in changed.iter().enumerate() {
            let mut t = s.clone();
            change(&mut t);
            assert_ne!(t.digest(), d, "change {i} kept the digest");
        }
        // Moving a byte between neighbouring strings changes it too.
        let (mut a, mut b) = (s.clone(), s.clone());
        a.cluster = "ab".into();
        a.service = "c".into();
        b.cluster = "a".into();
        b.service = "bc".into();
        assert_ne!(a.digest(), b.digest());
    }
}
