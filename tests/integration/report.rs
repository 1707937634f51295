//! Integration tests: report. The HTML report is rendered from a hand-made `ReportInput`
//! (no survival engine needed), opened in headless Chromium, and checked for what a reader
//! would see: every figure laid out with a non-zero size, every key image decoded, no
//! console message (a failed resource or a network fetch shows up there), and a
//! screenshot that is not blank. Chromium is required: the test fails when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use oncometry::report::{
    Analysis, DataQuality, EndpointResults, ImageSource, KeyImage, QuarantinedFile, ReportInput,
    figures, render_report,
};
use oncometry::response::{PatientRow, TimepointRow};
use oncometry::survival::{
    Concordance, CoxFit, CoxTerm, CoxTests, CoxZph, KmFit, KmGroup, KmRow, LogRank, LogRankGroup,
    MedianCi, TestStat, ZphRow,
};

fn patient(id: &str, bor: &str, d: Option<f64>, evaluable: bool, reason: &str) -> PatientRow {
    PatientRow {
        patient_id: id.to_string(),
        n_timepoints: 3,
        baseline_sum_mm: Some(60.0),
        best_overall_response: bor.to_string(),
        d_percent: d,
        d_high: d.map(|d| u8::from(d > -10.0)),
        evaluable,
        reason: reason.to_string(),
    }
}

fn tp(id: &str, k: usize, day: i64, pct: Option<f64>, resp: &str) -> TimepointRow {
    TimepointRow {
        patient_id: id.to_string(),
        timepoint: k,
        study_date: format!("2021-{:02}-01", 1 + k * 2),
        days_from_baseline: day,
        sum_mm: pct.map(|p| 60.0 * (1.0 + p / 100.0)),
        baseline_sum_mm: Some(60.0),
        nadir_mm: Some(60.0),
        pct_change_from_baseline: pct,
        target_response: resp.to_string(),
        nontarget_response: String::new(),
        new_lesions: false,
        overall_response: resp.to_string(),
    }
}

/// A KM group from (time, event) pairs, computed by hand the textbook way (log CI).
fn km_group(name: &str, data: &[(f64, bool)]) -> KmGroup {
    let mut d: Vec<(f64, bool)> = data.to_vec();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut times: Vec<f64> = d.iter().map(|x| x.0).collect();
    times.dedup();
    let mut s = 1.0;
    let mut var = 0.0;
    let mut table = vec![];
    for t in times {
        let n_risk = d.iter().filter(|x| x.0 >= t).count() as f64;
        let ev = d.iter().filter(|x| x.0 == t && x.1).count() as f64;
        let ce = d.iter().filter(|x| x.0 == t && !x.1).count() as f64;
        s *= 1.0 - ev / n_risk;
        if n_risk > ev {
            var += ev / (n_risk * (n_risk - ev));
        }
        let se = var.sqrt();
        let (lo, up) = if s > 0.0 {
            (
                Some(s * (-1.96 * se).exp()),
                Some((s * (1.96 * se).exp()).min(1.0)),
            )
        } else {
            (None, None)
        };
        table.push(KmRow {
            time: t,
            n_risk,
            n_event: ev,
            n_censor: ce,
            surv: s,
            std_err: Some(se),
            lower: lo,
            upper: up,
            cumhaz: var,
        });
    }
    KmGroup {
        group: name.to_string(),
        n: d.len(),
        events: d.iter().filter(|x| x.1).count(),
        table,
        median: MedianCi {
            time: Some(14.0),
            lower: Some(9.0),
            upper: None,
        },
        at_times: vec![],
        rmst: None,
    }
}

fn cox(terms: &[(&str, f64, f64, f64, f64)], warnings: &[&str]) -> CoxFit {
    CoxFit {
        n: 12,
        events: 7,
        n_dropped: 1,
        ties: "efron".to_string(),
        coefficients: terms
            .iter()
            .map(|&(term, hr, lo, up, p)| CoxTerm {
                term: term.to_string(),
                coef: hr.ln(),
                se: 0.4,
                hr,
                ci_lower: lo,
                ci_upper: up,
                z: hr.ln() / 0.4,
                p,
                may_be_infinite: !hr.is_finite(),
                per: (term == "d_percent").then_some(10.0),
            })
            .collect(),
        loglik: [-20.0, -17.5],
        tests: CoxTests {
            lr: TestStat {
                stat: 5.0,
                df: terms.len(),
                p: 0.025,
            },
            wald: TestStat {
                stat: 4.6,
                df: terms.len(),
                p: 0.032,
            },
            score: TestStat {
                stat: 5.2,
                df: terms.len(),
                p: 0.022,
            },
        },
        concordance: Concordance {
            c: 0.71,
            se: 0.05,
            concordant: 30.0,
            discordant: 12.0,
            tied_x: 0.0,
            tied_y: 0.0,
            tied_xy: 0.0,
        },
        warnings: warnings.iter().map(|w| w.to_string()).collect(),
        iterations: 5,
        var: vec![],
        strata: None,
        zph: None,
    }
}

fn logrank(groups: &[&str]) -> LogRank {
    LogRank {
        chisq: 6.31,
        df: groups.len() - 1,
        p: 0.043,
        groups: groups
            .iter()
            .enumerate()
            .map(|(i, g)| LogRankGroup {
                group: g.to_string(),
                n: 4,
                observed: 2.0 + i as f64,
                expected: 3.1,
            })
            .collect(),
        rho: 0.0,
        n_dropped: 0,
        var: vec![],
        stratified: false,
    }
}

/// A small PNG: a dark square with a bright disc of radius `r` (a "lesion").
fn lesion_png(r: f64) -> Vec<u8> {
    let img = image::GrayImage::from_fn(96, 96, |x, y| {
        let (dx, dy) = (x as f64 - 48.0, y as f64 - 48.0);
        image::Luma([if dx * dx + dy * dy < r * r {
            220
        } else {
            40 + ((x + y) % 16) as u8
        }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

struct Owned {
    quality: DataQuality,
    patients: Vec<PatientRow>,
    timepoints: Vec<TimepointRow>,
    endpoints: Vec<EndpointResults>,
    images: Vec<KeyImage>,
}

impl Owned {
    fn input(&self) -> ReportInput<'_> {
        ReportInput {
            title: "oncometry report — test cohort <A&B>",
            quality: &self.quality,
            patients: &self.patients,
            timepoints: &self.timepoints,
            endpoints: &self.endpoints,
            key_images: &self.images,
        }
    }
}

fn sample(missing_image: &Path) -> Owned {
    let bors = [
        "CR", "PR", "PR", "SD", "SD", "PD", "PR", "SD", "PD", "PR", "NE", "SD",
    ];
    let ds = [
        -100.0,
        -45.0,
        -38.5,
        -12.0,
        4.0,
        35.0,
        -52.0,
        15.0,
        22.0,
        -31.0,
        f64::NAN,
        -8.0,
    ];
    let mut patients = vec![];
    let mut timepoints = vec![];
    for (i, (b, d)) in bors.iter().zip(ds).enumerate() {
        let id = if i == 3 {
            "P<04>&\"x\"".to_string()
        } else {
            format!("P{:02}", i + 1)
        };
        let dv = (!d.is_nan()).then_some(d);
        let reason = if dv.is_none() {
            "target L1 not evaluated at timepoint 1 (row 14)"
        } else {
            ""
        };
        patients.push(patient(&id, b, dv, dv.is_some(), reason));
        timepoints.push(tp(&id, 0, 0, None, ""));
        if let Some(d) = dv {
            timepoints.push(tp(&id, 1, 56 + i as i64, Some(d * 0.6), b));
            timepoints.push(tp(&id, 2, 112 + 2 * i as i64, Some(d), b));
            timepoints.push(tp(&id, 3, 170 + 3 * i as i64, Some(d * 1.1 + 5.0), b));
        }
    }
    let pr = [
        (5.0, true),
        (9.0, false),
        (14.0, true),
        (20.0, false),
        (26.0, true),
        (30.0, false),
    ];
    let sd = [
        (3.0, true),
        (6.0, true),
        (8.0, false),
        (11.0, true),
        (15.0, true),
        (22.0, false),
    ];
    let pd = [(2.0, true), (3.0, true), (4.0, false), (7.0, true)];
    let km_resp = KmFit {
        groups: vec![
            km_group("best_overall_response=PR", &pr),
            km_group("best_overall_response=SD", &sd),
            km_group("best_overall_response=PD", &pd),
        ],
        n_dropped: 1,
        conf_type: "log".into(),
    };
    let km_d = KmFit {
        groups: vec![km_group("d_high=0", &pr), km_group("d_high=1<&>", &sd)],
        n_dropped: 0,
        conf_type: "log".into(),
    };
    let dfs = EndpointResults {
        name: "dfs".into(),
        label: String::new(),
        time_unit: "months".into(),
        n: 16,
        events: 10,
        km_by_response: Analysis::Computed(km_resp.clone()),
        logrank_by_response: Analysis::Computed(logrank(&[
            "best_overall_response=PR",
            "best_overall_response=SD",
            "best_overall_response=PD",
        ])),
        cox_response: Analysis::Computed(CoxFit {
            zph: Some(CoxZph {
                transform: "km".into(),
                rows: vec![
                    ZphRow {
                        term: "best_overall_response".into(),
                        chisq: 1.23,
                        df: 2,
                        p: 0.54,
                    },
                    ZphRow {
                        term: "GLOBAL".into(),
                        chisq: 1.23,
                        df: 2,
                        p: 0.54,
                    },
                ],
            }),
            ..cox(
                &[
                    ("best_overall_responseSD", 1.8, 0.7, 4.6, 0.22),
                    ("best_overall_responsePD", 4.1, 1.3, 12.9, 0.016),
                ],
                &[],
            )
        }),
        km_by_d_high: Analysis::Computed(km_d),
        logrank_by_d_high: Analysis::Computed(logrank(&["d_high=0", "d_high=1<&>"])),
        cox_d_high: Analysis::Computed(cox(&[("d_high", 2.2, 0.9, 5.4, 0.08)], &[])),
        cox_d_continuous: Analysis::Computed(cox(&[("d_percent", 1.12, 1.01, 1.24, 0.03)], &[])),
        median_follow_up: Analysis::Computed(MedianCi {
            time: Some(22.0),
            lower: Some(15.0),
            upper: None,
        }),
        by_grouping: Default::default(),
    };
    let mut os = EndpointResults::empty("os", "fewer than 2 events in the cohort");
    os.time_unit = "months".into();
    os.n = 16;
    os.events = 3;
    os.km_by_response = Analysis::Computed(km_resp);
    os.cox_d_high = Analysis::Computed(cox(
        &[("d_high", f64::INFINITY, 0.0, f64::INFINITY, 0.99)],
        &["monotone likelihood: coefficient of d_high is infinite (all events in one group)"],
    ));
    let mut images = vec![];
    for (k, r) in [(0usize, 20.0), (1, 14.0), (2, 9.0)] {
        images.push(KeyImage {
            patient_id: "P02".into(),
            lesion_id: "L1 liver".into(),
            timepoint: k,
            study_date: format!("2021-{:02}-01", 1 + k * 2),
            caption: format!("LD {:.1} mm", r * 1.5),
            source: ImageSource::Png(lesion_png(r)),
        });
    }
    images.push(KeyImage {
        patient_id: "P02".into(),
        lesion_id: "L2 node".into(),
        timepoint: 0,
        study_date: "2021-01-01".into(),
        caption: "SA 16 mm".into(),
        source: ImageSource::Png(lesion_png(11.0)),
    });
    images.push(KeyImage {
        patient_id: "P02".into(),
        lesion_id: "L2 node".into(),
        timepoint: 1,
        study_date: "2021-03-01".into(),
        caption: "missing file".into(),
        source: ImageSource::File(missing_image.to_path_buf()),
    });
    let quality = DataQuality {
        files_seen: 1234,
        files_indexed: 1200,
        files_ignored: 30,
        quarantined: vec![
            QuarantinedFile {
                path: "P07/ST1/bad<1>.dcm".into(),
                reason: "truncated pixel data (0x7FE0,0x0010)".into(),
            },
            QuarantinedFile {
                path: "P03/seg.dcm".into(),
                reason: "SEG references an unknown series".into(),
            },
        ],
        patients_indexed: 13,
        patients_evaluable: 11,
        patients_only_clinical: vec!["P99".into(), "P98".into()],
        patients_only_images: vec!["P13".into()],
        lesions_measured: 96,
        config: vec![
            ("landmark".into(), "timepoint 2".into()),
            ("point set".into(), "edges".into()),
            ("ties".into(), "efron".into()),
        ],
    };
    Owned {
        quality,
        patients,
        timepoints,
        endpoints: vec![dfs, os],
        images,
    }
}

fn chromium() -> PathBuf {
    let p = std::env::var_os("ONCOMETRY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        p.exists(),
        "Chromium not found at {} (set ONCOMETRY_CHROMIUM or install it: \
         `apt-get update && apt-get install -y chromium`); the report's browser test needs it",
        p.display()
    );
    p
}

/// Runs headless Chromium on `page` with no network, returning (stdout, stderr).
fn run_chromium(page: &Path, profile: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Any network fetch fails and so shows up as a console error.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

/// Appended to a copy of the report: counts figures with a non-empty layout box and
/// decoded images, and writes the counts into the DOM for `--dump-dom`.
const PROBE: &str = r#"<script>
window.addEventListener('load', function () {
  var svgs = document.querySelectorAll('svg');
  var ok = 0;
  for (var i = 0; i < svgs.length; i++) {
    var b = svgs[i].getBBox();
    var r = svgs[i].getBoundingClientRect();
    if (b.width > 0 && b.height > 0 && r.width > 100 && r.height > 100) ok++;
  }
  var imgs = document.querySelectorAll('img');
  var iok = 0;
  for (var j = 0; j < imgs.length; j++) if (imgs[j].complete && imgs[j].naturalWidth > 0) iok++;
  var p = document.createElement('pre');
  p.id = 'probe';
  p.textContent = 'PROBE svg_total=' + svgs.length + ' svg_ok=' + ok + ' img_total=' + imgs.length + ' img_ok=' + iok + ' END';
  document.body.appendChild(p);
});
</script>"#;

fn probe_value(dom: &str, key: &str) -> usize {
    let probe = &dom[dom
        .find("<pre id=\"probe\">PROBE ")
        .unwrap_or_else(|| panic!("probe missing in DOM:\n{dom}"))..];
    let s = &probe[probe.find(&format!("{key}=")).expect(key) + key.len() + 1..];
    s[..s.find(' ').expect("space")].parse().expect("number")
}

fn out_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("out dir");
    d
}

#[test]
fn report_renders_in_chromium() {
    let dir = out_dir("report_browser");
    let data = sample(&dir.join("no-such-image.png"));
    let html = render_report(&data.input());
    assert_eq!(
        html,
        render_report(&data.input()),
        "render is not deterministic"
    );
    // Self-contained: every src/href is a data: URI or an in-page anchor.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let v = &html[i + attr.len()..];
            assert!(
                v.starts_with("data:image/png;base64,") || v.starts_with('#'),
                "external reference: {}",
                &v[..v.len().min(60)]
            );
        }
    }
    assert!(!html.contains("<script"), "report must not need JavaScript");
    assert!(html.contains("monotone likelihood"));
    assert!(html.contains("may be infinite: HR, CI and Wald p are not meaningful"));
    assert!(html.contains("<td>d_percent (per 10)</td>"));
    assert!(html.contains("Proportional-hazards test"));
    assert!(html.contains("not computed: fewer than 2 events in the cohort"));
    assert!(html.contains("P&lt;04&gt;&amp;&quot;x&quot;"));
    assert!(!html.contains("P<04>"));
    let report = dir.join("report.html");
    std::fs::write(&report, &html).expect("write report");
    let figs = figures(&data.input());
    for f in &figs {
        std::fs::write(dir.join(&f.file_name), &f.svg).expect("write svg");
    }
    // waterfall, spider, dfs×2 KM, os×1 KM (the d_high one is not computed), forest.
    assert_eq!(figs.len(), 6);
    assert_eq!(html.matches("<svg ").count(), figs.len());

    let probe_page = dir.join("report-probe.html");
    std::fs::write(
        &probe_page,
        html.replace("</body>", &format!("{PROBE}\n</body>")),
    )
    .expect("write probe");
    let (dom, err) = run_chromium(
        &probe_page,
        &dir.join("profile-dom"),
        &["--virtual-time-budget=5000", "--dump-dom"],
    );
    assert_eq!(probe_value(&dom, "svg_total"), figs.len(), "stderr:\n{err}");
    assert_eq!(
        probe_value(&dom, "svg_ok"),
        figs.len(),
        "a figure has an empty layout box"
    );
    // 4 readable key images; the missing file is a placeholder, not an <img>.
    assert_eq!(
        probe_value(&dom, "img_total"),
        4,
        "4 key images are embedded"
    );
    assert_eq!(probe_value(&dom, "img_ok"), 4, "a key image did not decode");
    assert!(
        console_lines(&err).is_empty(),
        "console messages:\n{}",
        console_lines(&err).join("\n")
    );

    let shot = dir.join("report.png");
    let (_, err) = run_chromium(
        &report,
        &dir.join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,4000",
        ],
    );
    assert!(
        console_lines(&err).is_empty(),
        "console messages:\n{}",
        console_lines(&err).join("\n")
    );
    let img = image::open(&shot)
        .unwrap_or_else(|e| panic!("screenshot {}: {e}\n{err}", shot.display()))
        .to_rgb8();
    assert_eq!((img.width(), img.height()), (1400, 4000));
    let non_white = img
        .pixels()
        .filter(|p| p.0.iter().any(|&c| c < 235))
        .count();
    let frac = non_white as f64 / (1400.0 * 4000.0);
    assert!(frac > 0.03, "screenshot nearly blank: {frac:.4} non-white");
    // The plots' colours are on screen (PR blue bars/curves, PD vermillion).
    let near = |c: [u8; 3]| {
        img.pixels()
            .filter(|p| p.0.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 12))
            .count()
    };
    assert!(near([0x00, 0x72, 0xB2]) > 200, "no PR-blue pixels");
    assert!(near([0xD5, 0x5E, 0x00]) > 200, "no PD-vermillion pixels");
}

#[test]
fn console_check_detects_errors() {
    // The negative control: a page that logs an error and fetches from the network must
    // trip the same check, or the check above proves nothing.
    let dir = out_dir("report_browser_control");
    let page = dir.join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><img src=\"https://example.invalid/x.png\">\
         <script>console.error('boom');</script></body></html>",
    )
    .expect("write");
    let (_, err) = run_chromium(
        &page,
        &dir.join("profile"),
        &["--virtual-time-budget=3000", "--dump-dom"],
    );
    let lines = console_lines(&err);
    assert!(
        lines.iter().any(|l| l.contains("boom")),
        "console.error not seen:\n{err}"
    );
}

/// A trial-sized cohort: 236 patients, 6 response groups, long follow-up in days. The
/// figures must stay legible (ids move to tooltips, legends wrap) and stay deterministic.
#[test]
fn large_cohort_figures_stay_legible() {
    let dir = out_dir("report_large");
    let codes = ["CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD"];
    let mut patients = vec![];
    let mut timepoints = vec![];
    let mut groups: Vec<Vec<(f64, bool)>> = vec![vec![]; codes.len()];
    for i in 0..236usize {
        let code = codes[(i * 7 + i / 5) % codes.len()];
        // A deterministic spread of D in [-100, +80].
        let d = -100.0 + ((i * 37) % 181) as f64;
        let id = format!("TRIAL-0001-{i:04}");
        patients.push(patient(&id, code, Some(d), true, ""));
        timepoints.push(tp(&id, 0, 0, None, ""));
        for k in 1..=4 {
            timepoints.push(tp(
                &id,
                k,
                56 * k as i64 + (i % 9) as i64,
                Some(d * k as f64 / 4.0),
                code,
            ));
        }
        let g = codes.iter().position(|c| *c == code).unwrap_or(0);
        let t = 30.0 + ((i * 53) % 1800) as f64;
        groups[g].push((t, i % 3 != 0));
    }
    let fit = KmFit {
        groups: codes
            .iter()
            .zip(&groups)
            .map(|(c, data)| km_group(&format!("best_overall_response={c}"), data))
            .collect(),
        n_dropped: 0,
        conf_type: "log".into(),
    };
    let mut ep = EndpointResults::empty("os", "not needed here");
    ep.time_unit = "days".into();
    ep.km_by_response = Analysis::Computed(fit);
    let quality = DataQuality::default();
    let endpoints = vec![ep];
    let input = ReportInput {
        title: "large",
        quality: &quality,
        patients: &patients,
        timepoints: &timepoints,
        endpoints: &endpoints,
        key_images: &[],
    };
    let figs = figures(&input);
    for f in &figs {
        std::fs::write(dir.join(&f.file_name), &f.svg).expect("write svg");
    }
    let waterfall = &figs
        .iter()
        .find(|f| f.file_name == "waterfall.svg")
        .expect("waterfall")
        .svg;
    assert_eq!(waterfall.matches("class=\"bar\"").count(), 236);
    assert!(
        !waterfall.contains("rotate(-60"),
        "236 ids under the bars would overlap"
    );
    assert!(waterfall.contains("<title>TRIAL-0001-0000: -100.0 % (CR)</title>"));
    let km = &figs
        .iter()
        .find(|f| f.file_name == "km_os_by_response.svg")
        .expect("km")
        .svg;
    // Six groups: six curves, and six at-risk rows of one value per x tick.
    assert_eq!(km.matches("class=\"km-curve\"").count(), 6);
    let ticks = km.matches("<g class=\"x-axis\">").count();
    assert_eq!(ticks, 1);
    let n_ticks = km
        .split("<g class=\"x-axis\">")
        .nth(1)
        .expect("axis")
        .split("</g>")
        .next()
        .expect("g")
        .matches("<text")
        .count()
        - 1;
    assert_eq!(km.matches("class=\"risk\"").count(), 6 * n_ticks);
    let spider = &figs
        .iter()
        .find(|f| f.file_name == "spider.svg")
        .expect("spider")
        .svg;
    assert_eq!(spider.matches("<polyline").count(), 236);
    assert_eq!(figs, figures(&input));
}
