//! A scenario's Fargate prices and task size, and the command line's
//! overrides of them.

use serde::{Deserialize, Serialize};

/// Fargate prices and the task size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pricing {
    /// USD per vCPU-hour.
    pub vcpu_hour: f64,
    /// USD per GB-hour of memory.
    pub gb_hour: f64,
    /// vCPUs per task.
    pub task_vcpu: f64,
    /// GB of memory per task.
    pub task_memory_gb: f64,
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing {
            vcpu_hour: 0.04048,
            gb_hour: 0.004445,
            task_vcpu: 1.0,
            task_memory_gb: 2.0,
        }
    }
}

impl Pricing {
    /// USD per task-hour.
    pub fn task_hour_usd(&self) -> f64 {
        self.task_vcpu * self.vcpu_hour + self.task_memory_gb * self.gb_hour
    }

    /// Checks every value; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("cost.vcpu_hour", self.vcpu_hour),
            ("cost.gb_hour", self.gb_hour),
            ("cost.task_vcpu", self.task_vcpu),
            ("cost.task_memory_gb", self.task_memory_gb),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((field, format!("expected a number at least 0, found {v}")));
            }
        }
        Ok(())
    }
}

/// Prices given on the command line, each replacing the scenario's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PricingOverrides {
    /// USD per vCPU-hour.
    pub vcpu_hour: Option<f64>,
    /// USD per GB-hour.
    pub gb_hour: Option<f64>,
    /// vCPUs per task.
    pub task_vcpu: Option<f64>,
    /// GB per task.
    pub task_memory_gb: Option<f64>,
}

impl PricingOverrides {
    /// Applies the given values.
    pub fn apply(&self, p: &mut Pricing) {
        let set = |dst: &mut f64, v: Option<f64>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut p.vcpu_hour, self.vcpu_hour);
        set(&mut p.gb_hour, self.gb_hour);
        set(&mut p.task_vcpu, self.task_vcpu);
        set(&mut p.task_memory_gb, self.task_memory_gb);
    }
}
