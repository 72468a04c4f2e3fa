//! `autoscaler policy ...`: check, evaluate and test policy components.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use autoscaler::escape::Escaped;
use autoscaler::golden;
use std::collections::BTreeMap;

use autoscaler::model::{ParamValue, Snapshot};
use autoscaler::runtime::params::with_defaults;
use autoscaler::runtime::{Limits, Policy};
use clap::Subcommand;

use super::EngineArgs;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load a component and print its name, versions, declared parameters, imports, size and compile time.
    ///
    /// Exits 2, with the reason, when the file is not a valid policy, or when
    /// a `--param` does not fit the parameters the policy declares.
    Check {
        /// The policy component (.wasm).
        file: PathBuf,
        /// A service parameter to check against the policy's declarations, as
        /// NAME=VALUE (VALUE: a number, true/false, or text); repeatable. With
        /// any, they are checked as a service's whole `[params]` table.
        #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
        params: Vec<(String, ParamValue)>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Run a policy on a snapshot and print its decision as JSON.
    ///
    /// Exits 1 naming the fault kind when the policy faults. The snapshot's
    /// params are first checked against the parameters the policy declares
    /// (exit 2 naming the parameter), and its declared defaults fill in
    /// those the snapshot leaves out.
    Eval {
        /// The policy component (.wasm).
        file: PathBuf,
        /// The snapshot JSON file ("-" reads standard input); see `policy example-snapshot`.
        #[arg(long, value_name = "SNAPSHOT.json")]
        snapshot: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Run a policy on golden cases: NAME.snapshot.json files with NAME.expect.json beside them.
    ///
    /// Prints pass or fail per case and a closing "N passed, M failed" line;
    /// exits 1 if any case fails.
    Test {
        /// The policy component (.wasm).
        file: PathBuf,
        /// The directory of golden cases.
        dir: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Print a valid sample snapshot, a starting point for eval and golden cases.
    ExampleSnapshot,
}

impl PolicyCommand {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            PolicyCommand::Check {
                file,
                params,
                engine,
            } => {
                let engine = engine.engine(Limits::default())?;
                let c = engine.load_file(&file)?;
                println!("policy:     {} {}", Escaped(&c.name), Escaped(&c.version));
                println!("contract:   autoscaler:policy@{}", c.contract);
                if c.params.is_empty() {
                    println!("params:     none declared (any [params] pass unchecked)");
                } else {
                    println!("params:");
                    for p in &c.params {
                        println!("  {}", p.describe());
                    }
                }
                if !params.is_empty() {
                    let table: BTreeMap<String, ParamValue> = params.into_iter().collect();
                    c.check_params(&table)?;
                    println!(
                        "params ok:  {} given, they fit the declarations",
                        table.len()
                    );
                }
                println!("file:       {}", Escaped(&c.source));
                println!("size:       {} bytes", c.size_bytes);
                println!("sha256:     {}", c.sha256);
                println!(
                    "compile:    {:.1} ms{}",
                    c.compile_time.as_secs_f64() * 1000.0,
                    if c.from_cache {
                        " (from the compiled-artifact cache)"
                    } else {
                        ""
                    }
                );
                println!("imports:");
                for import in &c.imports {
                    let note = if c.trapped_imports.contains(import) {
                        "  (not provided: a call traps)"
                    } else {
                        ""
                    };
                    println!("  {}{note}", Escaped(import));
                }
                Ok(ExitCode::SUCCESS)
            }
            PolicyCommand::Eval {
                file,
                snapshot,
                engine,
            } => {
                let mut snap = read_snapshot(&snapshot)?;
                let engine = engine.engine(Limits::default())?;
                let mut policy = Policy::new(engine.clone(), engine.load_file(&file)?);
                let c = policy.component();
                c.check_params(&snap.params)
                    .with_context(|| format!("the snapshot's params in {}", snapshot.display()))?;
                snap.params = with_defaults(&snap.params, &c.params).into_owned();
                let report = policy.decide(&snap);
                for log in &report.logs {
                    eprintln!("[policy {}] {}", log.level, Escaped(&log.message));
                }
                match report.result {
                    Ok(decision) => {
                        println!("{}", serde_json::to_string_pretty(&decision)?);
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(fault) => {
                        eprintln!(
                            "policy fault ({}): {}",
                            fault.kind(),
                            Escaped(&fault.to_string())
                        );
                        Ok(ExitCode::from(1))
                    }
                }
            }
            PolicyCommand::Test { file, dir, engine } => {
                let cases = golden::load_cases(&dir)?;
                let engine = engine.engine(Limits::default())?;
                let mut policy = Policy::new(engine.clone(), engine.load_file(&file)?);
                let (mut passed, mut failed) = (0, 0);
                for case in &cases {
                    // A case whose params the host would refuse fails, naming the parameter.
                    if let Err(e) = policy.component().check_params(&case.snapshot.params) {
                        failed += 1;
                        println!("FAIL {}", case.name);
                        println!("     {}", Escaped(&e.to_string()));
                        continue;
                    }
                    let report = policy.decide(&case.snapshot);
                    let problems = case.expect.mismatches(&report.result);
                    if problems.is_empty() {
                        passed += 1;
                        println!("PASS {}", case.name);
                    } else {
                        failed += 1;
                        println!("FAIL {}", case.name);
                        for p in problems {
                            println!("     {}", Escaped(&p));
                        }
                    }
                }
                println!("{passed} passed, {failed} failed");
                Ok(if failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            PolicyCommand::ExampleSnapshot => {
                println!("{}", serde_json::to_string_pretty(&Snapshot::example())?);
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn read_snapshot(path: &PathBuf) -> anyhow::Result<Snapshot> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the snapshot from standard input")?;
        s
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read snapshot file {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid snapshot (run `autoscaler policy example-snapshot` for the format)",
            path.display()
        )
    })
}

/// A `--param NAME=VALUE`: true/false is a flag, a number a number, anything else text.
fn parse_param(arg: &str) -> Result<(String, ParamValue), String> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(format!(
            "`{arg}` is not NAME=VALUE (for example buffer-slots=20)"
        ));
    };
    if name.is_empty() {
        return Err(format!("`{arg}` has no parameter name before `=`"));
    }
    let value = match value {
        "true" => ParamValue::Flag(true),
        "false" => ParamValue::Flag(false),
        v => match v.parse::<f64>() {
            Ok(n) => ParamValue::Number(n),
            Err(_) => ParamValue::Text(v.to_string()),
        },
    };
    Ok((name.to_string(), value))
}
