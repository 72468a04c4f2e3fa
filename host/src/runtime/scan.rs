//! The checks on a component's bytes before it is compiled.
//!
//! Compiling cannot be interrupted, and its time and memory grow with the
//! code: a few hundred KB of hostile code can take minutes and gigabytes. So
//! the bytes are first walked with `wasmparser` (one pass, no allocation per
//! function) to read the component's imports and exports and to measure its
//! code against [`Limits`]; a component of the wrong world or over a limit is
//! refused without spending any compile time.

use wasmparser::{Parser, Payload};

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
}

/// Walks `bytes` (a component, already past its preamble check) and checks its code sizes.
pub(crate) fn scan(bytes: &[u8], source: &str, limits: &Limits) -> Result<Scan, LoadError> {
    let too_large = |what: String, size: usize, limit: usize, setting| LoadError::CodeTooLarge {
        source_name: source.to_string(),
        what,
        size: size as u64,
        limit: limit as u64,
        setting,
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
                if scan.functions > limits.max_functions {
                    return Err(too_large(
                        "the number of functions".into(),
                        scan.functions,
                        limits.max_functions,
                        "max_functions",
                    ));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len();
                scan.largest_body = scan.largest_body.max(size);
                if size > limits.max_function_body_bytes {
                    return Err(too_large(
                        "a function body (bytes)".into(),
                        size,
                        limits.max_function_body_bytes,
                        "max_function_body_bytes",
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(scan)
}

fn malformed(source: &str, e: wasmparser::BinaryReaderError) -> LoadError {
    LoadError::NotAComponent {
        source_name: source.to_string(),
        message: format!("it is malformed: {e}"),
    }
}
