//! The checks on a component's bytes before it is compiled.
//!
//! Compiling cannot be interrupted, and its time and memory grow with the
//! code: a few hundred KB of hostile code can take minutes and gigabytes. So
//! the bytes are first walked with `wasmparser` (one pass, no allocation per
//! function) to read the component's imports and exports and to measure its
//! code against [`Limits`]; a component of the wrong world or over a limit is
//! refused without spending any compile time.

use wasmparser::{CanonicalFunction, CanonicalOption, Instance, Parser, Payload};

use super::Limits;
use super::fault::LoadError;

/// What a component declares and how much code it holds.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The component's own imports (not those of components nested in it).
    pub imports: Vec<String>,
    /// The component's own exports.
    pub exports: Vec<String>,
    /// Functions defined over all its core modules.
    pub functions: usize,
    /// The largest function body, in bytes.
    pub largest_body: usize,
    /// The most globals one core module defines.
    pub largest_globals: usize,
    /// Core instantiations (`instance` entries instantiating a module), over
    /// the component and the components it nests.
    pub core_instances: usize,
    /// Core module imports plus canonical functions (each lowered import is a
    /// compiled trampoline).
    pub imports_and_canonicals: usize,
    /// Declared locals, summed over every function.
    pub locals: usize,
}

/// Walks `bytes` (a component, already past its preamble check) and checks its code sizes.
pub(crate) fn scan(bytes: &[u8], source: &str, limits: &Limits) -> Result<Scan, LoadError> {
    // `size` of `what`, refused over `limit` (the `setting` that raises it).
    let within = |what: &str, size: usize, limit: usize, setting: &'static str| {
        if size <= limit {
            return Ok(());
        }
        Err(LoadError::CodeTooLarge {
            source_name: source.to_string(),
            what: what.to_string(),
            size: size as u64,
            limit: limit as u64,
            setting,
        })
    };
    let mut scan = Scan::default();
    // 1 inside the outer component, more inside the modules and components it nests.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| malformed(source, e))?;
        match payload {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| malformed(source, e))?;
                    scan.imports.push(import.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| malformed(source, e))?;
                    scan.exports.push(export.name.name.to_string());
                }
            }
            Payload::CodeSectionStart { count, .. } => {
                scan.functions += count as usize;
                within(
                    "the number of functions",
                    scan.functions,
                    limits.max_functions,
                    "max_functions",
                )?;
            }
            Payload::GlobalSection(reader) => {
                let globals = reader.count() as usize;
                scan.largest_globals = scan.largest_globals.max(globals);
                within(
                    "the globals of a core module",
                    globals,
                    limits.max_globals,
                    "max_globals",
                )?;
            }
            Payload::InstanceSection(reader) => {
                for instance in reader {
                    let instance = instance.map_err(|e| malformed(source, e))?;
                    if matches!(instance, Instance::Instantiate { .. }) {
                        scan.core_instances += 1;
                    }
                }
                within(
                    "the core instances",
                    scan.core_instances,
                    limits.max_instances,
                    "max_instances",
                )?;
            }
            Payload::ImportSection(reader) => {
                scan.imports_and_canonicals += reader.count() as usize;
                within(
                    "the core imports and canonical functions",
                    scan.imports_and_canonicals,
                    limits.max_imports,
                    "max_imports",
                )?;
            }
            Payload::ComponentCanonicalSection(reader) => {
                scan.imports_and_canonicals += reader.count() as usize;
                within(
                    "the core imports and canonical functions",
                    scan.imports_and_canonicals,
                    limits.max_imports,
                    "max_imports",
                )?;
                for function in reader {
                    let function = function.map_err(|e| malformed(source, e))?;
                    if let CanonicalFunction::Lower { options, .. } = &function {
                        check_string_encoding(source, options)?;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals = body.get_locals_reader().map_err(|e| malformed(source, e))?;
                for _ in 0..locals.get_count() {
                    let (count, _) = locals.read().map_err(|e| malformed(source, e))?;
                    scan.locals = scan.locals.saturating_add(count as usize);
                }
                within(
                    "the locals declared over all functions",
                    scan.locals,
                    limits.max_locals,
                    "max_locals",
                )?;
                let size = body.range().len();
                scan.largest_body = scan.largest_body.max(size);
                within(
                    "a function body (bytes)",
                    size,
                    limits.max_function_body_bytes,
                    "max_function_body_bytes",
                )?;
            }
            _ => {}
        }
        // Each core instance's context holds every global its module
        // defines, allocated by the host where fuel and epochs cannot stop it:
        // bound the worst case before anything is instantiated.
        let instance_globals = scan.core_instances.saturating_mul(scan.largest_globals);
        within(
            "core instances times the globals of the largest module",
            instance_globals,
            limits.max_instance_globals,
            "max_instance_globals",
        )?;
    }
    Ok(scan)
}

/// Refuses a `canon lower` whose strings are not UTF-8. wasmtime hands a host
/// function a UTF-8 string as a view into the guest's memory, but transcodes
/// a UTF-16 or latin1+utf16 one whole into a host `String` before the host
/// can cap it: a policy could make the `log` import copy its whole memory on
/// every line. Every lowering is checked, not only `log`'s (the contract's
/// other imports and the stand-ins for WASI take no large strings either, and
/// Rust, Python and JavaScript policies lower everything as UTF-8).
fn check_string_encoding(source: &str, options: &[CanonicalOption]) -> Result<(), LoadError> {
    for option in options {
        let encoding = match option {
            CanonicalOption::UTF16 => "utf16",
            CanonicalOption::CompactUTF16 => "latin1+utf16",
            _ => continue,
        };
        return Err(LoadError::WrongWorld {
            source_name: source.to_string(),
            expected: "imports lowered with UTF-8 strings".into(),
            found: format!(
                "an import lowered with string-encoding={encoding}, which the host would copy whole before capping it"
            ),
        });
    }
    Ok(())
}

fn malformed(source: &str, e: wasmparser::BinaryReaderError) -> LoadError {
    LoadError::NotAComponent {
        source_name: source.to_string(),
        message: format!("it is malformed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real policies pass every limit, with the figures printed (`--nocapture`) for the docs.
    #[test]
    fn runtime_scan_real_policies_are_within_the_default_limits() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut paths: Vec<std::path::PathBuf> = crate::artifacts::ALL
            .iter()
            .map(|(_, p)| std::path::PathBuf::from(p))
            .collect();
        for name in ["session-aware-py.wasm", "session-aware-js.wasm"] {
            let p = root.join("target/polyglot").join(name);
            if p.is_file() {
                paths.push(p);
            }
        }
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            let scan = scan(&bytes, &path.display().to_string(), &Limits::default())
                .unwrap_or_else(|e| panic!("{e}"));
            println!(
                "{}: functions {} largest_body {} largest_globals {} core_instances {} imports_and_canonicals {} locals {}",
                path.display(),
                scan.functions,
                scan.largest_body,
                scan.largest_globals,
                scan.core_instances,
                scan.imports_and_canonicals,
                scan.locals
            );
        }
    }
}
