//! Spider plot: each patient's percent change of the sum of diameters from baseline over
//! days from baseline, one line per patient, coloured by best overall response.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::escape::{fixed, px, xml};
use super::scale::{LinearScale, nice_ticks, step_decimals};
use super::svg::{self, text};
use super::waterfall::{bar_colour, response_legend};
use crate::response::{PatientRow, TimepointRow};

const WIDTH: f64 = 900.0;
const LEFT: f64 = 72.0;
/// Room right of the plot for the reference-line labels, so they never sit on a bar.
const RIGHT: f64 = WIDTH - 56.0;
const PLOT_H: f64 = 320.0;

/// Per patient (sorted by id): the (day, % change) points, baseline included as (0, 0)
/// when the baseline sum is known, sorted by day.
pub fn spider_series(timepoints: &[TimepointRow]) -> BTreeMap<&str, Vec<(f64, f64)>> {
    let mut m: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for t in timepoints {
        let v = if t.timepoint == 0 {
            t.pct_change_from_baseline
                .or(t.baseline_sum_mm.or(t.sum_mm).map(|_| 0.0))
        } else {
            t.pct_change_from_baseline
        };
        if let Some(v) = v.filter(|v| v.is_finite()) {
            m.entry(t.patient_id.as_str())
                .or_default()
                .push((t.days_from_baseline as f64, v));
        }
    }
    for pts in m.values_mut() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    m
}

/// The spider figure as a standalone SVG document.
pub fn spider_svg(timepoints: &[TimepointRow], patients: &[PatientRow], title: &str) -> String {
    let series = spider_series(timepoints);
    let bor: BTreeMap<&str, &str> = patients
        .iter()
        .map(|p| (p.patient_id.as_str(), p.best_overall_response.as_str()))
        .collect();
    let all = series.values().flatten();
    let (mut xmax, mut ylo, mut yhi) = (1.0f64, -40.0f64, 30.0f64);
    for &(d, v) in all {
        xmax = xmax.max(d);
        ylo = ylo.min(v);
        yhi = yhi.max(v);
    }
    let xt = nice_ticks(0.0, xmax, 8);
    let yt = nice_ticks(ylo, yhi, 6);
    let legend_items =
        response_legend(series.keys().map(|id| bor.get(id).copied().unwrap_or("NE")));
    let mut scratch = String::new();
    let legend_h = svg::legend(&mut scratch, &legend_items, LEFT, 0.0, RIGHT);
    let top = 80.0 + legend_h - 18.0;
    let bottom = top + PLOT_H;
    let height = bottom + 56.0;
    let x = LinearScale::new(xt[0], xt[xt.len() - 1], LEFT, RIGHT);
    let y = LinearScale::new(yt[0], yt[yt.len() - 1], bottom, top);

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
            "{} patients; dashed lines at −30 % (PR) and +20 % (PD)",
            series.len()
        ),
    );
    svg::legend(&mut out, &legend_items, LEFT, 70.0, RIGHT);
    svg::y_axis(
        &mut out,
        &yt,
        |v| y.map(v),
        LEFT,
        RIGHT,
        bottom,
        top,
        2,
        "Change from baseline (%)",
    );
    let xdec = step_decimals(xt.get(1).copied().unwrap_or(1.0) - xt[0]);
    svg::x_axis(
        &mut out,
        &xt,
        |v| x.map(v),
        bottom,
        top,
        LEFT,
        RIGHT,
        xdec,
        "Days from baseline",
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
    svg::line(
        &mut out,
        LEFT,
        y.map(0.0),
        RIGHT,
        y.map(0.0),
        "stroke=\"#333333\" stroke-width=\"1\"",
    );
    for (id, pts) in &series {
        let b = bor.get(id).copied().unwrap_or("NE");
        let colour = bar_colour(b);
        let mut pts_s = String::new();
        for (i, (d, v)) in pts.iter().enumerate() {
            let _ = write!(
                pts_s,
                "{}{},{}",
                if i == 0 { "" } else { " " },
                px(x.map(*d)),
                px(y.map(*v))
            );
        }
        let last = pts.last().map_or(0.0, |p| p.1);
        let _ = writeln!(
            out,
            "<g class=\"spider-line\"><title>{}: {} ({} % at last assessment)</title>\
             <polyline points=\"{pts_s}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\" stroke-opacity=\"0.85\"/>",
            xml(id),
            xml(b),
            fixed(last, 1)
        );
        for (d, v) in pts {
            let _ = writeln!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{colour}\"/>",
                px(x.map(*d)),
                px(y.map(*v))
            );
        }
        out.push_str("</g>\n");
    }
    if series.is_empty() {
        text(
            &mut out,
            (LEFT + RIGHT) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            "fill=\"#555555\"",
            "no measured follow-up",
        );
    }
    svg::close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(id: &str, k: usize, day: i64, pct: Option<f64>) -> TimepointRow {
        TimepointRow {
            patient_id: id.to_string(),
            timepoint: k,
            study_date: "2020-01-01".to_string(),
            days_from_baseline: day,
            sum_mm: Some(10.0),
            baseline_sum_mm: Some(10.0),
            nadir_mm: Some(10.0),
            pct_change_from_baseline: pct,
            target_response: String::new(),
            nontarget_response: String::new(),
            new_lesions: false,
            overall_response: String::new(),
        }
    }

    #[test]
    fn series_start_at_baseline_and_sorted() {
        let t = vec![
            tp("B", 2, 120, Some(10.0)),
            tp("B", 0, 0, None),
            tp("B", 1, 60, Some(-20.0)),
            tp("A", 0, 0, None),
        ];
        let s = spider_series(&t);
        assert_eq!(s["B"], vec![(0.0, 0.0), (60.0, -20.0), (120.0, 10.0)]);
        assert_eq!(s["A"], vec![(0.0, 0.0)]);
        let svg = spider_svg(&t, &[], "S<");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("S&lt;"));
        assert_eq!(svg, spider_svg(&t, &[], "S<"));
    }
}
