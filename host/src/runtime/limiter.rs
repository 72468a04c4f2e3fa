//! The memory cap of a policy instance: one budget for all its linear memories
//! and tables together, and a cap on how many of each it may declare.
//!
//! wasmtime asks the limiter before creating or growing any memory or table of
//! a store (creation is a growth from 0). A policy store holds one component
//! instance, so the running sum is the instance's footprint.

use wasmtime::ResourceLimiter;

/// What one table element costs the host, in bytes (a function reference is a pointer).
pub(crate) const TABLE_ELEMENT_BYTES: usize = 8;

/// Counts the bytes of every memory and table of one store against one cap.
#[derive(Debug)]
pub(crate) struct InstanceLimiter {
    cap: usize,
    used: usize,
    max_memories: usize,
    max_tables: usize,
    max_instances: usize,
    /// Set when a growth was refused, so the fault can say "out of memory".
    pub denied: bool,
}

impl InstanceLimiter {
    pub fn new(cap: usize, max_memories: usize, max_tables: usize, max_instances: usize) -> Self {
        InstanceLimiter {
            cap,
            used: 0,
            max_memories,
            max_tables,
            max_instances,
            denied: false,
        }
    }

    /// The bytes held by all memories and tables now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used
    }

    fn grow(&mut self, current: usize, desired: usize) -> bool {
        let total = desired
            .checked_sub(current)
            .and_then(|more| self.used.checked_add(more));
        match total {
            Some(total) if total <= self.cap => {
                self.used = total;
                true
            }
            _ => {
                self.denied = true;
                false
            }
        }
    }
}

impl ResourceLimiter for InstanceLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(current, desired))
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The growth was counted but did not happen; the instance is about to
        // trap or see -1, and the bytes are not held. Nothing to undo exactly
        // (the size is unknown here), and over-counting only errs on the safe side.
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let bytes = |n: usize| n.saturating_mul(TABLE_ELEMENT_BYTES);
        Ok(self.grow(bytes(current), bytes(desired)))
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_limiter_sums_every_memory_against_one_cap() {
        let mut l = InstanceLimiter::new(100, 8, 8, 8);
        assert!(l.memory_growing(0, 60, None).unwrap());
        // A second memory cannot take the cap again: the sum counts.
        assert!(!l.memory_growing(0, 60, None).unwrap());
        assert!(l.denied);
        assert!(l.memory_growing(0, 40, None).unwrap());
        assert_eq!(l.used(), 100);
        assert!(!l.memory_growing(60, 61, None).unwrap());
    }

    #[test]
    fn runtime_limiter_counts_table_elements_at_their_byte_cost() {
        let mut l = InstanceLimiter::new(100, 8, 8, 8);
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.table_growing(0, 5, None).unwrap());
        assert_eq!(l.used(), 60 + 5 * TABLE_ELEMENT_BYTES);
        assert!(!l.table_growing(5, 6, None).unwrap());
    }
}

#[cfg(test)]
mod wasm_tests {
    use super::super::{Limits, PolicyEngine, instance, load};

    fn rss_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// Instantiates `wat` (a component exporting `run`) under default limits
    /// and calls `run`; the error, if any, and whether the limiter refused.
    fn run(wat: &str) -> (Result<(), String>, bool) {
        let engine = PolicyEngine::new(Limits::default(), None).unwrap();
        let component =
            wasmtime::component::Component::new(engine.engine(), wat::parse_str(wat).unwrap())
                .unwrap();
        let linker = load::host_linker(engine.engine(), crate::runtime::Contract::V0_1).unwrap();
        let mut store = instance::new_store(&engine);
        let result = linker
            .instantiate(&mut store, &component)
            .and_then(|i| i.get_typed_func::<(), ()>(&mut store, "run"))
            .and_then(|f| f.call(&mut store, ()))
            .map_err(|e| format!("{e:#}"));
        (result, store.data().limiter.denied)
    }

    #[test]
    fn runtime_several_memories_cannot_together_pass_the_cap() {
        // Three 64 MiB memories in one module: each under the 128 MiB cap, together over it.
        let before = rss_bytes();
        let (result, denied) = run(r#"(component
              (core module $m
                (memory 1024) (memory 1024) (memory 1024)
                (func (export "run")))
              (core instance $i (instantiate $m))
              (func (export "run") (canon lift (core func $i "run"))))"#);
        assert!(result.is_err() && denied, "{result:?}");
        // Memories in separate core instances, grown at run time, count together too.
        let (result, denied) = run(r#"(component
              (core module $a (memory (export "m") 1)
                (func (export "grow") (result i32) (memory.grow (i32.const 1500))))
              (core module $b
                (import "a" "grow" (func $grow (result i32)))
                (memory 1)
                (func (export "run")
                  (if (i32.lt_s (call $grow) (i32.const 0)) (then unreachable))
                  (if (i32.lt_s (memory.grow (i32.const 1500)) (i32.const 0)) (then unreachable))))
              (core instance $ai (instantiate $a))
              (core instance $bi (instantiate $b (with "a" (instance $ai))))
              (func (export "run") (canon lift (core func $bi "run"))))"#);
        assert!(result.is_err() && denied, "{result:?}");
        let grown = rss_bytes().saturating_sub(before);
        assert!(grown < 200 << 20, "host RSS grew by {} MiB", grown >> 20);
    }

    #[test]
    fn runtime_an_instance_may_declare_only_so_many_memories() {
        let memories = "(memory 0) ".repeat(Limits::default().max_memories + 1);
        let (result, _) = run(&format!(
            r#"(component
              (core module $m {memories} (func (export "run")))
              (core instance $i (instantiate $m))
              (func (export "run") (canon lift (core func $i "run"))))"#
        ));
        let err = result.unwrap_err();
        assert!(err.contains("memor"), "{err}");
    }
}
