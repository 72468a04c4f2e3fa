//! `/metrics`: the events' registry in the Prometheus text format (0.0.4),
//! then the families of other sources ([`Collect`]).

use std::fmt::Write;

use prometheus_client::encoding::prometheus_text;

use super::registry::Metrics;

/// A source of metric families of its own (the AWS call counter), written
/// into `/metrics` after the events' own.
pub trait Collect: Send + Sync {
    /// Writes its families, each with `# HELP` and `# TYPE`, in the text format.
    fn collect(&self, out: &mut String);
}

/// The `Content-Type` of [`text`]'s output.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Labels in the exposition format: `k="v",...`, values escaped.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

/// Every family of `metrics` and `sources`, each with `# HELP` and `# TYPE`
/// (even before it has a sample).
pub(super) fn text(metrics: &Metrics, sources: &[std::sync::Arc<dyn Collect>]) -> String {
    let mut out = String::new();
    prometheus_text::encode(&mut out, &metrics.registry).expect("writing to a String cannot fail");
    for source in sources {
        source.collect(&mut out);
    }
    out
}

/// The value of the sample `name{pairs}` in the exposition `text`, if it has one.
pub(super) fn sample(text: &str, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
    let mut series = String::from(name);
    if !pairs.is_empty() {
        let _ = write!(series, "{{{}}}", labels(pairs));
    }
    series.push(' ');
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.parse().ok())
}
