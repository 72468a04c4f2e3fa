//! The HTML report of a backtest or comparison: one self-contained file
//! ([`html`]) with inline SVG charts ([`charts`]).

pub mod charts;
pub mod html;

use std::path::Path;

use super::BacktestError;
use super::compare::Comparison;

/// Writes the report of `c` to `path`.
pub fn write(c: &Comparison, path: &Path) -> Result<(), BacktestError> {
    let page = html::page(c)?;
    std::fs::write(path, page).map_err(|source| BacktestError::Io {
        what: "cannot write the report to",
        path: path.to_path_buf(),
        source,
    })
}
