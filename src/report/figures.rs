//! The report's figures, named: the same SVG strings are inlined into `report.html` and
//! written by the pipeline as standalone `.svg` files, so the two never disagree.

use super::escape::{fixed, p_value};
use super::forest::{forest_rows, forest_svg};
use super::input::{Analysis, EndpointResults, ReportInput};
use super::km_plot::{KmPlotOptions, km_svg};
use super::spider::spider_svg;
use super::waterfall::waterfall_svg;
use crate::survival::{KmFit, LogRank};

/// One rendered figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// File name for the standalone copy, e.g. `km_dfs_by_response.svg` (ASCII, no
    /// directory part: endpoint names are sanitised).
    pub file_name: String,
    pub svg: String,
}

/// A file-name-safe form of an endpoint name.
pub fn slug(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "endpoint".to_string()
    } else {
        t
    }
}

/// "Log-rank χ² = 6.31, df = 2, p = 0.043", or the reason it is missing.
pub fn logrank_line(lr: &Analysis<LogRank>) -> String {
    match lr {
        Analysis::Computed(l) => format!(
            "Log-rank χ² = {}, df = {}, p = {}",
            fixed(l.chisq, 2),
            l.df,
            p_value(l.p)
        ),
        Analysis::NotComputed { reason } => format!("Log-rank test not computed: {reason}"),
    }
}

/// The two KM figures of an endpoint: (by, km, logrank, figure title).
pub fn km_panels(
    ep: &EndpointResults,
) -> [(&'static str, &Analysis<KmFit>, &Analysis<LogRank>, String); 2] {
    [
        (
            "by_response",
            &ep.km_by_response,
            &ep.logrank_by_response,
            format!("{} by best overall response", ep.title()),
        ),
        (
            "by_d_high",
            &ep.km_by_d_high,
            &ep.logrank_by_d_high,
            format!("{} by D high (1) vs low (0)", ep.title()),
        ),
    ]
}

/// The KM figure of one panel, if its fit was computed.
pub fn km_figure(
    ep: &EndpointResults,
    by: &str,
    km: &Analysis<KmFit>,
    lr: &Analysis<LogRank>,
    title: &str,
) -> Option<Figure> {
    km.as_ref().map(|fit| Figure {
        file_name: format!("km_{}_{}.svg", slug(&ep.name), by),
        svg: km_svg(
            fit,
            &KmPlotOptions::new(title, &logrank_line(lr), &ep.time_label()),
        ),
    })
}

pub const WATERFALL_TITLE: &str = "Waterfall: change of the sum of diameters at the landmark (D)";
pub const SPIDER_TITLE: &str = "Spider: change of the sum of diameters over time";
pub const FOREST_TITLE: &str = "Hazard ratios (Cox, 95 % CI)";

/// Every figure of the report, in report order.
pub fn figures(input: &ReportInput<'_>) -> Vec<Figure> {
    let mut v = vec![
        Figure {
            file_name: "waterfall.svg".to_string(),
            svg: waterfall_svg(input.patients, WATERFALL_TITLE),
        },
        Figure {
            file_name: "spider.svg".to_string(),
            svg: spider_svg(input.timepoints, input.patients, SPIDER_TITLE),
        },
    ];
    for ep in input.endpoints {
        for (by, km, lr, title) in km_panels(ep) {
            v.extend(km_figure(ep, by, km, lr, &title));
        }
    }
    v.push(Figure {
        file_name: "forest.svg".to_string(),
        svg: forest_svg(&forest_rows(input.endpoints), FOREST_TITLE),
    });
    v
}
