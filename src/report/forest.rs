//! Forest plot: one row per Cox term per endpoint, hazard ratio with 95 % CI on a log
//! axis, with the numbers printed beside it so the figure reads without the tables.

use std::fmt::Write;

use super::escape::{p_value, px, ratio, xml};
use super::input::EndpointResults;
use super::scale::{LogScale, log_ticks};
use super::svg::{self, text, truncate_to};
use crate::survival::CoxFit;

/// One line of the forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// Endpoint short name, e.g. `dfs`.
    pub endpoint: String,
    /// Model, e.g. "response (ref PR)".
    pub model: String,
    pub term: String,
    pub hr: f64,
    pub lower: f64,
    pub upper: f64,
    pub p: f64,
}

/// The three Cox models of an endpoint with their display names, in report order.
pub fn cox_models(ep: &EndpointResults) -> [(&'static str, &super::input::Analysis<CoxFit>); 3] {
    [
        ("response (ref PR)", &ep.cox_response),
        ("D high vs low", &ep.cox_d_high),
        ("D per 10 pp", &ep.cox_d_continuous),
    ]
}

/// All computed Cox terms of all endpoints, in endpoint then model then term order.
pub fn forest_rows(endpoints: &[EndpointResults]) -> Vec<ForestRow> {
    let mut rows = Vec::new();
    for ep in endpoints {
        for (model, fit) in cox_models(ep) {
            if let Some(fit) = fit.as_ref() {
                for t in &fit.coefficients {
                    rows.push(ForestRow {
                        endpoint: ep.name.clone(),
                        model: model.to_string(),
                        term: t.term.clone(),
                        hr: t.hr,
                        lower: t.ci_lower,
                        upper: t.ci_upper,
                        p: t.p,
                    });
                }
            }
        }
    }
    rows
}

const WIDTH: f64 = 960.0;
const COL_EP: f64 = 16.0;
const COL_MODEL: f64 = 96.0;
const COL_TERM: f64 = 236.0;
const PLOT_L: f64 = 420.0;
const PLOT_R: f64 = 700.0;
const COL_HR: f64 = 716.0;
const COL_P: f64 = 940.0;
const ROW_H: f64 = 24.0;
const TOP: f64 = 70.0;
/// The HR axis never shows beyond these bounds; CIs that go past get an arrow.
const HR_MIN: f64 = 0.01;
const HR_MAX: f64 = 100.0;

fn finite_pos(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// The log axis range: covers 1 and every finite CI bound, snapped out to 1-2-5 values,
/// limited to [0.01, 100].
pub fn forest_range(rows: &[ForestRow]) -> (f64, f64) {
    let mut lo = 0.5f64;
    let mut hi = 2.0f64;
    for r in rows {
        for v in [r.hr, r.lower, r.upper] {
            if finite_pos(v) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    let snap_down = |v: f64| {
        let k = v.log10().floor();
        let base = 10f64.powf(k);
        let m = v / base;
        let m = if m >= 5.0 {
            5.0
        } else if m >= 2.0 {
            2.0
        } else {
            1.0
        };
        m * base
    };
    let snap_up = |v: f64| {
        let k = v.log10().floor();
        let base = 10f64.powf(k);
        let m = v / base;
        let m = if m <= 1.0 + 1e-12 {
            1.0
        } else if m <= 2.0 {
            2.0
        } else if m <= 5.0 {
            5.0
        } else {
            10.0
        };
        m * base
    };
    (snap_down(lo).max(HR_MIN), snap_up(hi).min(HR_MAX))
}

/// The pixel layout of the log axis used by [`forest_svg`] for `rows`.
pub fn forest_scale(rows: &[ForestRow]) -> LogScale {
    let (lo, hi) = forest_range(rows);
    LogScale::new(lo, hi, PLOT_L, PLOT_R)
}

/// The forest figure as a standalone SVG document.
pub fn forest_svg(rows: &[ForestRow], title: &str) -> String {
    let s = forest_scale(rows);
    let n = rows.len().max(1) as f64;
    let bottom = TOP + ROW_H * n + 6.0;
    let height = bottom + 56.0;
    let mut out = String::new();
    svg::open(&mut out, WIDTH, height, title);
    text(
        &mut out,
        COL_EP,
        24.0,
        "start",
        "font-size=\"16\" font-weight=\"bold\"",
        title,
    );
    let head = "font-weight=\"bold\"";
    text(&mut out, COL_EP, TOP - 12.0, "start", head, "Endpoint");
    text(&mut out, COL_MODEL, TOP - 12.0, "start", head, "Model");
    text(&mut out, COL_TERM, TOP - 12.0, "start", head, "Term");
    text(&mut out, COL_HR, TOP - 12.0, "start", head, "HR (95 % CI)");
    text(&mut out, COL_P, TOP - 12.0, "end", head, "p");

    let ticks = log_ticks(s.d0, s.d1);
    for &t in &ticks {
        let x = s.map(t);
        svg::line(
            &mut out,
            x,
            TOP - 4.0,
            x,
            bottom,
            "stroke=\"#e6e6e6\" stroke-width=\"1\"",
        );
        svg::line(
            &mut out,
            x,
            bottom,
            x,
            bottom + 5.0,
            "stroke=\"#333333\" stroke-width=\"1\"",
        );
        text(
            &mut out,
            x,
            bottom + 18.0,
            "middle",
            "font-size=\"11\"",
            &super::escape::tick_label(t, 3),
        );
    }
    svg::line(
        &mut out,
        PLOT_L,
        bottom,
        PLOT_R,
        bottom,
        "stroke=\"#333333\" stroke-width=\"1\"",
    );
    let x1 = s.map(1.0);
    svg::line(
        &mut out,
        x1,
        TOP - 4.0,
        x1,
        bottom,
        "class=\"hr-one\" stroke=\"#333333\" stroke-width=\"1\" stroke-dasharray=\"4 3\"",
    );
    text(
        &mut out,
        (PLOT_L + PLOT_R) / 2.0,
        bottom + 36.0,
        "middle",
        "font-size=\"13\"",
        "Hazard ratio (log scale)",
    );
    text(
        &mut out,
        PLOT_L,
        bottom + 50.0,
        "start",
        "font-size=\"11\" fill=\"#555555\"",
        "← lower hazard",
    );
    text(
        &mut out,
        PLOT_R,
        bottom + 50.0,
        "end",
        "font-size=\"11\" fill=\"#555555\"",
        "higher hazard →",
    );

    let mut prev_ep = "";
    let mut prev_model = "";
    for (i, r) in rows.iter().enumerate() {
        let cy = TOP + ROW_H * i as f64 + ROW_H / 2.0;
        if i % 2 == 0 {
            let _ = writeln!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f5f7fa\"/>",
                px(8.0),
                px(cy - ROW_H / 2.0),
                px(WIDTH - 16.0),
                px(ROW_H)
            );
        }
        if r.endpoint != prev_ep {
            text(
                &mut out,
                COL_EP,
                cy + 4.0,
                "start",
                "font-weight=\"bold\"",
                &r.endpoint.to_uppercase(),
            );
            prev_model = "";
        }
        if r.model != prev_model {
            text(
                &mut out,
                COL_MODEL,
                cy + 4.0,
                "start",
                "",
                &truncate_to(&r.model, 12.0, COL_TERM - COL_MODEL - 6.0),
            );
        }
        prev_ep = &r.endpoint;
        prev_model = &r.model;
        text(
            &mut out,
            COL_TERM,
            cy + 4.0,
            "start",
            "",
            &truncate_to(&r.term, 12.0, PLOT_L - COL_TERM - 10.0),
        );
        // A finite HR is drawn even when a CI bound is infinite (it gets an arrow); an
        // infinite or zero HR (monotone likelihood) has no place on the axis.
        if finite_pos(r.hr) {
            let (xl, xu) = (s.map_clamped(r.lower), s.map_clamped(r.upper));
            let _ = writeln!(
                out,
                "<line class=\"ci\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#222222\" stroke-width=\"1.5\"/>",
                px(xl),
                px(cy),
                px(xu),
                px(cy)
            );
            // Arrows where the interval runs off the axis.
            if r.lower.is_nan() || r.lower < s.d0 {
                let _ = writeln!(
                    out,
                    "<path d=\"M{} {} l6 -4 l0 8 Z\" fill=\"#222222\"/>",
                    px(xl),
                    px(cy)
                );
            }
            if r.upper.is_nan() || r.upper > s.d1 {
                let _ = writeln!(
                    out,
                    "<path d=\"M{} {} l-6 -4 l0 8 Z\" fill=\"#222222\"/>",
                    px(xu),
                    px(cy)
                );
            }
            let xh = s.map_clamped(r.hr);
            let _ = writeln!(
                out,
                "<rect class=\"hr\" x=\"{}\" y=\"{}\" width=\"9\" height=\"9\" fill=\"#0072B2\"><title>{} {}: HR {}</title></rect>",
                px(xh - 4.5),
                px(cy - 4.5),
                xml(&r.endpoint),
                xml(&r.term),
                ratio(r.hr)
            );
            text(
                &mut out,
                COL_HR,
                cy + 4.0,
                "start",
                "",
                &format!("{} ({}–{})", ratio(r.hr), ratio(r.lower), ratio(r.upper)),
            );
        } else {
            text(
                &mut out,
                (PLOT_L + PLOT_R) / 2.0,
                cy + 4.0,
                "middle",
                "fill=\"#B00020\"",
                "not estimable",
            );
            text(
                &mut out,
                COL_HR,
                cy + 4.0,
                "start",
                "fill=\"#B00020\"",
                &format!("{} ({}–{})", ratio(r.hr), ratio(r.lower), ratio(r.upper)),
            );
        }
        text(&mut out, COL_P, cy + 4.0, "end", "", &p_value(r.p));
    }
    if rows.is_empty() {
        text(
            &mut out,
            (PLOT_L + PLOT_R) / 2.0,
            TOP + ROW_H / 2.0 + 4.0,
            "middle",
            "fill=\"#555555\"",
            "no Cox model was computed",
        );
    }
    svg::close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(term: &str, hr: f64, lo: f64, up: f64) -> ForestRow {
        ForestRow {
            endpoint: "os".into(),
            model: "m".into(),
            term: term.into(),
            hr,
            lower: lo,
            upper: up,
            p: 0.03,
        }
    }

    #[test]
    fn log_positions() {
        let rows = vec![r("a", 2.0, 1.0, 4.0), r("b", 0.5, 0.25, 1.0)];
        assert_eq!(forest_range(&rows), (0.2, 5.0));
        let s = forest_scale(&rows);
        // Equal ratios are equal distances on a log axis: 1→2 is as wide as 0.5→1.
        let d1 = s.map(2.0) - s.map(1.0);
        let d2 = s.map(1.0) - s.map(0.5);
        assert!((d1 - d2).abs() < 1e-9);
        // 1 sits at log(1/0.2)/log(25) of the width.
        let expect = PLOT_L + (5f64.log10() / 25f64.log10()) * (PLOT_R - PLOT_L);
        assert!((s.map(1.0) - expect).abs() < 1e-9);
        let svg = forest_svg(&rows, "F");
        let hr_line = svg.lines().find(|l| l.contains("class=\"hr\"")).unwrap();
        assert!(hr_line.contains(&format!("x=\"{}\"", px(s.map(2.0) - 4.5))));
        assert!(svg.contains("2.00 (1.00–4.00)"));
        assert!(svg.contains(">0.030<"));
    }

    #[test]
    fn infinite_hr_is_flagged_not_drawn_off_canvas() {
        let rows = vec![r("x<&>", f64::INFINITY, 0.0, f64::INFINITY)];
        let svg = forest_svg(&rows, "F");
        assert!(svg.contains("not estimable"));
        assert!(svg.contains("x&lt;&amp;&gt;"));
        assert!(!svg.contains("NaN"));
    }
}
