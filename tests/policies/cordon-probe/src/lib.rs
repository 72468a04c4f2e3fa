//! A 0.2.0 policy through the SDK for the runtime tests. It declares three
//! parameters, says in its reason what it saw (cordoned tasks and since
//! when, drain steps, params with their defaults), and answers by `mode`:
//! - "valid": cordon the least-loaded busy serving task, uncordon every cordoned one;
//! - "ghost": cordon a handle no task has;
//! - "twice": cordon one handle twice;
//! - "both": cordon and uncordon the same handle;
//! - "flood": a cordon list one entry over the host's limit (10,000).
use autoscaler_sdk::{Decision, ParamSpec, Snapshot, export_policy};

fn decide(s: &Snapshot) -> Result<Decision, String> {
    let cordoned: Vec<String> = s
        .cordoned_tasks()
        .map(|t| format!("{}@{}", t.handle, t.cordoned_since.unwrap_or(0)))
        .collect();
    let steps: Vec<String> = s.drains.iter().map(|d| format!("{:?}", d.step)).collect();
    let mut params: Vec<String> = s
        .params
        .iter()
        .map(|p| format!("{}={:?}", p.name, p.value))
        .collect();
    params.sort();
    let reason = format!(
        "cordoned={cordoned:?} steps={steps:?} params={params:?} capacity={}",
        s.serving_capacity(s.param_f64("per-task").unwrap_or(10.0) as u32)
    );
    let busy = s.least_loaded_tasks().find(|t| t.sessions > 0).map(|t| t.handle);
    let d = Decision::hold(reason);
    Ok(match s.param_str("mode").unwrap_or("valid") {
        "ghost" => d.with_cordon([9_999]),
        "twice" => d.with_cordon([0, 0]),
        "both" => d.with_cordon([0]).with_uncordon([0]),
        "flood" => d.with_cordon(0..10_001),
        _ => d
            .with_cordon(busy)
            .with_uncordon(s.cordoned_tasks().map(|t| t.handle)),
    })
}

export_policy!(decide, name = "cordon-probe", version = "0.2.0", params = [
    ParamSpec::text("mode", "valid").doc("Which decision to answer."),
    ParamSpec::number("per-task", 10.0)
        .range(1.0, 100.0)
        .doc("Session slots per task."),
    ParamSpec::flag("verbose", false),
]);
