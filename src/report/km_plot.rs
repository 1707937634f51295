//! Kaplan–Meier figure: one step curve per group, translucent step-shaped confidence
//! bands, censor ticks, and a number-at-risk table aligned with the x-axis ticks.

use std::fmt::Write;

use super::escape::{px, xml};
use super::scale::{LinearScale, nice_ticks, step_decimals};
use super::svg::{self, group_colour, group_display, text, text_width, truncate_to};
use crate::survival::{KmFit, KmGroup};

/// Titles and labels of one KM figure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KmPlotOptions {
    pub title: String,
    /// A line under the title, e.g. "Log-rank p = 0.012 (χ² = 6.3, df = 1)".
    pub subtitle: String,
    pub x_label: String,
    /// Draw the confidence bands (default true via [`KmPlotOptions::new`]).
    pub bands: bool,
}

impl KmPlotOptions {
    pub fn new(title: &str, subtitle: &str, x_label: &str) -> Self {
        Self {
            title: title.to_string(),
            subtitle: subtitle.to_string(),
            x_label: x_label.to_string(),
            bands: true,
        }
    }
}

/// Geometry of the figure, public so tests (and the report) can map data to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KmLayout {
    pub width: f64,
    pub height: f64,
    pub x: LinearScale,
    pub y: LinearScale,
    /// Top of the number-at-risk table.
    pub risk_top: f64,
}

const WIDTH: f64 = 760.0;
const PLOT_H: f64 = 300.0;
const RISK_ROW: f64 = 18.0;

/// Subjects at risk at time `t`: those with follow-up time ≥ t. In the KM table every
/// row's `n_risk` counts subjects with time ≥ row time, and no subject has a time strictly
/// between two rows, so the answer is the `n_risk` of the first row at or after `t`
/// (0 after the last row).
pub fn n_at_risk(group: &KmGroup, t: f64) -> f64 {
    group
        .table
        .iter()
        .find(|r| r.time >= t)
        .map_or(0.0, |r| r.n_risk)
}

/// The largest time in the fit (0 for an empty fit).
fn max_time(fit: &KmFit) -> f64 {
    fit.groups
        .iter()
        .flat_map(|g| g.table.iter().map(|r| r.time))
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max)
}

fn label_width(fit: &KmFit) -> f64 {
    fit.groups
        .iter()
        .map(|g| text_width(group_display(&g.group), 12.0))
        .fold(0.0, f64::max)
        .clamp(0.0, 180.0)
}

/// The x ticks: nice numbers from 0 to at least the largest time.
pub fn km_ticks(fit: &KmFit) -> Vec<f64> {
    let t = max_time(fit);
    nice_ticks(0.0, if t > 0.0 { t } else { 1.0 }, 6)
}

/// The layout [`km_svg`] uses for `fit`.
pub fn km_layout(fit: &KmFit, opts: &KmPlotOptions) -> KmLayout {
    let ticks = km_ticks(fit);
    let left = 72.0f64.max(label_width(fit) + 38.0);
    let right = WIDTH - 28.0;
    let top = legend_top(opts) + legend_height(fit, left, right) + 8.0;
    let bottom = top + PLOT_H;
    let x_max = ticks.last().copied().unwrap_or(1.0);
    let risk_top = bottom + 58.0;
    let height = risk_top + 22.0 + RISK_ROW * fit.groups.len() as f64 + 10.0;
    KmLayout {
        width: WIDTH,
        height,
        x: LinearScale::new(0.0, x_max, left, right),
        y: LinearScale::new(0.0, 1.0, bottom, top),
        risk_top,
    }
}

fn legend_top(opts: &KmPlotOptions) -> f64 {
    if opts.subtitle.is_empty() { 46.0 } else { 64.0 }
}

fn legend_items(fit: &KmFit) -> Vec<(String, &'static str)> {
    fit.groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            (
                format!(
                    "{} (n={}, events={})",
                    group_display(&g.group),
                    g.n,
                    g.events
                ),
                group_colour(&g.group, i),
            )
        })
        .collect()
}

fn legend_height(fit: &KmFit, left: f64, right: f64) -> f64 {
    // Dry-run the wrapping legend to know how many rows it takes.
    let mut scratch = String::new();
    svg::legend(&mut scratch, &legend_items(fit), left, 0.0, right)
}

/// Step-function vertices of (time, value) pairs starting at (0, start).
/// Rows with a non-finite time or value are skipped (they cannot be drawn, and a NaN in
/// a path makes the browser drop the whole curve).
fn steps(points: &[(f64, f64)], start: f64, x: &LinearScale, y: &LinearScale) -> Vec<(f64, f64)> {
    let mut out = vec![(x.map(0.0), y.map(start))];
    let mut prev = start;
    for &(t, v) in points
        .iter()
        .filter(|(t, v)| t.is_finite() && v.is_finite())
    {
        let xt = x.map_clamped(t);
        out.push((xt, y.map(prev)));
        out.push((xt, y.map(v)));
        prev = v;
    }
    out
}

fn path_d(pts: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, (px_, py_)) in pts.iter().enumerate() {
        let _ = write!(
            d,
            "{}{} {}",
            if i == 0 { "M" } else { " L" },
            px(*px_),
            px(*py_)
        );
    }
    d
}

/// The KM figure as a standalone SVG document.
pub fn km_svg(fit: &KmFit, opts: &KmPlotOptions) -> String {
    let lay = km_layout(fit, opts);
    let ticks = km_ticks(fit);
    let (x, y) = (lay.x, lay.y);
    let (left, right) = (x.r0, x.r1);
    let (top, bottom) = (y.r1, y.r0);
    let mut out = String::new();
    svg::open(&mut out, lay.width, lay.height, &opts.title);
    text(
        &mut out,
        left,
        24.0,
        "start",
        "font-size=\"16\" font-weight=\"bold\"",
        &opts.title,
    );
    if !opts.subtitle.is_empty() {
        text(
            &mut out,
            left,
            44.0,
            "start",
            "font-size=\"13\" fill=\"#333333\"",
            &opts.subtitle,
        );
    }
    svg::legend(&mut out, &legend_items(fit), left, legend_top(opts), right);

    let y_ticks = [0.0, 0.25, 0.5, 0.75, 1.0];
    svg::y_axis(
        &mut out,
        &y_ticks,
        |v| y.map(v),
        left,
        right,
        bottom,
        top,
        2,
        "Survival probability",
    );
    let xdec =
        step_decimals(ticks.get(1).copied().unwrap_or(1.0) - ticks.first().copied().unwrap_or(0.0));
    svg::x_axis(
        &mut out,
        &ticks,
        |v| x.map(v),
        bottom,
        top,
        left,
        right,
        xdec,
        &opts.x_label,
    );

    if fit.groups.is_empty() {
        text(
            &mut out,
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            "fill=\"#555555\"",
            "no data",
        );
    }

    // Bands first so every curve is drawn on top of every band.
    if opts.bands {
        for (i, g) in fit.groups.iter().enumerate() {
            let colour = group_colour(&g.group, i);
            let upper: Vec<(f64, f64)> = g
                .table
                .iter()
                .map(|r| (r.time, r.upper.unwrap_or(r.surv).clamp(0.0, 1.0)))
                .collect();
            let lower: Vec<(f64, f64)> = g
                .table
                .iter()
                .map(|r| (r.time, r.lower.unwrap_or(r.surv).clamp(0.0, 1.0)))
                .collect();
            let mut poly = steps(&upper, 1.0, &x, &y);
            let mut low = steps(&lower, 1.0, &x, &y);
            low.reverse();
            poly.extend(low);
            let _ = writeln!(
                out,
                "<path class=\"km-band\" d=\"{} Z\" fill=\"{colour}\" fill-opacity=\"0.15\" stroke=\"none\"/>",
                path_d(&poly)
            );
        }
    }
    for (i, g) in fit.groups.iter().enumerate() {
        let colour = group_colour(&g.group, i);
        let pts: Vec<(f64, f64)> = g
            .table
            .iter()
            .map(|r| (r.time, r.surv.clamp(0.0, 1.0)))
            .collect();
        let _ = writeln!(
            out,
            "<path class=\"km-curve\" data-group=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            xml(&g.group),
            path_d(&steps(&pts, 1.0, &x, &y))
        );
        // Censor marks: a short vertical tick on the curve at each censoring time.
        for r in g
            .table
            .iter()
            .filter(|r| r.n_censor > 0.0 && r.time.is_finite() && r.surv.is_finite())
        {
            let (cx, cy) = (x.map_clamped(r.time), y.map(r.surv.clamp(0.0, 1.0)));
            svg::line(
                &mut out,
                cx,
                cy - 5.0,
                cx,
                cy + 5.0,
                &format!("class=\"km-censor\" stroke=\"{colour}\" stroke-width=\"1.5\""),
            );
        }
    }

    // Number-at-risk table: one row per group, values under the x ticks.
    let rt = lay.risk_top;
    text(
        &mut out,
        8.0,
        rt,
        "start",
        "font-size=\"13\" font-weight=\"bold\"",
        "Number at risk",
    );
    out.push_str("<g class=\"km-risk\">\n");
    for (i, g) in fit.groups.iter().enumerate() {
        let ry = rt + 22.0 + RISK_ROW * i as f64;
        let colour = group_colour(&g.group, i);
        let name = truncate_to(group_display(&g.group), 12.0, left - 30.0);
        text(
            &mut out,
            left - 26.0,
            ry,
            "end",
            &format!("fill=\"{colour}\" font-weight=\"bold\""),
            &name,
        );
        for &t in &ticks {
            let n = n_at_risk(g, t);
            text(
                &mut out,
                x.map(t),
                ry,
                "middle",
                &format!(
                    "class=\"risk\" data-t=\"{}\"",
                    super::escape::tick_label(t, xdec)
                ),
                &super::escape::tick_label(n, 2),
            );
        }
    }
    out.push_str("</g>\n");
    svg::close(&mut out);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::survival::{KmRow, MedianCi};

    pub fn row(time: f64, n_risk: f64, n_event: f64, n_censor: f64, surv: f64) -> KmRow {
        KmRow {
            time,
            n_risk,
            n_event,
            n_censor,
            surv,
            std_err: None,
            lower: Some((surv - 0.1).max(0.0)),
            upper: Some((surv + 0.1).min(1.0)),
            cumhaz: 0.0,
        }
    }

    /// Times 2, 4, 4+, 7, 9+ (5 subjects): S = 0.8 at 2, 0.6 at 4, 0.3 at 7.
    pub fn small_fit() -> KmFit {
        KmFit {
            groups: vec![KmGroup {
                group: "arm=A<&>".to_string(),
                n: 5,
                events: 3,
                table: vec![
                    row(2.0, 5.0, 1.0, 0.0, 0.8),
                    row(4.0, 4.0, 1.0, 1.0, 0.6),
                    row(7.0, 2.0, 1.0, 0.0, 0.3),
                    row(9.0, 1.0, 0.0, 1.0, 0.3),
                ],
                median: MedianCi {
                    time: Some(7.0),
                    lower: Some(4.0),
                    upper: None,
                },
                at_times: vec![],
                rmst: None,
            }],
            n_dropped: 0,
            conf_type: "log".to_string(),
        }
    }

    #[test]
    fn at_risk_counts_subjects_with_time_at_or_after_t() {
        let g = &small_fit().groups[0];
        // Times 2, 4, 4, 7, 9: at t=0 → 5, t=2 → 5, t=3 → 4, t=4 → 4, t=5 → 2, t=8 → 1, t=10 → 0.
        let got: Vec<f64> = [0.0, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0]
            .iter()
            .map(|&t| n_at_risk(g, t))
            .collect();
        assert_eq!(got, vec![5.0, 5.0, 4.0, 4.0, 2.0, 1.0, 0.0]);
    }

    #[test]
    fn at_risk_row_under_the_plot_matches_ticks() {
        let fit = small_fit();
        let svg = km_svg(&fit, &KmPlotOptions::new("t", "", "Time"));
        // Ticks 0, 2, 4, 6, 8, 10 → at risk 5, 5, 4, 2, 1, 0.
        assert_eq!(km_ticks(&fit), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let risk: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains("class=\"risk\""))
            .map(|l| {
                let s = l.rfind("\">").unwrap() + 2;
                let e = l.rfind("</text>").unwrap();
                &l[s..e]
            })
            .collect();
        assert_eq!(risk, vec!["5", "5", "4", "2", "1", "0"]);
    }

    #[test]
    fn survival_half_lands_at_expected_pixel() {
        let mut fit = small_fit();
        fit.groups[0].table[1].surv = 0.5;
        let opts = KmPlotOptions::new("t", "", "Time");
        let lay = km_layout(&fit, &opts);
        let svg = km_svg(&fit, &opts);
        // Plot frame: y maps 1 → top, 0 → bottom; S = 0.5 is the midpoint.
        let y_half = (lay.y.r0 + lay.y.r1) / 2.0;
        let x4 = lay.x.r0 + 4.0 / 10.0 * (lay.x.r1 - lay.x.r0);
        assert_eq!(lay.y.map(0.5), y_half);
        let curve = svg.lines().find(|l| l.contains("km-curve")).unwrap();
        // Drop at t=4 from 0.8 to 0.5: a vertical segment at x(4) ending at y(0.5).
        let needle = format!(
            "L{} {} L{} {}",
            px(x4),
            px(lay.y.map(0.8)),
            px(x4),
            px(y_half)
        );
        assert!(curve.contains(&needle), "{needle} not in {curve}");
        // The curve starts at (0, 1): top-left of the frame.
        assert!(curve.contains(&format!("d=\"M{} {}", px(lay.x.r0), px(lay.y.r1))));
    }

    #[test]
    fn censor_ticks_and_escaping() {
        let svg = km_svg(
            &small_fit(),
            &KmPlotOptions::new("KM <by> arm", "p & q", "Time"),
        );
        assert_eq!(svg.matches("class=\"km-censor\"").count(), 2);
        assert!(svg.contains("data-group=\"arm=A&lt;&amp;&gt;\""));
        assert!(svg.contains("KM &lt;by&gt; arm"));
        assert!(!svg.contains("A<&>"));
    }

    #[test]
    fn deterministic() {
        let o = KmPlotOptions::new("t", "s", "x");
        assert_eq!(km_svg(&small_fit(), &o), km_svg(&small_fit(), &o));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::survival::{KmRow, MedianCi};
    use proptest::prelude::*;

    fn any_num() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => -10.0f64..1000.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
        ]
    }

    fn row() -> impl Strategy<Value = KmRow> {
        (
            any_num(),
            0u32..500,
            any_num(),
            proptest::option::of(any_num()),
            0u32..3,
        )
            .prop_map(|(time, n, surv, lower, c)| KmRow {
                time,
                n_risk: f64::from(n),
                n_event: 1.0,
                n_censor: f64::from(c),
                surv,
                std_err: None,
                lower,
                upper: lower.map(|l| l + 0.1),
                cumhaz: 0.0,
            })
    }

    proptest! {
        /// Whatever the numbers, every coordinate is a finite number inside the canvas,
        /// and names are escaped.
        #[test]
        fn svg_coordinates_always_finite(
            groups in proptest::collection::vec(("[a-z<&>\" ]{0,12}", proptest::collection::vec(row(), 0..20)), 0..5)
        ) {
            let fit = KmFit {
                groups: groups.iter().map(|(name, rows)| KmGroup {
                    group: name.clone(),
                    n: rows.len(),
                    events: rows.len(),
                    table: rows.clone(),
                    median: MedianCi::default(),
                    at_times: vec![],
                    rmst: None,
                }).collect(),
                n_dropped: 0,
                conf_type: "log".into(),
            };
            let opts = KmPlotOptions::new("t", "", "x");
            let svg = km_svg(&fit, &opts);
            prop_assert!(!svg.contains("NaN") && !svg.contains("Inf"));
            let lay = km_layout(&fit, &opts);
            // Every number inside an attribute value (coordinates, path data).
            for (i, _) in svg.match_indices("=\"") {
                let name = &svg[svg[..i].rfind(' ').map_or(0, |j| j + 1)..i];
                if name.starts_with("data-") {
                    continue;
                }
                let v = &svg[i + 2..];
                let v = &v[..v.find('"').unwrap_or(0)];
                for part in v.split([' ', 'M', 'L', 'Z', ',']) {
                    if let Ok(n) = part.parse::<f64>() {
                        prop_assert!(n.is_finite() && (-10.0..=lay.width.max(lay.height) + 10.0).contains(&n), "{} in {}", n, v);
                    }
                }
            }
            for (name, _) in &groups {
                let needle = format!("data-group=\"{}\"", crate::report::escape::xml(name));
                prop_assert!(svg.contains(&needle), "{} missing", needle);
            }
        }
    }
}
