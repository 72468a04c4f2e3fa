//! Declaring the parameters a policy reads, for [`export_policy!`](crate::export_policy).

use crate::ParamValue;
use crate::bindings::exports::autoscaler::policy::policy::{self as wire, ParamKind};

/// One parameter a policy reads from the service's `[params]`: its name,
/// type, default, range and a doc line. The host checks the config against
/// the declarations when it loads the policy (an unknown name, a wrong type
/// or a value out of range refuses the policy, naming the parameter) and
/// fills in the defaults the config leaves out.
///
/// ```
/// use autoscaler_sdk::ParamSpec;
/// let buffer = ParamSpec::number("buffer-slots", 10.0)
///     .range(0.0, 500.0)
///     .doc("Free session slots kept on serving tasks.");
/// assert_eq!(buffer.min, Some(0.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The name, as written in the config.
    pub name: String,
    /// The type the config value must have.
    pub kind: ParamKind,
    /// The value used when the config leaves it out; none for an optional parameter.
    pub default: Option<ParamValue>,
    /// The lowest number allowed.
    pub min: Option<f64>,
    /// The highest number allowed.
    pub max: Option<f64>,
    /// What the parameter does, in one line.
    pub doc: String,
}

impl ParamSpec {
    fn new(name: &str, kind: ParamKind, default: Option<ParamValue>) -> Self {
        ParamSpec {
            name: name.to_string(),
            kind,
            default,
            min: None,
            max: None,
            doc: String::new(),
        }
    }

    /// A number with a default.
    pub fn number(name: &str, default: f64) -> Self {
        Self::new(name, ParamKind::Number, Some(ParamValue::Number(default)))
    }

    /// A true/false switch with a default.
    pub fn flag(name: &str, default: bool) -> Self {
        Self::new(name, ParamKind::Flag, Some(ParamValue::Flag(default)))
    }

    /// Free text with a default.
    pub fn text(name: &str, default: &str) -> Self {
        Self::new(
            name,
            ParamKind::Text,
            Some(ParamValue::Text(default.into())),
        )
    }

    /// A parameter of `kind` with no default: absent from the snapshot when
    /// the config leaves it out.
    pub fn optional(name: &str, kind: ParamKind) -> Self {
        Self::new(name, kind, None)
    }

    /// The range a number must lie in, both ends included.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    /// The lowest number allowed.
    pub fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    /// The highest number allowed.
    pub fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// What the parameter does, in one line.
    pub fn doc(mut self, doc: &str) -> Self {
        self.doc = doc.to_string();
        self
    }

    /// The declaration as it crosses the boundary.
    #[doc(hidden)]
    pub fn into_wire(self) -> wire::ParamSpec {
        wire::ParamSpec {
            name: self.name,
            kind: self.kind,
            default: self.default,
            min: self.min,
            max: self.max,
            doc: self.doc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SnapshotBuilder;

    #[test]
    fn specs_build_and_cross_the_boundary_and_fill_defaults() {
        let specs = [
            ParamSpec::number("buffer-slots", 10.0)
                .range(0.0, 500.0)
                .doc("Free slots."),
            ParamSpec::flag("phases", false),
            ParamSpec::text("mode", "fast").doc("How."),
            ParamSpec::optional("utc-offset", ParamKind::Number).min(-12.0),
        ];
        let wire = specs[0].clone().into_wire();
        assert_eq!(wire.name, "buffer-slots");
        assert_eq!(wire.kind, ParamKind::Number);
        assert_eq!(wire.default, Some(ParamValue::Number(10.0)));
        assert_eq!((wire.min, wire.max), (Some(0.0), Some(500.0)));
        assert_eq!(wire.doc, "Free slots.");
        assert_eq!(specs[3].default, None);
        assert_eq!((specs[3].min, specs[3].max), (Some(-12.0), None));

        let s = SnapshotBuilder::new()
            .param("buffer-slots", 25.0)
            .declared(&specs)
            .build();
        assert_eq!(s.param_f64("buffer-slots"), Some(25.0), "the config wins");
        assert_eq!(s.param_bool("phases"), Some(false));
        assert_eq!(s.param_str("mode"), Some("fast"));
        assert_eq!(s.param_f64("utc-offset"), None, "no default, not set");
        assert_eq!(s.params.len(), 3);
    }
}
