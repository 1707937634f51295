//! The self-contained `report.html`: inline CSS and SVG, key images as `data:` URIs, no
//! scripts, no network. A small hand-written builder rather than a template engine: the
//! page is mostly generated tables and figures, every value passes through one escaping
//! function, and it keeps a compile-time dependency (askama's proc-macro) off a crate
//! that builds on 2-core imaging servers. Same input → same bytes: no clock, no
//! hash-map iteration, fixed float formatting.

use std::collections::BTreeMap;
use std::fmt::Write;

use base64::Engine as _;

use super::escape::{fixed, opt, p_value, ratio, xml};
use super::figures::{
    FOREST_TITLE, SPIDER_TITLE, WATERFALL_TITLE, km_figure, km_panels, logrank_line, slug,
};
use super::forest::{cox_models, forest_rows, forest_svg, term_label};
use super::input::{Analysis, EndpointResults, ImageSource, KeyImage, ReportInput};
use super::spider::spider_svg;
use super::svg::{group_display, response_rank};
use super::waterfall::waterfall_svg;
use crate::response::PatientRow;
use crate::survival::{CoxFit, KmFit, LogRank, MedianCi};

/// Above this many rows, long lists (quarantine, patients not evaluable) are cut in the
/// page and the reader is pointed at the CSV that has them all.
pub const MAX_LIST_ROWS: usize = 500;

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: sans-serif; font-size: 15px; line-height: 1.45; color: #1a1a1a; background: #ffffff; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 28px 60px; }
h1 { font-size: 26px; margin: 18px 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #0072B2; }
h3 { font-size: 17px; margin: 24px 0 8px; }
p.meta { color: #555555; margin: 0 0 12px; }
nav ul { margin: 6px 0; padding-left: 18px; columns: 2; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 14px; }
th, td { border: 1px solid #d0d4da; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
tbody tr:nth-child(even) td { background: #f8f9fb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 260px; }
.warning { border-left: 5px solid #B00020; background: #fdecee; padding: 8px 12px; margin: 8px 0; }
.warning strong, strong.bad { color: #B00020; }
.notcomputed { border-left: 5px solid #8C8C8C; background: #f3f3f3; padding: 8px 12px; margin: 8px 0; color: #333333; }
figure.plot { margin: 12px 0 18px; }
figure.plot svg { max-width: 100%; height: auto; border: 1px solid #e3e6ea; }
.gallery-row { display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0 16px; }
.gallery-row figure { margin: 0; border: 1px solid #d0d4da; padding: 6px; background: #fafafa; }
.gallery-row img { display: block; max-width: 320px; height: auto; image-rendering: pixelated; }
.gallery-row figcaption { font-size: 12px; color: #333333; max-width: 320px; }
.missing-image { width: 220px; min-height: 120px; padding: 6px; box-sizing: border-box; overflow-wrap: anywhere; display: flex; align-items: center; justify-content: center; text-align: center; font-size: 12px; color: #B00020; background: #fdecee; }
.scroll { max-height: 520px; overflow: auto; }
footer { margin-top: 40px; color: #666666; font-size: 12px; }
"#;

/// Renders the whole report.
pub fn render_report(input: &ReportInput<'_>) -> String {
    // The embedded key images (base64: 4 bytes per 3) are most of the page: room for them
    // up front instead of regrowing (and copying) a string of megabytes.
    let embedded: usize = input
        .key_images
        .iter()
        .map(|k| match &k.source {
            ImageSource::Png(b) => b.len().div_ceil(3) * 4 + 512,
            ImageSource::File(_) => 512,
        })
        .sum();
    let mut h = String::with_capacity(256 * 1024 + embedded);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"oncometry {v}\">\n<title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <h1>{t}</h1>\n<p class=\"meta\">oncometry {v} — RECIST 1.1 response, percent dimensional variation D and survival.</p>\n",
        v = env!("CARGO_PKG_VERSION"),
        t = xml(input.title)
    );
    toc(&mut h, input);
    warnings_summary(&mut h, input.endpoints);
    data_quality(&mut h, input);
    response_section(&mut h, input);
    for ep in input.endpoints {
        endpoint_section(&mut h, ep);
    }
    forest_section(&mut h, input);
    patients_section(&mut h, input.patients);
    gallery(&mut h, input.key_images);
    let _ = write!(
        h,
        "<footer>Figures are also written as standalone SVG files next to this report. \
         Numbers: survival.json, patients.csv, timepoints.csv, lesions.csv, quarantine.csv.</footer>\n</main>\n</body>\n</html>\n"
    );
    h
}

fn toc(h: &mut String, input: &ReportInput<'_>) {
    h.push_str("<nav><ul>\n<li><a href=\"#data-quality\">Run summary and data quality</a></li>\n<li><a href=\"#response\">Response</a></li>\n");
    for ep in input.endpoints {
        let _ = writeln!(
            h,
            "<li><a href=\"#endpoint-{}\">{}</a></li>",
            slug(&ep.name),
            xml(&ep.title())
        );
    }
    h.push_str("<li><a href=\"#forest\">Hazard ratios</a></li>\n<li><a href=\"#patients\">Patients</a></li>\n<li><a href=\"#key-images\">Key images</a></li>\n</ul></nav>\n");
}

/// Every model warning (e.g. monotone likelihood) once more at the top of the page, so a
/// reader who only looks at the forest plot's numbers cannot miss them.
fn warnings_summary(h: &mut String, endpoints: &[EndpointResults]) {
    let mut lines = Vec::new();
    for ep in endpoints {
        for (model, fit) in cox_models(ep) {
            if let Some(fit) = fit.as_ref() {
                for w in &fit.warnings {
                    lines.push(format!("{} — Cox {}: {}", ep.name.to_uppercase(), model, w));
                }
            }
        }
    }
    if lines.is_empty() {
        return;
    }
    h.push_str("<div class=\"warning\" id=\"warnings\"><strong>Model warnings — read before using these hazard ratios:</strong><ul>\n");
    for l in lines {
        let _ = writeln!(h, "<li>{}</li>", xml(&l));
    }
    h.push_str("</ul></div>\n");
}

fn kv(h: &mut String, k: &str, v: &str) {
    let _ = writeln!(
        h,
        "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
        xml(k),
        xml(v)
    );
}

fn data_quality(h: &mut String, input: &ReportInput<'_>) {
    let q = input.quality;
    let not_eval: Vec<&PatientRow> = sorted_patients(input.patients)
        .into_iter()
        .filter(|p| !p.evaluable)
        .collect();
    h.push_str("<section id=\"data-quality\">\n<h2>Run summary and data quality</h2>\n<table class=\"kv\"><tbody>\n");
    kv(h, "Files seen", &q.files_seen.to_string());
    kv(h, "Files indexed", &q.files_indexed.to_string());
    kv(
        h,
        "Files ignored (not DICOM / not used)",
        &q.files_ignored.to_string(),
    );
    kv(h, "Files quarantined", &q.quarantined.len().to_string());
    kv(h, "Patients indexed", &q.patients_indexed.to_string());
    kv(h, "Patients evaluable", &q.patients_evaluable.to_string());
    kv(h, "Patients not evaluable", &not_eval.len().to_string());
    kv(
        h,
        "Patients only in the clinical table",
        &q.patients_only_clinical.len().to_string(),
    );
    kv(
        h,
        "Patients only in the images",
        &q.patients_only_images.len().to_string(),
    );
    kv(h, "Lesion measurements", &q.lesions_measured.to_string());
    h.push_str("</tbody></table>\n");
    if !q.config.is_empty() {
        h.push_str("<h3>Run configuration</h3>\n<table class=\"kv\"><tbody>\n");
        for (k, v) in &q.config {
            let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", xml(k), xml(v));
        }
        h.push_str("</tbody></table>\n");
    }
    let _ = writeln!(h, "<h3>Quarantined files ({})</h3>", q.quarantined.len());
    if q.quarantined.is_empty() {
        h.push_str("<p>None.</p>\n");
    } else {
        let mut files: Vec<_> = q.quarantined.iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.reason.cmp(&b.reason)));
        h.push_str("<div class=\"scroll\"><table><thead><tr><th>File</th><th>Reason</th></tr></thead><tbody>\n");
        for f in files.iter().take(MAX_LIST_ROWS) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td></tr>",
                xml(&f.path),
                xml(&f.reason)
            );
        }
        h.push_str("</tbody></table></div>\n");
        if files.len() > MAX_LIST_ROWS {
            let _ = writeln!(
                h,
                "<p>{} more in quarantine.csv.</p>",
                files.len() - MAX_LIST_ROWS
            );
        }
    }
    let _ = writeln!(h, "<h3>Patients not evaluable ({})</h3>", not_eval.len());
    if not_eval.is_empty() {
        h.push_str("<p>None.</p>\n");
    } else {
        h.push_str("<div class=\"scroll\"><table><thead><tr><th>Patient</th><th>Reason</th></tr></thead><tbody>\n");
        for p in not_eval.iter().take(MAX_LIST_ROWS) {
            let reason = if p.reason.is_empty() {
                "(no reason recorded)"
            } else {
                p.reason.as_str()
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td></tr>",
                xml(&p.patient_id),
                xml(reason)
            );
        }
        h.push_str("</tbody></table></div>\n");
        if not_eval.len() > MAX_LIST_ROWS {
            let _ = writeln!(
                h,
                "<p>{} more in patients.csv.</p>",
                not_eval.len() - MAX_LIST_ROWS
            );
        }
    }
    id_list(
        h,
        "Patients only in the clinical table",
        &q.patients_only_clinical,
    );
    id_list(h, "Patients only in the images", &q.patients_only_images);
    h.push_str("</section>\n");
}

fn id_list(h: &mut String, title: &str, ids: &[String]) {
    let _ = writeln!(h, "<h3>{} ({})</h3>", xml(title), ids.len());
    if ids.is_empty() {
        h.push_str("<p>None.</p>\n");
        return;
    }
    let mut v: Vec<&str> = ids.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    let shown: Vec<String> = v.iter().take(MAX_LIST_ROWS).map(|s| xml(s)).collect();
    let _ = writeln!(
        h,
        "<p>{}{}</p>",
        shown.join(", "),
        if v.len() > MAX_LIST_ROWS { ", …" } else { "" }
    );
}

fn sorted_patients(patients: &[PatientRow]) -> Vec<&PatientRow> {
    let mut v: Vec<&PatientRow> = patients.iter().collect();
    v.sort_by(|a, b| a.patient_id.cmp(&b.patient_id));
    v
}

fn figure(h: &mut String, svg: &str) {
    h.push_str("<figure class=\"plot\">\n");
    h.push_str(svg);
    h.push_str("</figure>\n");
}

fn not_computed(h: &mut String, what: &str, reason: &str) {
    let _ = writeln!(
        h,
        "<div class=\"notcomputed\"><strong>{}</strong> not computed: {}</div>",
        xml(what),
        xml(reason)
    );
}

/// Counts of best overall response, best first.
pub fn response_counts(patients: &[PatientRow]) -> Vec<(String, usize)> {
    let mut m: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for p in patients {
        let code = if p.best_overall_response.trim().is_empty() {
            "(none)".to_string()
        } else {
            p.best_overall_response.trim().to_string()
        };
        *m.entry((response_rank(&code), code)).or_default() += 1;
    }
    m.into_iter().map(|((_, c), n)| (c, n)).collect()
}

fn response_section(h: &mut String, input: &ReportInput<'_>) {
    h.push_str("<section id=\"response\">\n<h2>Response (RECIST 1.1)</h2>\n");
    let total = input.patients.len();
    h.push_str("<table><thead><tr><th>Best overall response</th><th class=\"num\">Patients</th><th class=\"num\">%</th></tr></thead><tbody>\n");
    for (code, n) in response_counts(input.patients) {
        let pct = if total > 0 {
            100.0 * n as f64 / total as f64
        } else {
            0.0
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{n}</td><td class=\"num\">{}</td></tr>",
            xml(&code),
            fixed(pct, 1)
        );
    }
    let _ = writeln!(
        h,
        "<tr><th>Total</th><th class=\"num\">{total}</th><th class=\"num\"></th></tr>\n</tbody></table>"
    );
    figure(h, &waterfall_svg(input.patients, WATERFALL_TITLE));
    figure(
        h,
        &spider_svg(input.timepoints, input.patients, SPIDER_TITLE),
    );
    h.push_str("</section>\n");
}

fn median_ci(m: &MedianCi) -> String {
    match m.time {
        None => format!("not reached ({}–{})", opt(m.lower, 1), opt(m.upper, 1)),
        Some(t) => format!("{} ({}–{})", fixed(t, 1), opt(m.lower, 1), opt(m.upper, 1)),
    }
}

fn km_table(h: &mut String, fit: &KmFit, lr: &Analysis<LogRank>) {
    let obs: BTreeMap<&str, (f64, f64)> = lr
        .as_ref()
        .map(|l| {
            l.groups
                .iter()
                .map(|g| (g.group.as_str(), (g.observed, g.expected)))
                .collect()
        })
        .unwrap_or_default();
    h.push_str("<table><thead><tr><th>Group</th><th class=\"num\">n</th><th class=\"num\">Events</th>\
                <th class=\"num\">Median (95 % CI)</th><th class=\"num\">Observed</th><th class=\"num\">Expected</th></tr></thead><tbody>\n");
    for g in &fit.groups {
        let (o, e) = obs
            .get(g.group.as_str())
            .map_or(("".to_string(), "".to_string()), |(o, e)| {
                (fixed(*o, 0), fixed(*e, 2))
            });
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{o}</td><td class=\"num\">{e}</td></tr>",
            xml(group_display(&g.group)),
            g.n,
            g.events,
            median_ci(&g.median)
        );
    }
    h.push_str("</tbody></table>\n");
    if fit.n_dropped > 0 {
        let _ = writeln!(
            h,
            "<p>Patients dropped for a missing value: {}.</p>",
            fit.n_dropped
        );
    }
}

fn cox_table(h: &mut String, model: &str, fit: &Analysis<CoxFit>) {
    let _ = writeln!(h, "<h4>Cox model: {}</h4>", xml(model));
    let fit = match fit {
        Analysis::Computed(f) => f,
        Analysis::NotComputed { reason } => {
            not_computed(h, &format!("Cox model {model}"), reason);
            return;
        }
    };
    for w in &fit.warnings {
        let _ = writeln!(
            h,
            "<div class=\"warning\"><strong>Warning:</strong> {}</div>",
            xml(w)
        );
    }
    h.push_str("<table><thead><tr><th>Term</th><th class=\"num\">HR</th><th class=\"num\">95 % CI</th>\
                <th class=\"num\">coef</th><th class=\"num\">SE</th><th class=\"num\">z</th><th class=\"num\">p</th><th>Note</th></tr></thead><tbody>\n");
    for t in &fit.coefficients {
        let note = if t.may_be_infinite {
            "<strong class=\"bad\">may be infinite: HR, CI and Wald p are not meaningful</strong>"
        } else {
            ""
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}–{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{note}</td></tr>",
            xml(&term_label(t)),
            ratio(t.hr),
            ratio(t.ci_lower),
            ratio(t.ci_upper),
            fixed(t.coef, 4),
            fixed(t.se, 4),
            fixed(t.z, 2),
            p_value(t.p)
        );
    }
    h.push_str("</tbody></table>\n");
    let _ = writeln!(
        h,
        "<p class=\"meta\">n = {}, events = {}, dropped = {}, ties = {}; likelihood-ratio test = {} on {} df, p = {}; \
         Wald p = {}; score p = {}; concordance = {} (SE {}).</p>",
        fit.n,
        fit.events,
        fit.n_dropped,
        xml(&fit.ties),
        fixed(fit.tests.lr.stat, 2),
        fit.tests.lr.df,
        p_value(fit.tests.lr.p),
        p_value(fit.tests.wald.p),
        p_value(fit.tests.score.p),
        fixed(fit.concordance.c, 3),
        fixed(fit.concordance.se, 3)
    );
    if let Some(k) = fit.strata {
        let _ = writeln!(h, "<p class=\"meta\">Stratified: {k} strata.</p>");
    }
    if let Some(z) = &fit.zph {
        let _ = writeln!(
            h,
            "<p>Proportional-hazards test (scaled Schoenfeld residuals, transform {}):</p>\n\
             <table><thead><tr><th>Term</th><th class=\"num\">χ²</th><th class=\"num\">df</th><th class=\"num\">p</th></tr></thead><tbody>",
            xml(&z.transform)
        );
        for r in &z.rows {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                xml(&r.term),
                fixed(r.chisq, 2),
                r.df,
                p_value(r.p)
            );
        }
        h.push_str("</tbody></table>\n");
    }
}

fn endpoint_section(h: &mut String, ep: &EndpointResults) {
    let _ = writeln!(
        h,
        "<section id=\"endpoint-{}\">\n<h2>{}</h2>",
        slug(&ep.name),
        xml(&ep.title())
    );
    let _ = write!(h, "<p>{} patients, {} events. ", ep.n, ep.events);
    match &ep.median_follow_up {
        Analysis::Computed(m) => {
            let _ = write!(
                h,
                "Median follow-up (reverse Kaplan–Meier): {}.",
                xml(&median_ci(m))
            );
        }
        Analysis::NotComputed { reason } => {
            let _ = write!(h, "Median follow-up not computed: {}.", xml(reason));
        }
    }
    h.push_str("</p>\n");
    for (by, km, lr, title) in km_panels(ep) {
        let _ = writeln!(h, "<h3>{}</h3>", xml(&title));
        match km_figure(ep, by, km, lr, &title) {
            Some(fig) => {
                figure(h, &fig.svg);
                let _ = writeln!(h, "<p><strong>{}</strong></p>", xml(&logrank_line(lr)));
                if let Some(fit) = km.as_ref() {
                    km_table(h, fit, lr);
                }
            }
            None => not_computed(
                h,
                &format!("Kaplan–Meier {title}"),
                km.reason().unwrap_or(""),
            ),
        }
    }
    // Configured clinical groupings (`[survival] groupings`): the table and log-rank only.
    for (name, g) in &ep.by_grouping {
        let _ = writeln!(h, "<h3>By {}</h3>", xml(name));
        match &g.km {
            Analysis::Computed(fit) => {
                let _ = writeln!(
                    h,
                    "<p><strong>{}</strong></p>",
                    xml(&logrank_line(&g.logrank))
                );
                km_table(h, fit, &g.logrank);
            }
            Analysis::NotComputed { reason } => {
                not_computed(h, &format!("Survival by {name}"), reason);
            }
        }
    }
    h.push_str("<h3>Cox proportional hazards</h3>\n");
    for (model, fit) in cox_models(ep) {
        cox_table(h, model, fit);
    }
    h.push_str("</section>\n");
}

fn forest_section(h: &mut String, input: &ReportInput<'_>) {
    h.push_str("<section id=\"forest\">\n<h2>Hazard ratios</h2>\n");
    figure(h, &forest_svg(&forest_rows(input.endpoints), FOREST_TITLE));
    h.push_str("</section>\n");
}

fn patients_section(h: &mut String, patients: &[PatientRow]) {
    let _ = writeln!(
        h,
        "<section id=\"patients\">\n<h2>Patients ({})</h2>",
        patients.len()
    );
    h.push_str("<div class=\"scroll\"><table><thead><tr><th>Patient</th><th class=\"num\">Timepoints</th><th class=\"num\">Baseline sum (mm)</th>\
                <th>Best overall response</th><th class=\"num\">D (%)</th><th class=\"num\">D high</th><th>Evaluable</th><th>Reason</th></tr></thead><tbody>\n");
    for p in sorted_patients(patients) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            xml(&p.patient_id),
            p.n_timepoints,
            opt(p.baseline_sum_mm, 1),
            xml(&p.best_overall_response),
            opt(p.d_percent, 1),
            p.d_high.map_or("NA".to_string(), |d| d.to_string()),
            if p.evaluable { "yes" } else { "no" },
            xml(&p.reason)
        );
    }
    h.push_str("</tbody></table></div>\n</section>\n");
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// A key image's PNG bytes, or why it cannot be shown.
fn png_bytes(src: &ImageSource) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    let bytes = match src {
        ImageSource::Png(b) => std::borrow::Cow::Borrowed(b.as_slice()),
        ImageSource::File(p) => {
            // Only the file name: the report must not depend on (or leak) where the run's
            // temporary files were.
            let name = p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            std::borrow::Cow::Owned(
                std::fs::read(p).map_err(|e| format!("cannot read {name}: {}", e.kind()))?,
            )
        }
    };
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err("not a PNG image".to_string());
    }
    Ok(bytes)
}

fn gallery(h: &mut String, images: &[KeyImage]) {
    let _ = writeln!(
        h,
        "<section id=\"key-images\">\n<h2>Key images ({})</h2>",
        images.len()
    );
    if images.is_empty() {
        h.push_str("<p>No key images were rendered for this run.</p>\n</section>\n");
        return;
    }
    // patient → lesion → timepoints, all sorted, so the layout does not depend on the
    // order images were rendered in.
    let mut by: BTreeMap<&str, BTreeMap<&str, Vec<&KeyImage>>> = BTreeMap::new();
    for k in images {
        by.entry(&k.patient_id)
            .or_default()
            .entry(&k.lesion_id)
            .or_default()
            .push(k);
    }
    for (patient, lesions) in by {
        let _ = writeln!(h, "<h3>Patient {}</h3>", xml(patient));
        for (lesion, mut imgs) in lesions {
            imgs.sort_by(|a, b| {
                a.timepoint
                    .cmp(&b.timepoint)
                    .then_with(|| a.study_date.cmp(&b.study_date))
            });
            let _ = writeln!(
                h,
                "<h4>Lesion {}</h4>\n<div class=\"gallery-row\">",
                xml(lesion)
            );
            for k in imgs {
                let when = if k.timepoint == 0 {
                    "baseline".to_string()
                } else {
                    format!("timepoint {}", k.timepoint)
                };
                let alt = format!(
                    "{} {} {} {} (lesion above, whole slice below)",
                    k.patient_id, k.lesion_id, when, k.study_date
                );
                h.push_str("<figure>");
                match png_bytes(&k.source) {
                    Ok(png) => {
                        // base64 straight into the page: the images are most of its bytes
                        // (8 of 10 MB on the 200 x 3 bench), not worth a String each.
                        h.push_str("<img src=\"data:image/png;base64,");
                        base64::engine::general_purpose::STANDARD.encode_string(&*png, h);
                        let _ = write!(h, "\" alt=\"{}\">", xml(&alt));
                    }
                    Err(reason) => {
                        let _ = write!(
                            h,
                            "<div class=\"missing-image\">image unavailable: {}</div>",
                            xml(&reason)
                        );
                    }
                }
                let _ = writeln!(
                    h,
                    "<figcaption><strong>{} · {}</strong><br>{}</figcaption></figure>",
                    xml(&when),
                    xml(&k.study_date),
                    xml(&k.caption)
                );
            }
            h.push_str("</div>\n");
        }
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::input::{DataQuality, QuarantinedFile};

    fn p(id: &str, bor: &str, d: Option<f64>, reason: &str) -> PatientRow {
        PatientRow {
            patient_id: id.into(),
            n_timepoints: 2,
            baseline_sum_mm: Some(40.0),
            best_overall_response: bor.into(),
            d_percent: d,
            d_high: None,
            evaluable: reason.is_empty(),
            reason: reason.into(),
        }
    }

    fn render(patients: &[PatientRow], eps: &[EndpointResults], imgs: &[KeyImage]) -> String {
        let q = DataQuality {
            files_seen: 10,
            quarantined: vec![QuarantinedFile {
                path: "a/<b>.dcm".into(),
                reason: "bad & broken".into(),
            }],
            ..DataQuality::default()
        };
        render_report(&ReportInput {
            title: "T",
            quality: &q,
            patients,
            timepoints: &[],
            endpoints: eps,
            key_images: imgs,
        })
    }

    #[test]
    fn response_counts_best_first() {
        let ps = vec![
            p("a", "PD", None, ""),
            p("b", "CR", None, ""),
            p("c", "PD", None, ""),
            p("d", "", None, ""),
        ];
        assert_eq!(
            response_counts(&ps),
            vec![
                ("CR".to_string(), 1),
                ("PD".to_string(), 2),
                ("(none)".to_string(), 1)
            ]
        );
    }

    #[test]
    fn not_computed_analyses_and_escaping() {
        let ps = vec![
            p("Z<1>", "PR", Some(-40.0), ""),
            p("A&2", "NE", None, "no baseline <scan>"),
        ];
        let ep = EndpointResults::empty("os", "only one group <x>");
        let h = render(&ps, std::slice::from_ref(&ep), &[]);
        assert!(h.contains("not computed: only one group &lt;x&gt;"));
        assert!(h.contains("Median follow-up not computed"));
        assert!(h.contains("<td>a/&lt;b&gt;.dcm</td><td>bad &amp; broken</td>"));
        assert!(h.contains("<td>A&amp;2</td><td>no baseline &lt;scan&gt;</td>"));
        assert!(!h.contains("Z<1>") && !h.contains("<scan>"));
        // Patients are listed by id whatever the input order.
        let a = h.find("<tr><td>A&amp;2</td><td class=\"num\">").unwrap();
        let z = h.find("<tr><td>Z&lt;1&gt;</td><td class=\"num\">").unwrap();
        assert!(a < z);
        let mut rev = ps.clone();
        rev.reverse();
        assert_eq!(h, render(&rev, &[ep], &[]));
    }

    #[test]
    fn key_images_embedded_or_explained() {
        let mut png = std::io::Cursor::new(Vec::new());
        image::GrayImage::new(4, 4)
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let png = png.into_inner();
        let imgs = vec![
            KeyImage {
                patient_id: "P1".into(),
                lesion_id: "L1".into(),
                timepoint: 1,
                study_date: "2020-03-01".into(),
                caption: "c1".into(),
                source: ImageSource::Png(png.clone()),
            },
            KeyImage {
                patient_id: "P1".into(),
                lesion_id: "L1".into(),
                timepoint: 0,
                study_date: "2020-01-01".into(),
                caption: "c0".into(),
                source: ImageSource::Png(png),
            },
            KeyImage {
                patient_id: "P1".into(),
                lesion_id: "L2".into(),
                timepoint: 0,
                study_date: "2020-01-01".into(),
                caption: "bad".into(),
                source: ImageSource::Png(b"GIF89a".to_vec()),
            },
            KeyImage {
                patient_id: "P1".into(),
                lesion_id: "L3".into(),
                timepoint: 0,
                study_date: "2020-01-01".into(),
                caption: "gone".into(),
                source: ImageSource::File("/nonexistent/dir/x.png".into()),
            },
        ];
        let h = render(&[], &[], &imgs);
        assert_eq!(
            h.matches("src=\"data:image/png;base64,iVBORw0KGgo").count(),
            2
        );
        // Timepoints side by side in time order, whatever the input order.
        assert!(h.find("c0").unwrap() < h.find("c1").unwrap());
        assert!(h.contains("image unavailable: not a PNG image"));
        assert!(h.contains("image unavailable: cannot read x.png: entity not found"));
        assert!(!h.contains("/nonexistent"));
    }

    #[test]
    fn model_warnings_surface_at_the_top() {
        use crate::survival::{Concordance, CoxFit, CoxTests, TestStat};
        let t = TestStat {
            stat: 1.0,
            df: 1,
            p: 0.3,
        };
        let mut ep = EndpointResults::empty("dfs", "x");
        ep.cox_d_high = Analysis::Computed(CoxFit {
            n: 5,
            events: 2,
            n_dropped: 0,
            ties: "efron".into(),
            coefficients: vec![],
            loglik: [0.0, 0.0],
            tests: CoxTests {
                lr: t,
                wald: t,
                score: t,
            },
            concordance: Concordance {
                c: 0.5,
                se: 0.1,
                concordant: 0.0,
                discordant: 0.0,
                tied_x: 0.0,
                tied_y: 0.0,
                tied_xy: 0.0,
            },
            warnings: vec!["monotone likelihood <d_high>".into()],
            iterations: 30,
            var: vec![],
            strata: None,
            zph: None,
        });
        let h = render(&[], &[ep], &[]);
        let top = h.find("id=\"warnings\"").expect("warnings box");
        assert!(top < h.find("id=\"data-quality\"").unwrap());
        assert_eq!(h.matches("monotone likelihood &lt;d_high&gt;").count(), 2);
    }
}
