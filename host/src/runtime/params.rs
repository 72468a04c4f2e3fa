//! Parameters a policy declares (contract 0.2.0 `policy-info.params`), and
//! the checks of a service's `[params]` against them when a policy is loaded.
//!
//! A declaration names a parameter, its type (number, flag, text), an
//! optional default, a range for numbers and a doc line. When a policy
//! declares any, the service's `[params]` must fit: an unknown name, a value
//! of another type or a number out of range refuses the policy (at daemon
//! start, on hot reload, in `policy check`/`eval` with params, in a backtest)
//! with a message naming the parameter, the value, what is allowed and the
//! policy. Parameters the config leaves out get their declared defaults.
//!
//! With several policies on one service (live, shadows, fallback), they all
//! read the one `[params]` table: a name is unknown only when none of them
//! declares it, and none of them is a policy that declares nothing (such a
//! policy may read any name). Types and ranges are checked against every
//! policy that declares the name.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use super::bindings::v2;
use super::text;
use crate::escape::escape;
use crate::model::ParamValue;

/// The most parameters a policy may declare.
pub const MAX_DECLARED: usize = 64;
/// The longest parameter name a declaration may have, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The longest doc line or text default a declaration may have, in bytes (longer ones are cut).
pub const MAX_DOC_BYTES: usize = 512;

/// The type of a declared parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ParamKind {
    /// A number.
    Number,
    /// A true/false switch.
    Flag,
    /// Free text.
    Text,
}

impl ParamKind {
    /// "number", "flag" or "text".
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The type of a value.
    pub fn of(v: &ParamValue) -> ParamKind {
        match v {
            ParamValue::Number(_) => ParamKind::Number,
            ParamValue::Flag(_) => ParamKind::Flag,
            ParamValue::Text(_) => ParamKind::Text,
        }
    }
}

/// One parameter a policy declares.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamSpec {
    /// The name, as written in the config.
    pub name: String,
    /// Its type.
    pub kind: ParamKind,
    /// The value used when the config leaves it out; none for an optional parameter.
    pub default: Option<ParamValue>,
    /// The lowest number allowed.
    pub min: Option<f64>,
    /// The highest number allowed.
    pub max: Option<f64>,
    /// What it does, in one line.
    pub doc: String,
}

/// A value as a config shows it, for messages: escaped text, numbers as written.
pub(crate) struct Shown<'a>(pub &'a ParamValue);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ParamValue::Number(n) => write!(f, "{n}"),
            ParamValue::Flag(b) => write!(f, "{b}"),
            ParamValue::Text(t) => write!(f, "\"{}\"", escape(text::prefix(t, 80))),
        }
    }
}

impl ParamSpec {
    /// The allowed range in words: "0 to 500", "at least 0", "any number".
    pub fn range_text(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
            (Some(lo), None) => format!("at least {lo}"),
            (None, Some(hi)) => format!("at most {hi}"),
            (None, None) => "any number".to_string(),
        }
    }

    /// Whether `v` has this parameter's type and lies in its range.
    fn fits(&self, v: &ParamValue) -> Result<(), String> {
        if ParamKind::of(v) != self.kind {
            return Err(format!(
                "is a {}, but it must be a {}",
                ParamKind::of(v).name(),
                self.kind.name()
            ));
        }
        if let ParamValue::Number(n) = v {
            let low = self.min.is_some_and(|lo| *n < lo);
            let high = self.max.is_some_and(|hi| *n > hi);
            if low || high || n.is_nan() {
                return Err(format!("is out of range: allowed {}", self.range_text()));
            }
        }
        Ok(())
    }

    /// One line for `policy check`: name, type, default, range and doc, escaped.
    pub fn describe(&self) -> String {
        let default = match &self.default {
            Some(v) => format!("default {}", Shown(v)),
            None => "no default (optional)".to_string(),
        };
        let range = if self.kind == ParamKind::Number {
            format!(", range {}", self.range_text())
        } else {
            String::new()
        };
        let doc = if self.doc.is_empty() {
            String::new()
        } else {
            format!(": {}", escape(&self.doc))
        };
        format!(
            "{} ({}, {default}{range}){doc}",
            escape(&self.name),
            self.kind.name()
        )
    }
}

/// The declarations a 0.2.0 policy's `info` returned, checked: at most
/// [`MAX_DECLARED`], names non-empty, short, printable and distinct, ranges
/// ordered, defaults of the declared type and in range. Doc lines and text
/// defaults over [`MAX_DOC_BYTES`] are cut.
pub(crate) fn from_wire(specs: Vec<v2::ParamSpec>) -> Result<Vec<ParamSpec>, String> {
    if specs.len() > MAX_DECLARED {
        return Err(format!(
            "it declares {} parameters, over the limit of {MAX_DECLARED}",
            specs.len()
        ));
    }
    let mut out: Vec<ParamSpec> = Vec::with_capacity(specs.len());
    for s in specs {
        let name = s.name;
        if name.is_empty()
            || name.len() > MAX_NAME_BYTES
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "parameter name \"{}\" must be 1 to {MAX_NAME_BYTES} letters, digits, '-' or '_'",
                escape(text::prefix(&name, 80))
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(format!("parameter \"{name}\" is declared twice"));
        }
        let kind = match s.kind {
            v2::ParamKind::Number => ParamKind::Number,
            v2::ParamKind::Flag => ParamKind::Flag,
            v2::ParamKind::Text => ParamKind::Text,
        };
        if kind != ParamKind::Number && (s.min.is_some() || s.max.is_some()) {
            return Err(format!(
                "parameter \"{name}\" is a {}, but declares a range (numbers only)",
                kind.name()
            ));
        }
        if s.min.is_some_and(f64::is_nan) || s.max.is_some_and(f64::is_nan) {
            return Err(format!("parameter \"{name}\" has a NaN bound"));
        }
        if let (Some(lo), Some(hi)) = (s.min, s.max)
            && lo > hi
        {
            return Err(format!("parameter \"{name}\" has min {lo} over max {hi}"));
        }
        let default = s.default.map(|v| match v {
            v2::wit::ParamValue::Number(n) => ParamValue::Number(n),
            v2::wit::ParamValue::Flag(b) => ParamValue::Flag(b),
            v2::wit::ParamValue::Text(t) => ParamValue::Text(text::cap(t, MAX_DOC_BYTES)),
        });
        let spec = ParamSpec {
            name,
            kind,
            default,
            min: s.min,
            max: s.max,
            doc: text::cap(s.doc, MAX_DOC_BYTES),
        };
        if let Some(d) = &spec.default
            && let Err(why) = spec.fits(d)
        {
            return Err(format!(
                "the default of parameter \"{}\", {}, {why}",
                spec.name,
                Shown(d)
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

/// Why a service's `[params]` do not fit its policies' declarations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParamError {
    /// The parameter at fault.
    pub name: String,
    /// The whole message: parameter, value, what is allowed, the policy, and what to do.
    pub message: String,
}

/// One policy's declarations, with the name it is known by in messages.
#[derive(Debug, Clone, Copy)]
pub struct Declared<'a> {
    /// "name version" of the policy, as its `info` says.
    pub policy: &'a str,
    /// Its declarations; empty when it declares nothing (then it may read any name).
    pub specs: &'a [ParamSpec],
}

/// Checks `params` (a service's `[params]`) against the declarations of the
/// policies that read them; see the module doc for the rules.
pub fn check(
    params: &BTreeMap<String, ParamValue>,
    policies: &[Declared<'_>],
) -> Result<(), ParamError> {
    check_with(params, policies, true)
}

/// Like [`check`], but names no policy declares pass: for tables shared by
/// policies that are not loaded together, such as a backtest scenario's
/// `[params]` (the built-in scenarios carry `cpu-high`, `target-cpu`,
/// `session-capacity`... for whichever policy runs on them).
pub fn check_known(
    params: &BTreeMap<String, ParamValue>,
    policies: &[Declared<'_>],
) -> Result<(), ParamError> {
    check_with(params, policies, false)
}

fn check_with(
    params: &BTreeMap<String, ParamValue>,
    policies: &[Declared<'_>],
    refuse_unknown: bool,
) -> Result<(), ParamError> {
    let reads_anything = !refuse_unknown || policies.iter().any(|p| p.specs.is_empty());
    for (name, value) in params {
        let mut declared = false;
        for p in policies {
            let Some(spec) = p.specs.iter().find(|s| s.name == *name) else {
                continue;
            };
            declared = true;
            if let Err(why) = spec.fits(value) {
                return Err(ParamError {
                    name: name.clone(),
                    message: format!(
                        "parameter \"{}\" = {} {why} (policy {} declares it: {}); fix it in the service's [params]",
                        escape(name),
                        Shown(value),
                        escape(p.policy),
                        spec.describe()
                    ),
                });
            }
        }
        if !declared && !reads_anything {
            let known: Vec<String> = policies
                .iter()
                .flat_map(|p| p.specs.iter())
                .map(|s| format!("{} ({})", escape(&s.name), s.kind.name()))
                .collect();
            let who: Vec<String> = policies
                .iter()
                .map(|p| escape(p.policy).into_owned())
                .collect();
            return Err(ParamError {
                name: name.clone(),
                message: format!(
                    "parameter \"{}\" = {} is not declared by policy {}, which reads {}; fix the name in the service's [params] or remove it",
                    escape(name),
                    Shown(value),
                    who.join(", "),
                    known.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// `params` with the defaults of `specs` the config leaves out filled in;
/// borrowed as is when nothing is missing (the usual case, no allocation).
pub fn with_defaults<'a>(
    params: &'a BTreeMap<String, ParamValue>,
    specs: &[ParamSpec],
) -> Cow<'a, BTreeMap<String, ParamValue>> {
    let missing = |s: &&ParamSpec| s.default.is_some() && !params.contains_key(&s.name);
    if !specs.iter().any(|s| missing(&s)) {
        return Cow::Borrowed(params);
    }
    let mut filled = params.clone();
    for s in specs.iter().filter(missing) {
        if let Some(d) = &s.default {
            filled.insert(s.name.clone(), d.clone());
        }
    }
    Cow::Owned(filled)
}

#[cfg(test)]
mod tests;
