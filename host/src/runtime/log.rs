//! The `log` import, bound so a policy cannot make the host copy more than it keeps.
//!
//! The bindgen-generated import hands the host the guest's whole message as a
//! `String`: a policy logging a hundred 10 MiB lines would make the host
//! allocate a gigabyte to keep 4 KiB of each. This one takes the message as a
//! [`WasmStr`], a view into the guest's memory (wasmtime checks its bounds and
//! charges fuel for its length), and copies only the prefix the line limit and
//! the call's log budget allow. A UTF-8 message (Rust, Python, JavaScript
//! policies) is borrowed, never copied whole. A UTF-16 or latin1+utf16 one
//! would be transcoded whole into a host `String` by `WasmStr::to_str`
//! before any cap applies, in host memory outside the instance's memory
//! cap; so a component lowering any import with those encodings is refused
//! at load (`scan::check_string_encoding`), and only UTF-8 reaches here.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmStr};

use super::Contract;
use super::bindings::{v1, v2};
use super::state::{HostState, level_name};
use super::text;

/// Replaces the generated `log` import of `contract`'s host interface in
/// `linker` with the bounded one.
pub(crate) fn add_to_linker(
    linker: &mut Linker<HostState>,
    contract: Contract,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut host = linker.instance(contract.host_import())?;
    match contract {
        Contract::V0_1 => host.func_wrap(
            "log",
            |store: StoreContextMut<'_, HostState>, (level, message): (v1::Level, WasmStr)| {
                keep(store, level_name(level as u8), message)
            },
        )?,
        Contract::V0_2 => host.func_wrap(
            "log",
            |store: StoreContextMut<'_, HostState>, (level, message): (v2::Level, WasmStr)| {
                keep(store, level_name(level as u8), message)
            },
        )?,
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// Copies out of the guest only the prefix of `message` the limits keep.
fn keep(
    mut store: StoreContextMut<'_, HostState>,
    level: &'static str,
    message: WasmStr,
) -> wasmtime::Result<()> {
    let room = store.data().log_room();
    let (kept, full_len) = {
        let full = message.to_str(&store)?;
        (text::prefix(&full, room).to_string(), full.len())
    };
    store.data_mut().keep_log(level, &kept, full_len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use super::super::{Limits, PolicyEngine, instance, load};

    thread_local! {
        static WATCHED: Cell<bool> = const { Cell::new(false) };
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    /// The system allocator, noting the largest allocation a watched thread makes.
    struct Largest;

    // SAFETY: forwards every call to `System` unchanged; it only notes sizes
    // in const-initialised thread-locals, which never allocate.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Largest {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            // SAFETY: the caller's contract, passed on.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    fn note(size: usize) {
        let _ = WATCHED.try_with(|w| {
            if w.get() {
                let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
            }
        });
    }

    #[global_allocator]
    static ALLOC: Largest = Largest;

    /// Resident set size of this process, in bytes.
    pub(crate) fn rss_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// A component that imports the host's `log` and exports `run`, which logs
    /// `lines` messages of `bytes` bytes each (NULs: valid UTF-8).
    fn giant_logger(lines: u32, bytes: u32) -> Vec<u8> {
        let pages = bytes.div_ceil(65536) + 1;
        wat::parse_str(format!(
            r#"(component
              (import "autoscaler:policy/host@0.1.0" (instance $host
                (type $l (enum "debug" "info" "warn" "error"))
                (export "level" (type $lvl (eq $l)))
                (export "log" (func (param "level" $lvl) (param "message" string)))))
              (core module $memmod (memory (export "mem") {pages}))
              (core instance $memi (instantiate $memmod))
              (alias core export $memi "mem" (core memory $mem))
              (alias export $host "log" (func $log))
              (core func $log_lowered (canon lower (func $log) (memory $mem)))
              (core module $main
                (import "env" "mem" (memory 1))
                (import "env" "log" (func $log (param i32 i32 i32)))
                (func (export "run")
                  (local $i i32)
                  (loop $again
                    (call $log (i32.const 1) (i32.const 0) (i32.const {bytes}))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $again (i32.lt_u (local.get $i) (i32.const {lines}))))))
              (core instance $maini (instantiate $main
                (with "env" (instance (export "mem" (memory $mem)) (export "log" (func $log_lowered))))))
              (func (export "run") (canon lift (core func $maini "run"))))"#
        ))
        .unwrap()
    }

    #[test]
    fn runtime_giant_log_lines_are_cut_to_the_budget_without_copying_them_whole() {
        let limits = Limits {
            fuel: u64::MAX / 2,
            timeout: std::time::Duration::from_secs(60),
            ..Limits::default()
        };
        let engine = PolicyEngine::new(limits.clone(), None).unwrap();
        let component =
            wasmtime::component::Component::new(engine.engine(), giant_logger(100, 10 << 20))
                .unwrap();
        let linker = load::host_linker(engine.engine(), crate::runtime::Contract::V0_1).unwrap();
        let mut store = instance::new_store(&engine);
        let instance = linker.instantiate(&mut store, &component).unwrap();
        let run = instance
            .get_typed_func::<(), ()>(&mut store, "run")
            .unwrap();
        let before = rss_bytes();
        WATCHED.with(|w| w.set(true));
        run.call(&mut store, ()).unwrap();
        WATCHED.with(|w| w.set(false));
        let grown = rss_bytes().saturating_sub(before);
        // No 10 MiB line was ever copied into the host, not even for a moment.
        let largest = LARGEST.with(Cell::get);
        assert!(
            largest < 1 << 20,
            "the host allocated {largest} bytes at once"
        );

        let state = store.data();
        let kept: usize = state.logs.iter().map(|l| l.message.len()).sum();
        // 64 KiB of budget at 4 KiB a line: 16 lines kept, 84 dropped.
        assert_eq!(
            state.logs.len(),
            limits.log_budget_bytes / limits.max_log_bytes
        );
        assert_eq!(state.logs_dropped, 100 - state.logs.len());
        let first = &state.logs[0].message;
        assert!(
            first.ends_with(&format!("... ({} bytes cut)", (10 << 20) - 4096)),
            "{}",
            &first[first.len() - 40..]
        );
        assert!(kept < 2 * limits.log_budget_bytes, "kept {kept} bytes");
        // A copy of each line would be 1000 MiB; the guest's own 10 MiB memory
        // and the test harness's other threads stay well under this.
        assert!(grown < 100 << 20, "host RSS grew by {} MiB", grown >> 20);
    }
}
