//! The typed ways loading or calling a policy can fail.

use std::path::PathBuf;

/// Why a policy call produced no usable decision. The tick holds on any of these.
#[derive(
    Debug, Clone, PartialEq, thiserror::Error, strum::IntoStaticStr, strum::EnumDiscriminants,
)]
#[strum(serialize_all = "kebab-case")]
#[strum_discriminants(
    name(FaultKind),
    doc = "A policy fault's kind, without its details: named in records, metrics and logs.",
    derive(
        serde::Serialize,
        serde::Deserialize,
        strum::IntoStaticStr,
        strum::Display,
        Hash,
        PartialOrd,
        Ord
    ),
    serde(rename_all = "kebab-case"),
    strum(serialize_all = "kebab-case")
)]
pub enum PolicyFault {
    /// The call ran out of fuel or past its wall-time deadline (an endless loop, or too slow).
    #[error("timeout: the policy {what}")]
    Timeout {
        /// Which limit ended it.
        what: String,
    },
    /// The policy tried to grow its memory past the cap.
    #[error("out of memory: the policy tried to grow its memory past the {limit_bytes}-byte cap")]
    OutOfMemory {
        /// The memory cap in bytes.
        limit_bytes: usize,
    },
    /// The policy trapped: a panic, an unreachable, a bad memory access, or a call to an import the sandbox does not provide.
    #[error("trap: {message}")]
    Trap {
        /// What wasmtime reported, plus the policy's last error log if any.
        message: String,
    },
    /// The decision broke the contract (an unknown or duplicate drain handle, an absurd count).
    #[error("invalid decision: {reason}")]
    InvalidDecision {
        /// What was wrong.
        reason: String,
    },
    /// The decision was larger than the host accepts.
    #[error("output too large: {what} is {size}, over the limit of {limit}")]
    OutputTooLarge {
        /// Which part of the output.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The policy returned an error of its own.
    #[error("policy error: {message}")]
    PolicyError {
        /// The policy's message.
        message: String,
    },
    /// The host could not set up an instance (for example, the policy traps while instantiating).
    #[error("instantiation failed: {message}")]
    Instantiate {
        /// What went wrong.
        message: String,
    },
}

impl PolicyFault {
    /// Its kind: a short stable name for metrics, records and exit messages.
    pub fn kind(&self) -> FaultKind {
        self.into()
    }
}

fn probe_text(fault: &PolicyFault) -> String {
    crate::escape::escape(&fault.to_string()).into_owned()
}

/// Why a policy file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than the host reads; it was refused before being read.
    #[error(
        "policy file {path} is {size} bytes, over the limit of {limit} bytes set by `[limits] max_component_bytes`; raise the setting if the policy is trusted and this large"
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The component's code is over a limit that bounds compile time; it was
    /// refused before compiling.
    #[error(
        "{source_name} is refused before compiling: {what} is {size}, over the limit of {limit} set by `[limits] {setting}`; raise the setting if the policy is trusted"
    )]
    CodeTooLarge {
        /// The file or label.
        source_name: String,
        /// Which measure, e.g. "function 12's body (bytes)".
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
        /// The `[limits]` setting that holds the limit.
        setting: &'static str,
    },
    /// The bytes are not a WebAssembly component (a core module, or not wasm at all).
    #[error(
        "{source_name} is not a WebAssembly component: {message}. Build policies as components, e.g. `cargo build --target wasm32-wasip2`."
    )]
    NotAComponent {
        /// The file or label.
        source_name: String,
        /// What the parser said.
        message: String,
    },
    /// The component targets another world or another contract version.
    #[error(
        "{source_name} does not implement this host's contract: expected {expected}, found {found}"
    )]
    WrongWorld {
        /// The file or label.
        source_name: String,
        /// What this host accepts.
        expected: String,
        /// What the component has.
        found: String,
    },
    /// The component failed while starting or answering the probe. The
    /// fault may quote the policy's own text: shown escaped, on one line.
    #[error("{source_name} failed its probe: {}", probe_text(.fault))]
    Probe {
        /// The file or label.
        source_name: String,
        /// The fault.
        fault: PolicyFault,
    },
    /// The policy's parameter declarations (contract 0.2.0 `policy-info.params`)
    /// are malformed: a default of the wrong type or out of its range, a
    /// range with min over max, a name declared twice, sizes over the limits.
    #[error("{source_name} declares its parameters wrongly: {message}")]
    BadDeclaration {
        /// The file or label.
        source_name: String,
        /// What is wrong, escaped.
        message: String,
    },
    /// The wasmtime engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

#[cfg(test)]
mod tests {
    use super::PolicyFault;

    #[test]
    fn runtime_fault_kinds_keep_their_stable_names() {
        let text = || String::new();
        let kinds: Vec<&str> = [
            PolicyFault::Timeout { what: text() },
            PolicyFault::OutOfMemory { limit_bytes: 1 },
            PolicyFault::Trap { message: text() },
            PolicyFault::InvalidDecision { reason: text() },
            PolicyFault::OutputTooLarge {
                what: "reason",
                size: 2,
                limit: 1,
            },
            PolicyFault::PolicyError { message: text() },
            PolicyFault::Instantiate { message: text() },
        ]
        .iter()
        .map(|f| <&str>::from(f.kind()))
        .collect();
        assert_eq!(
            kinds,
            [
                "timeout",
                "out-of-memory",
                "trap",
                "invalid-decision",
                "output-too-large",
                "policy-error",
                "instantiate"
            ]
        );
    }
}
