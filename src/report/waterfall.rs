//! Waterfall plot: one bar per patient of D (percent change of the sum of diameters at the
//! landmark), sorted from largest growth to largest shrinkage, coloured by best overall
//! response, with the RECIST reference lines at −30 % (PR) and +20 % (PD).

use std::fmt::Write;

use super::escape::{fixed, px, xml};
use super::scale::{LinearScale, nice_ticks};
use super::svg::{self, response_colour, response_rank, text};
use crate::response::PatientRow;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 72.0;
/// Room right of the plot for the reference-line labels, so they never sit on a bar.
const RIGHT: f64 = WIDTH - 56.0;
const TOP: f64 = 80.0;
const PLOT_H: f64 = 300.0;
/// Above this many patients the ids under the bars would overlap; they go to tooltips.
const MAX_LABELLED: usize = 40;

/// Patients with a D value, in plot order: descending D, ties by patient id.
pub fn waterfall_order(patients: &[PatientRow]) -> Vec<(&PatientRow, f64)> {
    let mut v: Vec<(&PatientRow, f64)> = patients
        .iter()
        .filter_map(|p| p.d_percent.filter(|d| d.is_finite()).map(|d| (p, d)))
        .collect();
    v.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| a.0.patient_id.cmp(&b.0.patient_id))
    });
    v
}

/// Legend entries for the responses present, best first; unknown codes grey.
pub fn response_legend<'a>(codes: impl Iterator<Item = &'a str>) -> Vec<(String, &'static str)> {
    let mut present: Vec<String> = codes
        .map(|c| {
            if c.trim().is_empty() {
                "NE".to_string()
            } else {
                c.trim().to_string()
            }
        })
        .collect();
    present.sort_by(|a, b| {
        response_rank(a)
            .cmp(&response_rank(b))
            .then_with(|| a.cmp(b))
    });
    present.dedup();
    present
        .into_iter()
        .map(|c| {
            let col = response_colour(&c).unwrap_or("#8C8C8C");
            (c, col)
        })
        .collect()
}

pub fn bar_colour(bor: &str) -> &'static str {
    response_colour(if bor.trim().is_empty() { "NE" } else { bor }).unwrap_or("#8C8C8C")
}

/// The waterfall figure as a standalone SVG document.
pub fn waterfall_svg(patients: &[PatientRow], title: &str) -> String {
    let bars = waterfall_order(patients);
    let labelled = bars.len() <= MAX_LABELLED;
    let lo = bars.iter().map(|b| b.1).fold(-40.0f64, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(30.0f64, f64::max);
    let ticks = nice_ticks(lo, hi, 6);
    let (t0, t1) = (ticks[0], ticks[ticks.len() - 1]);
    let legend_items = response_legend(bars.iter().map(|b| b.0.best_overall_response.as_str()));
    let mut scratch = String::new();
    let legend_h = svg::legend(&mut scratch, &legend_items, LEFT, 0.0, RIGHT);
    let top = TOP + legend_h - 18.0;
    let bottom = top + PLOT_H;
    let height = bottom + if labelled { 90.0 } else { 50.0 };
    let y = LinearScale::new(t0, t1, bottom, top);
    let n = bars.len().max(1) as f64;
    let slot = (RIGHT - LEFT) / n;
    let bar_w = (slot * 0.8).max(0.5);

    let mut out = String::new();
    svg::open(&mut out, WIDTH, height, title);
    text(
        &mut out,
        LEFT,
        24.0,
        "start",
        "font-size=\"16\" font-weight=\"bold\"",
        title,
    );
    text(
        &mut out,
        LEFT,
        44.0,
        "start",
        "font-size=\"13\" fill=\"#333333\"",
        &format!(
            "{} patients with D; dashed lines at −30 % (PR) and +20 % (PD)",
            bars.len()
        ),
    );
    svg::legend(&mut out, &legend_items, LEFT, 70.0, RIGHT);
    svg::y_axis(
        &mut out,
        &ticks,
        |v| y.map(v),
        LEFT,
        RIGHT,
        bottom,
        top,
        2,
        "Change from baseline (%)",
    );
    out.push_str("<g class=\"bars\">\n");
    for (i, (p, d)) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let (y0, y1) = (y.map(0.0), y.map(*d));
        let _ = writeln!(
            out,
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {} % ({})</title></rect>",
            px(x),
            px(y0.min(y1)),
            px(bar_w),
            px((y1 - y0).abs().max(0.5)),
            bar_colour(&p.best_overall_response),
            xml(&p.patient_id),
            fixed(*d, 1),
            xml(&p.best_overall_response)
        );
        if labelled {
            let lx = x + bar_w / 2.0 + 4.0;
            let ly = bottom + 10.0;
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"10\" transform=\"rotate(-60 {} {})\">{}</text>",
                px(lx),
                px(ly),
                px(lx),
                px(ly),
                xml(&svg::truncate_to(&p.patient_id, 10.0, 90.0))
            );
        }
    }
    out.push_str("</g>\n");
    svg::line(
        &mut out,
        LEFT,
        y.map(0.0),
        RIGHT,
        y.map(0.0),
        "stroke=\"#333333\" stroke-width=\"1\"",
    );
    for (v, lab) in [(-30.0, "−30 %"), (20.0, "+20 %")] {
        let yy = y.map(v);
        svg::line(
            &mut out,
            LEFT,
            yy,
            RIGHT,
            yy,
            "class=\"ref\" stroke=\"#555555\" stroke-width=\"1\" stroke-dasharray=\"6 4\"",
        );
        text(
            &mut out,
            RIGHT + 4.0,
            yy + 4.0,
            "start",
            "font-size=\"11\" fill=\"#555555\"",
            lab,
        );
    }
    if bars.is_empty() {
        text(
            &mut out,
            (LEFT + RIGHT) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            "fill=\"#555555\"",
            "no patient has a D value",
        );
    }
    if !labelled {
        text(
            &mut out,
            (LEFT + RIGHT) / 2.0,
            bottom + 24.0,
            "middle",
            "font-size=\"13\"",
            "Patients (hover a bar for its id)",
        );
    }
    svg::close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn patient(id: &str, bor: &str, d: Option<f64>) -> PatientRow {
        PatientRow {
            patient_id: id.to_string(),
            n_timepoints: 3,
            baseline_sum_mm: Some(50.0),
            best_overall_response: bor.to_string(),
            d_percent: d,
            d_high: d.map(|d| u8::from(d > 0.0)),
            evaluable: d.is_some(),
            reason: String::new(),
        }
    }

    #[test]
    fn bars_sorted_descending_and_coloured() {
        let ps = vec![
            patient("P1", "PR", Some(-45.0)),
            patient("P2", "PD", Some(30.0)),
            patient("P3", "SD", Some(-5.0)),
            patient("P4", "NE", None),
        ];
        let order: Vec<&str> = waterfall_order(&ps)
            .iter()
            .map(|b| b.0.patient_id.as_str())
            .collect();
        assert_eq!(order, vec!["P2", "P3", "P1"]);
        let s = waterfall_svg(&ps, "W");
        let bars: Vec<&str> = s.lines().filter(|l| l.contains("class=\"bar\"")).collect();
        assert_eq!(bars.len(), 3);
        assert!(bars[0].contains("#D55E00") && bars[2].contains("#0072B2"));
        assert_eq!(s.matches("class=\"ref\"").count(), 2);
    }

    #[test]
    fn escapes_ids() {
        let ps = vec![patient("<P&\"1>", "PR", Some(-45.0))];
        let s = waterfall_svg(&ps, "W");
        assert!(s.contains("&lt;P&amp;&quot;1&gt;"));
        assert!(!s.contains("<P&"));
        assert_eq!(s, waterfall_svg(&ps, "W"));
    }
}
