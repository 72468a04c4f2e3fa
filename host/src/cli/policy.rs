//! `autoscaler policy ...`: check, evaluate and test policy components.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use autoscaler::escape::Escaped;
use autoscaler::golden;
use std::collections::BTreeMap;

use autoscaler::model::{ParamValue, Snapshot};
use autoscaler::remote::S3Url;
use autoscaler::remote::s3::S3Store;
use autoscaler::runtime::params::with_defaults;
use autoscaler::runtime::{Limits, Policy};
use clap::Subcommand;
use sha2::Digest;

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
    /// Start a policy in a folder of its own (Rust, Python or JavaScript): its
    /// source, its unit tests, its build command and a README saying how to
    /// build, test, check and simulate it. It depends on the SDK by name, so
    /// the folder can become its own repository.
    ///
    /// Refuses a folder that exists and is not empty.
    New(super::scaffold::NewArgs),
    /// Check a policy (as `policy check` does, plus a trial decision on the
    /// sample snapshot, as a running host makes before a swap) and, with
    /// --golden, run its golden cases (as `policy test` does); only if all of
    /// that passes, upload it to S3, where running hosts pick it up within
    /// their `policy_poll`.
    ///
    /// Exits 1 without uploading anything when a check or a golden case fails.
    /// Uses the default AWS credential chain, `AWS_REGION` and `AWS_ENDPOINT_URL`.
    Publish {
        /// The policy component (.wasm).
        file: PathBuf,
        /// Where to upload it, `s3://bucket/key.wasm` (the location a config's
        /// `policy`, `shadows` or `fallback` names).
        #[arg(value_name = "s3://BUCKET/KEY")]
        destination: String,
        /// A directory of golden cases the policy must pass before it is uploaded.
        #[arg(long, value_name = "DIR")]
        golden: Option<PathBuf>,
        /// The AWS region of the bucket [default: AWS_REGION or the profile's].
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
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
                let (passed, failed) = run_golden(&mut policy, &cases);
                println!("{passed} passed, {failed} failed");
                Ok(if failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            PolicyCommand::Publish {
                file,
                destination,
                golden,
                region,
                engine,
            } => publish(&file, &destination, golden.as_deref(), region, &engine),
            PolicyCommand::New(args) => args.run(),
            PolicyCommand::ExampleSnapshot => {
                println!("{}", serde_json::to_string_pretty(&Snapshot::example())?);
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// Runs `policy` on every golden case, printing PASS or FAIL (with the
/// mismatches) per case; returns how many passed and failed.
fn run_golden(policy: &mut Policy, cases: &[golden::Case]) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for case in cases {
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
    (passed, failed)
}

/// `policy publish`: the checks, then the upload.
fn publish(
    file: &Path,
    destination: &str,
    golden_dir: Option<&Path>,
    region: Option<String>,
    engine: &EngineArgs,
) -> anyhow::Result<ExitCode> {
    let url = match S3Url::parse(destination) {
        Some(Ok(url)) => url,
        Some(Err(e)) => anyhow::bail!("the destination {e}"),
        None => anyhow::bail!(
            "the destination {:?} is not an S3 location: write s3://bucket/key.wasm",
            Escaped(destination).to_string()
        ),
    };
    let cases = match golden_dir {
        Some(dir) => Some(golden::load_cases(dir)?),
        None => None,
    };
    let engine = engine.engine(Limits::default())?;
    let refused = |why: String| -> anyhow::Result<ExitCode> {
        eprintln!("refused: {why}; nothing was uploaded to {url}");
        Ok(ExitCode::from(1))
    };
    let component = match engine.load_file(file) {
        Ok(c) => c,
        Err(e) => {
            return refused(format!(
                "{} is not a policy this host can run: {}",
                file.display(),
                Escaped(&e.to_string())
            ));
        }
    };
    println!(
        "checked:    {} {} (autoscaler:policy@{}, {} bytes, sha256 {})",
        Escaped(&component.name),
        Escaped(&component.version),
        component.contract,
        component.size_bytes,
        component.sha256
    );
    let mut policy = Policy::new(engine.clone(), component.clone());
    if let Err(fault) = policy.decide(&Snapshot::example()).result {
        return refused(format!(
            "the policy faulted on the sample snapshot (`policy example-snapshot`), as a running host would see on its trial decision: {}",
            Escaped(&fault.to_string())
        ));
    }
    println!("trial:      decided on the sample snapshot");
    if let (Some(cases), Some(dir)) = (&cases, golden_dir) {
        let (passed, failed) = run_golden(&mut policy, cases);
        println!(
            "golden:     {passed} passed, {failed} failed ({})",
            dir.display()
        );
        if failed > 0 {
            return refused(format!(
                "{failed} of {} golden cases in {} failed",
                cases.len(),
                dir.display()
            ));
        }
        if cases.is_empty() {
            return refused(format!("{} holds no golden cases", dir.display()));
        }
    }
    // The bytes that were checked are the bytes uploaded.
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if hex::encode(sha2::Sha256::digest(&bytes)) != component.sha256 {
        return refused(format!(
            "{} changed while it was being checked",
            file.display()
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let etag = runtime.block_on(async {
        let aws = autoscaler::providers::aws::AwsConfig {
            region,
            ..Default::default()
        };
        let store = S3Store::connect(&aws).await?;
        anyhow::Ok(store.put(&url, bytes).await?)
    })?;
    println!(
        "uploaded:   {url} (ETag {}); hosts polling it load it within their `policy_poll`",
        Escaped(etag.as_deref().unwrap_or("none"))
    );
    Ok(ExitCode::SUCCESS)
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
