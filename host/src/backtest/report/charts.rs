//! Line charts as SVG text (plotters' SVG backend), with a title, axis
//! labels with units, and a legend. Minute series are averaged into at most
//! [`MAX_POINTS`] buckets, so a month-long run stays a small file.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::backtest::BacktestError;

/// The most points a line gets.
pub const MAX_POINTS: usize = 1000;
/// Chart size in pixels.
pub const SIZE: (u32, u32) = (960, 300);
/// The height of the plotting area inside [`SIZE`]: less the caption, margins and x labels.
const PLOT_HEIGHT: f64 = 205.0;

/// The tab10 palette: distinct, colour-blind friendly enough, readable on white.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// How the time axis is labelled: hours for short runs, days for long ones.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    /// Seconds per axis unit.
    pub unit: f64,
    /// The axis label.
    pub label: &'static str,
    /// The axis end, in units.
    pub end: f64,
}

impl TimeAxis {
    /// The axis for a run of `duration` seconds.
    pub fn for_duration(duration: u64) -> TimeAxis {
        if duration <= 3 * 86_400 {
            TimeAxis {
                unit: 3600.0,
                label: "time since start (hours)",
                end: duration as f64 / 3600.0,
            }
        } else {
            TimeAxis {
                unit: 86_400.0,
                label: "time since start (days)",
                end: duration as f64 / 86_400.0,
            }
        }
    }
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its legend entry.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// Points (x in axis units); none for a gap.
    pub points: Vec<(f64, Option<f64>)>,
    /// Dashed, for references (the oracle, a target).
    pub dashed: bool,
    /// Drawn against the right-hand axis.
    pub right_axis: bool,
}

/// A chart to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The title.
    pub title: String,
    /// The left axis label, with its unit.
    pub y_label: String,
    /// The right axis label, when a line uses it.
    pub y2_label: Option<String>,
    /// The left axis' top, when fixed (100 for percentages).
    pub y_max: Option<f64>,
    /// The time axis.
    pub x: TimeAxis,
    /// The lines.
    pub lines: Vec<Line>,
}

/// Averages a minute series into at most [`MAX_POINTS`] points at bucket
/// midpoints; a bucket with no value is a gap.
pub fn bucketed(
    x: &TimeAxis,
    values: impl ExactSizeIterator<Item = Option<f64>>,
) -> Vec<(f64, Option<f64>)> {
    let n = values.len();
    let size = n.div_ceil(MAX_POINTS).max(1);
    let mut out = Vec::with_capacity(n / size + 1);
    let (mut sum, mut seen, mut in_bucket, mut start) = (0.0, 0usize, 0usize, 0usize);
    for (i, v) in values.enumerate() {
        if let Some(v) = v {
            sum += v;
            seen += 1;
        }
        in_bucket += 1;
        if in_bucket == size || i + 1 == n {
            let mid = (start as f64 + in_bucket as f64 / 2.0) * 60.0 / x.unit;
            out.push((mid, (seen > 0).then(|| sum / seen as f64)));
            (sum, seen, in_bucket, start) = (0.0, 0, 0, i + 1);
        }
    }
    out
}

/// A running total of a per-minute count, sampled at bucket ends.
pub fn cumulative(x: &TimeAxis, values: &[u32]) -> Vec<(f64, Option<f64>)> {
    let size = values.len().div_ceil(MAX_POINTS).max(1);
    let mut total = 0u64;
    let mut out = vec![(0.0, Some(0.0))];
    for (i, v) in values.iter().enumerate() {
        total += u64::from(*v);
        if (i + 1) % size == 0 || i + 1 == values.len() {
            out.push(((i + 1) as f64 * 60.0 / x.unit, Some(total as f64)));
        }
    }
    out
}

/// The top of an axis: the highest point plus headroom for the legend,
/// which sits in the upper left, so no line runs under it. The legend takes
/// about 17 px a line plus a border out of the plot's ~200 px.
fn top(lines: &[Line], right: bool) -> f64 {
    let max = lines
        .iter()
        .filter(|l| l.right_axis == right)
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .fold(0.0f64, f64::max);
    let legend = (17.0 * lines.len() as f64 + 14.0) / PLOT_HEIGHT;
    if max <= 0.0 {
        1.0
    } else {
        max / (1.0 - legend.min(0.6)) * 1.03
    }
}

/// Consecutive runs of present points, so gaps stay gaps.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        match y {
            Some(y) => out.last_mut().expect("never empty").push((x, y)),
            None if out.last().is_some_and(|s| !s.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Draws `chart` as an SVG document.
pub fn draw(chart: &Chart) -> Result<String, BacktestError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        render(&root, chart).map_err(|message| BacktestError::Chart {
            chart: chart.title.clone(),
            message,
        })?;
        root.present().map_err(|e| BacktestError::Chart {
            chart: chart.title.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(svg)
}

fn render(root: &DrawingArea<SVGBackend<'_>, Shift>, c: &Chart) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let has_right = c.lines.iter().any(|l| l.right_axis);
    let y_max = c.y_max.unwrap_or_else(|| top(&c.lines, false));
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .right_y_label_area_size(if has_right { 64 } else { 0 })
        .build_cartesian_2d(0f64..c.x.end.max(1e-9), 0f64..y_max)
        .map_err(err)?
        .set_secondary_coord(0f64..c.x.end.max(1e-9), 0f64..top(&c.lines, true));
    let whole = |v: &f64| format!("{v:.0}");
    let fine = |v: &f64| format!("{v:.1}");
    let x_fmt: &dyn Fn(&f64) -> String = if c.x.end >= 4.0 { &whole } else { &fine };
    let y_fmt: &dyn Fn(&f64) -> String = if y_max >= 4.0 { &whole } else { &fine };
    let y2_fmt: &dyn Fn(&f64) -> String = if top(&c.lines, true) >= 4.0 {
        &whole
    } else {
        &fine
    };
    chart
        .configure_mesh()
        .x_desc(c.x.label)
        .y_desc(&c.y_label)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .axis_desc_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    if has_right && let Some(label) = &c.y2_label {
        chart
            .configure_secondary_axes()
            .y_desc(label)
            .y_label_formatter(y2_fmt)
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
    }
    for line in &c.lines {
        let style = ShapeStyle {
            color: line.color.to_rgba(),
            filled: false,
            stroke_width: 2,
        };
        for (i, seg) in segments(&line.points).into_iter().enumerate() {
            let anno = match (line.right_axis, line.dashed) {
                (false, false) => chart.draw_series(LineSeries::new(seg, style)),
                (false, true) => chart.draw_series(DashedLineSeries::new(seg, 6, 4, style)),
                (true, false) => chart.draw_secondary_series(LineSeries::new(seg, style)),
                (true, true) => {
                    chart.draw_secondary_series(DashedLineSeries::new(seg, 6, 4, style))
                }
            }
            .map_err(err)?;
            if i == 0 {
                let color = line.color;
                let label = if line.right_axis && has_right {
                    format!("{} (right axis)", line.label)
                } else {
                    line.label.clone()
                };
                anno.label(label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis() -> TimeAxis {
        TimeAxis::for_duration(3 * 3600)
    }

    #[test]
    fn buckets_average_and_keep_gaps() {
        let x = axis();
        let pts = bucketed(&x, [Some(1.0), Some(3.0), None].into_iter());
        assert_eq!(pts.len(), 3, "few points: one per minute");
        assert_eq!(pts[0], (0.5 / 60.0, Some(1.0)));
        assert_eq!(pts[2].1, None);
        let long: Vec<Option<f64>> = (0..5000).map(|i| Some(f64::from(i % 2))).collect();
        let pts = bucketed(&x, long.into_iter());
        assert_eq!(pts.len(), 1000);
        assert!(pts.iter().all(|p| p.1 == Some(0.4) || p.1 == Some(0.6)));
        let cum = cumulative(&x, &[1, 0, 2]);
        assert_eq!(cum.last(), Some(&(3.0 / 60.0, Some(3.0))));
        assert_eq!(
            segments(&[(0.0, Some(1.0)), (1.0, None), (2.0, Some(2.0))]).len(),
            2
        );
    }

    #[test]
    fn a_chart_is_an_svg_with_its_title_axes_and_legend() {
        let x = axis();
        let svg = draw(&Chart {
            title: "Tasks & more".into(),
            y_label: "tasks".into(),
            y2_label: Some("sessions".into()),
            y_max: None,
            x,
            lines: vec![
                Line {
                    label: "running".into(),
                    color: PALETTE[0],
                    points: bucketed(&x, (0..180).map(|i| Some(f64::from(i)))),
                    dashed: false,
                    right_axis: false,
                },
                Line {
                    label: "oracle".into(),
                    color: PALETTE[7],
                    points: bucketed(&x, (0..180).map(|_| Some(5.0))),
                    dashed: true,
                    right_axis: true,
                },
            ],
        })
        .expect("draws");
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for text in [
            "Tasks &amp; more",
            "tasks",
            "sessions",
            "running",
            "oracle (right axis)",
            "time since start (hours)",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
    }
}
