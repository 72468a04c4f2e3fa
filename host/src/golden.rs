//! Golden cases for `autoscaler policy test`: a directory of
//! `NAME.snapshot.json` files, each with a `NAME.expect.json` beside it.
//!
//! An expectation is JSON with these fields, all optional but at least one:
//! - `desired`: the exact target count (`null` for "no change");
//! - `drain`: the exact task IDs to drain, in order;
//! - `reason_contains`: text the reason must contain;
//! - `fault`: the fault kind expected instead of a decision (`timeout`,
//!   `out-of-memory`, `trap`, `invalid-decision`, `output-too-large`, `policy-error`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{Decision, Snapshot};
use crate::runtime::PolicyFault;

/// What a case expects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The exact target count; `Some(None)` expects no change.
    #[serde(default, deserialize_with = "some_option")]
    pub desired: Option<Option<u32>>,
    /// The exact drain list.
    pub drain: Option<Vec<String>>,
    /// The exact cordon list (contract 0.2.0).
    pub cordon: Option<Vec<String>>,
    /// The exact uncordon list (contract 0.2.0).
    pub uncordon: Option<Vec<String>>,
    /// Text the reason must contain.
    pub reason_contains: Option<String>,
    /// The fault kind expected instead of a decision.
    pub fault: Option<String>,
}

fn some_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

/// One golden case, loaded.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name (the file name before `.snapshot.json`).
    pub name: String,
    /// The snapshot to decide on.
    pub snapshot: Snapshot,
    /// What the decision must look like.
    pub expect: Expectation,
}

/// Why a golden directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    /// The directory or a file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not valid JSON of the right shape.
    #[error("{path} is not a valid {what}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Snapshot or expectation.
        what: &'static str,
        /// What serde said (with line and column).
        message: String,
    },
    /// A snapshot has no expectation beside it.
    #[error("{snapshot} has no expectation: create {expect}")]
    MissingExpect {
        /// The snapshot file.
        snapshot: PathBuf,
        /// The missing file.
        expect: PathBuf,
    },
    /// The directory holds no case.
    #[error("{0} holds no golden case (files named NAME.snapshot.json with NAME.expect.json)")]
    Empty(PathBuf),
}

/// Reads every case in `dir`, sorted by name.
pub fn load_cases(dir: &Path) -> Result<Vec<Case>, GoldenError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| GoldenError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let entries = std::fs::read_dir(dir).map_err(|source| GoldenError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".snapshot.json")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(GoldenError::Empty(dir.to_path_buf()));
    }
    names
        .into_iter()
        .map(|name| {
            let snap_path = dir.join(format!("{name}.snapshot.json"));
            let expect_path = dir.join(format!("{name}.expect.json"));
            if !expect_path.is_file() {
                return Err(GoldenError::MissingExpect {
                    snapshot: snap_path,
                    expect: expect_path,
                });
            }
            let snapshot =
                serde_json::from_str(&read(&snap_path)?).map_err(|e| GoldenError::Parse {
                    path: snap_path.clone(),
                    what: "snapshot",
                    message: e.to_string(),
                })?;
            let expect: Expectation =
                serde_json::from_str(&read(&expect_path)?).map_err(|e| GoldenError::Parse {
                    path: expect_path.clone(),
                    what: "expectation",
                    message: e.to_string(),
                })?;
            Ok(Case {
                name,
                snapshot,
                expect,
            })
        })
        .collect()
}

impl Expectation {
    /// Every way `got` differs from this expectation; empty when it matches.
    pub fn mismatches(&self, got: &Result<Decision, PolicyFault>) -> Vec<String> {
        let mut out = Vec::new();
        match (got, &self.fault) {
            (Err(f), Some(kind)) if f.kind().to_string() == *kind => {}
            (Err(f), Some(kind)) => out.push(format!("expected a {kind} fault, got {f}")),
            (Ok(d), Some(kind)) => out.push(format!("expected a {kind} fault, got decision {d:?}")),
            (Err(f), None) => out.push(format!("expected a decision, got fault {f}")),
            (Ok(d), None) => {
                if let Some(want) = self.desired.filter(|w| *w != d.desired) {
                    out.push(format!("desired: expected {want:?}, got {:?}", d.desired));
                }
                for (what, want, got) in [
                    ("drain", &self.drain, &d.drain),
                    ("cordon", &self.cordon, &d.cordon),
                    ("uncordon", &self.uncordon, &d.uncordon),
                ] {
                    if let Some(want) = want.as_ref().filter(|w| *w != got) {
                        out.push(format!("{what}: expected {want:?}, got {got:?}"));
                    }
                }
                if let Some(want) = self
                    .reason_contains
                    .as_ref()
                    .filter(|w| !d.reason.contains(w.as_str()))
                {
                    out.push(format!(
                        "reason: expected it to contain {want:?}, got {:?}",
                        d.reason
                    ));
                }
            }
        }
        out
    }
}
