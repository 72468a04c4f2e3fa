//! Reading, checking and compiling a policy component, once, into an `InstancePre`.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};

use super::bindings::{v1, v2};
use super::fault::LoadError;
use super::instance::{Pre, probe_info};
use super::params::{self, Declared, ParamError, ParamSpec};
use super::state::HostState;
use super::{CONTRACT_VERSIONS, Contract, HOST_IMPORTS, PolicyEngine};
use super::{log, scan};

/// A compiled, checked policy component, ready to instantiate cheaply.
pub struct PolicyComponent {
    pub(crate) pre: Pre,
    /// The name the policy gives itself.
    pub name: String,
    /// The version the policy gives itself.
    pub version: String,
    /// The contract version it implements (shown as "0.1.0" or "0.2.0").
    pub contract: Contract,
    /// The parameters it declares (contract 0.2.0; empty for 0.1.0 or when it declares none).
    pub params: Vec<ParamSpec>,
    /// sha256 of the component's bytes, hex.
    pub sha256: String,
    /// Where it came from (a path, or a label).
    pub source: String,
    /// The component's size in bytes.
    pub size_bytes: usize,
    /// How long compiling (or loading from the cache) took; also logged at load.
    pub compile_time: Duration,
    /// Whether it came from the compiled-artifact cache.
    pub from_cache: bool,
    /// Every import the component declares.
    pub imports: Vec<String>,
    /// Imports the sandbox does not provide: calling one is a trap.
    pub trapped_imports: Vec<String>,
}

impl std::fmt::Debug for PolicyComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyComponent")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("sha256", &self.sha256)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl PolicyComponent {
    /// The contract the component implements.
    pub fn contract_version(&self) -> Contract {
        self.contract
    }

    /// Its declarations, labelled "name version" for messages.
    pub fn declared<'a>(&'a self, label: &'a str) -> Declared<'a> {
        Declared {
            policy: label,
            specs: &self.params,
        }
    }

    /// "name version", as the policy's `info` says (not escaped).
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// Checks a service's `[params]` against the declarations of all the
    /// policies that read them (live, shadows, fallback); see [`params::check`].
    pub fn check_service_params(
        params: &std::collections::BTreeMap<String, crate::model::ParamValue>,
        components: &[&PolicyComponent],
    ) -> Result<(), ParamError> {
        let labels: Vec<String> = components.iter().map(|c| c.label()).collect();
        let declared: Vec<Declared<'_>> = components
            .iter()
            .zip(&labels)
            .map(|(c, l)| c.declared(l))
            .collect();
        params::check(params, &declared)
    }

    /// Checks a service's `[params]` against this policy's declarations
    /// alone (see [`params::check`] for several policies on one service).
    pub fn check_params(
        &self,
        params: &std::collections::BTreeMap<String, crate::model::ParamValue>,
    ) -> Result<(), ParamError> {
        let label = self.label();
        params::check(params, &[self.declared(&label)])
    }
}

impl PolicyEngine {
    /// Loads, checks and compiles the policy in `path`, then probes it (instantiate, `info`).
    /// A file over `[limits] max_component_bytes` is refused before it is read.
    pub fn load_file(&self, path: &Path) -> Result<Arc<PolicyComponent>, LoadError> {
        let bytes = read_bounded(path, self.limits().max_component_bytes)?;
        self.load_bytes(&bytes, &path.display().to_string())
    }

    /// Like [`PolicyEngine::load_file`], for bytes already in memory; `source` labels errors.
    pub fn load_bytes(
        &self,
        bytes: &[u8],
        source: &str,
    ) -> Result<Arc<PolicyComponent>, LoadError> {
        let limit = self.limits().max_component_bytes;
        if bytes.len() as u64 > limit {
            return Err(LoadError::FileTooLarge {
                path: source.into(),
                size: bytes.len() as u64,
                limit,
            });
        }
        check_preamble(bytes, source)?;
        // World, imports and code sizes, before any compile time is spent.
        let scan = scan::scan(bytes, source, self.limits())?;
        let contract = check_world(source, &scan.imports, &scan.exports)?;
        check_imports(source, &scan.imports)?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        let started = Instant::now();
        let cached = self.cache().and_then(|c| c.get(self.engine(), &sha256));
        let from_cache = cached.is_some();
        let component = match cached {
            Some(c) => c,
            None => {
                let c =
                    Component::new(self.engine(), bytes).map_err(|e| LoadError::NotAComponent {
                        source_name: source.to_string(),
                        message: format!("{e:#}"),
                    })?;
                if let Some(cache) = self.cache() {
                    cache.put(&sha256, &c);
                }
                c
            }
        };
        let compile_time = started.elapsed();
        tracing::info!(
            source,
            size_bytes = bytes.len(),
            functions = scan.functions,
            largest_function_bytes = scan.largest_body,
            largest_module_globals = scan.largest_globals,
            core_instances = scan.core_instances,
            imports_and_canonicals = scan.imports_and_canonicals,
            locals = scan.locals,
            compile_ms = compile_time.as_millis() as u64,
            from_cache,
            "Policy component compiled."
        );
        let imports = scan.imports;

        let mut linker = host_linker(self.engine(), contract)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| LoadError::WrongWorld {
                source_name: source.to_string(),
                expected: "imports the sandbox can stand in for".into(),
                found: format!("{e:#}"),
            })?;
        let wrong_types = |e: wasmtime::Error| LoadError::WrongWorld {
            source_name: source.to_string(),
            expected: format!("the types of {}", contract.policy_export()),
            found: format!("{e:#}"),
        };
        let pre = linker.instantiate_pre(&component).map_err(wrong_types)?;
        let pre = match contract {
            Contract::V0_1 => Pre::V0_1(v1::ScalingPolicyPre::new(pre).map_err(wrong_types)?),
            Contract::V0_2 => Pre::V0_2(v2::ScalingPolicyPre::new(pre).map_err(wrong_types)?),
        };
        let trapped_imports = imports
            .iter()
            .filter(|i| !HOST_IMPORTS.contains(&i.as_str()))
            .cloned()
            .collect();

        let info = probe_info(self, &pre).map_err(|fault| LoadError::Probe {
            source_name: source.to_string(),
            fault,
        })?;
        let params =
            params::from_wire(info.params).map_err(|message| LoadError::BadDeclaration {
                source_name: source.to_string(),
                message,
            })?;
        let component = PolicyComponent {
            pre,
            name: info.name,
            version: info.version,
            contract,
            params,
            sha256,
            source: source.to_string(),
            size_bytes: bytes.len(),
            compile_time,
            from_cache,
            imports,
            trapped_imports,
        };
        Ok(Arc::new(component))
    }
}

fn check_preamble(bytes: &[u8], source: &str) -> Result<(), LoadError> {
    let not = |message: &str| {
        Err(LoadError::NotAComponent {
            source_name: source.to_string(),
            message: message.into(),
        })
    };
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return not("it does not start with the WebAssembly magic bytes, so it is not wasm at all");
    }
    // A component's layer field (bytes 6..8) is 1; a core module's is 0.
    if bytes[6..8] == [0, 0] {
        return not("it is a core WebAssembly module, not a component");
    }
    Ok(())
}

/// A linker with the host's imports for `contract`, with the bounded `log`.
pub(crate) fn host_linker(
    engine: &wasmtime::Engine,
    contract: Contract,
) -> wasmtime::Result<Linker<HostState>> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    match contract {
        Contract::V0_1 => {
            v1::ScalingPolicy::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
        }
        Contract::V0_2 => {
            v2::ScalingPolicy::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?
        }
    }
    log::add_to_linker(&mut linker, contract)?;
    Ok(linker)
}

/// Reads `path` whole, unless it is over `limit` bytes: then it is refused
/// unread (its size is checked first, and the read stops past the limit in
/// case the file grows meanwhile).
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let read_err = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size| LoadError::FileTooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let size = file.metadata().map_err(read_err)?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Refuses imports that are neither the contract's nor WASI's (which the sandbox stands in for with traps).
fn check_imports(source: &str, imports: &[String]) -> Result<(), LoadError> {
    let allowed = |i: &String| HOST_IMPORTS.contains(&i.as_str()) || i.starts_with("wasi:");
    match imports.iter().find(|i| !allowed(i)) {
        None => Ok(()),
        Some(other) => Err(LoadError::WrongWorld {
            source_name: source.to_string(),
            expected: format!(
                "imports of {} only (and WASI interfaces, which the sandbox traps)",
                HOST_IMPORTS.join(", ")
            ),
            found: format!("an import of {other}"),
        }),
    }
}

/// The contract the component implements, told by the policy interface it
/// exports; refuses other worlds and versions, naming the versions accepted.
fn check_world(
    source: &str,
    imports: &[String],
    exports: &[String],
) -> Result<Contract, LoadError> {
    let accepted = CONTRACT_VERSIONS.join(" or ");
    let wrong = |found: String| LoadError::WrongWorld {
        source_name: source.to_string(),
        expected: format!(
            "world autoscaler:policy/scaling-policy@{accepted} (export autoscaler:policy/policy@{accepted})"
        ),
        found,
    };
    let ours = |name: &str, iface: &str| {
        name.strip_prefix(&format!("autoscaler:policy/{iface}@"))
            .map(str::to_string)
    };
    let Some(contract) = exports.iter().find_map(|e| Contract::from_export(e)) else {
        if let Some(v) = exports.iter().find_map(|e| ours(e, "policy")) {
            return Err(wrong(format!(
                "contract version {v} (export autoscaler:policy/policy@{v}); this host accepts {accepted}"
            )));
        }
        let found = if exports.is_empty() {
            "no exports".to_string()
        } else {
            format!("exports {}", exports.join(", "))
        };
        return Err(wrong(found));
    };
    let v = contract.version();
    if let Some(other) = imports
        .iter()
        .find_map(|i| ours(i, "host").or_else(|| ours(i, "types")))
        .filter(|other| other != v)
    {
        return Err(wrong(format!(
            "an export of contract {v} with an import of contract {other}; a policy imports the host of the version it exports"
        )));
    }
    Ok(contract)
}
