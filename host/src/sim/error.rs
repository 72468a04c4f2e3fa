//! The sim's errors: a bad config or a bad trace file, each naming what to fix.

use std::path::PathBuf;

/// Why the simulated world could not be built as configured.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A config value is out of range.
    #[error("sim config field `{field}` is invalid: {message}")]
    Config {
        /// The field, as a dotted path (`workload.peak_per_min`).
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A trace file could not be read.
    #[error("cannot read workload trace file {}: {source}", file.display())]
    TraceIo {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A trace line is not a JSON object, or is out of order.
    #[error("workload trace file {}, line {line}: {message}", file.display())]
    TraceLine {
        /// The file.
        file: PathBuf,
        /// The line, counting from 1.
        line: usize,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A field of a trace line is missing, unknown or out of range.
    #[error("workload trace file {}, line {line}, field `{field}`: {message}", file.display())]
    TraceField {
        /// The file.
        file: PathBuf,
        /// The line, counting from 1.
        line: usize,
        /// The field.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A trace file holds no data line.
    #[error("workload trace file {} has no data line; see docs/backtesting.md for the trace formats", file.display())]
    TraceEmpty {
        /// The file.
        file: PathBuf,
    },
    /// A trace file is larger than the sim reads.
    #[error("workload trace file {} is larger than {limit}; split it or shorten the recording", file.display())]
    TraceTooLarge {
        /// The file.
        file: PathBuf,
        /// The limit, with its unit.
        limit: String,
    },
    /// The service was added twice.
    #[error("service {key} is already in the simulation")]
    DuplicateService {
        /// `cluster/service`.
        key: String,
    },
    /// Two services share one target group.
    #[error("target group {target_group} already belongs to service {key} in the simulation")]
    DuplicateTargetGroup {
        /// The target group.
        target_group: String,
        /// The service that has it.
        key: String,
    },
}

impl SimError {
    /// A [`SimError::Config`] for `field`.
    pub(crate) fn config(field: impl Into<String>, message: impl Into<String>) -> SimError {
        SimError::Config {
            field: field.into(),
            message: message.into(),
        }
    }
}
