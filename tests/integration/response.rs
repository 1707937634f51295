//! Integration tests: `oncometry response` through the real binary on committed fixtures.

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use crate::util::{fixture, oncometry};

const TIMEPOINTS_HEADER: &str = "patient_id,timepoint,study_date,days_from_baseline,sum_mm,\
baseline_sum_mm,nadir_mm,pct_change_from_baseline,target_response,nontarget_response,\
new_lesions,overall_response";
const PATIENTS_HEADER: &str = "patient_id,n_timepoints,baseline_sum_mm,best_overall_response,d_percent,d_high,evaluable,reason";

fn run(args: &[&str]) -> Output {
    oncometry().arg("response").args(args).output().unwrap()
}

fn run_on(input: &str, out: &Path, extra: &[&str]) -> Output {
    let input = fixture(&format!("response/{input}"));
    let mut args = vec![input.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

/// Rows of a CSV as header → value maps, plus the raw header line.
fn read_csv(path: &Path) -> (String, Vec<HashMap<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let names: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let rows = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            names
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn row<'a>(
    rows: &'a [HashMap<String, String>],
    pid: &str,
    tp: Option<&str>,
) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| r["patient_id"] == pid && tp.is_none_or(|t| r["timepoint"] == t))
        .unwrap_or_else(|| panic!("no row {pid} {tp:?}"))
}

#[test]
fn cohort_fixture_gives_the_hand_computed_responses() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on("cohort.csv", dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (h, tps) = read_csv(&dir.path().join("timepoints.csv"));
    assert_eq!(h, TIMEPOINTS_HEADER);
    assert_eq!(tps.len(), 12);
    // P001: 120 → 84 (exactly −30 %: PR) → 90 (−25 % vs baseline, +7 % vs nadir: SD).
    let t = row(&tps, "P001", Some("1"));
    assert_eq!(t["days_from_baseline"], "70");
    assert_eq!(t["sum_mm"].parse::<f64>().unwrap(), 84.0);
    assert_eq!(t["pct_change_from_baseline"].parse::<f64>().unwrap(), -30.0);
    assert_eq!(t["target_response"], "PR");
    assert_eq!(t["nontarget_response"], "");
    assert_eq!(t["new_lesions"], "false");
    assert_eq!(t["overall_response"], "PR");
    let t = row(&tps, "P001", Some("2"));
    assert_eq!(t["nadir_mm"].parse::<f64>().unwrap(), 84.0);
    assert_eq!(t["overall_response"], "SD");
    // Baseline rows: empty responses, no nadir.
    let b = row(&tps, "P001", Some("0"));
    assert_eq!(
        (b["target_response"].as_str(), b["nadir_mm"].as_str()),
        ("", "")
    );
    // P002: 100 → 110 (SD) → 135 (+35 mm vs nadir 100: PD).
    assert_eq!(row(&tps, "P002", Some("2"))["overall_response"], "PD");
    // P003: node SA 20 + liver 30 → node SA 8 + liver 0: CR with a sum of 8 mm.
    let t = row(&tps, "P003", Some("1"));
    assert_eq!(t["sum_mm"].parse::<f64>().unwrap(), 8.0);
    assert_eq!(t["overall_response"], "CR");
    // P004: non-target disease only.
    let t = row(&tps, "P004", Some("1"));
    assert_eq!(
        (
            t["target_response"].as_str(),
            t["overall_response"].as_str()
        ),
        ("", "NON-CR/NON-PD")
    );
    // P005: a new lesion.
    let t = row(&tps, "P005", Some("1"));
    assert_eq!(
        (t["new_lesions"].as_str(), t["overall_response"].as_str()),
        ("true", "PD")
    );

    let (h, pats) = read_csv(&dir.path().join("patients.csv"));
    assert_eq!(h, PATIENTS_HEADER);
    let ids: Vec<&str> = pats.iter().map(|p| p["patient_id"].as_str()).collect();
    assert_eq!(ids, ["P001", "P002", "P003", "P004", "P005"]);
    // d at the first follow-up: −30, +10, −84, (none), −4; median of four = −17.
    let expect = [
        ("P001", "PR", Some(-30.0), "0"),
        ("P002", "SD", Some(10.0), "1"),
        ("P003", "CR", Some(-84.0), "0"),
        ("P004", "NON-CR/NON-PD", None, ""),
        ("P005", "PD", Some(-4.0), "1"),
    ];
    for (pid, bor, d, high) in expect {
        let p = row(&pats, pid, None);
        assert_eq!(p["best_overall_response"], bor, "{pid}");
        assert_eq!(p["d_percent"].parse::<f64>().ok(), d, "{pid}");
        assert_eq!(p["d_high"], high, "{pid}");
        assert_eq!(p["evaluable"], "true");
        assert_eq!(p["reason"], "");
    }
    assert_eq!(
        row(&pats, "P003", None)["baseline_sum_mm"]
            .parse::<f64>()
            .unwrap(),
        50.0
    );
    // No temp files are left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["patients.csv", "timepoints.csv"]);
}

#[test]
fn config_response_table_changes_bor_and_landmark() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = fixture("response/confirmed.toml");
    let out = run_on(
        "cohort.csv",
        dir.path(),
        &["--config", cfg.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, pats) = read_csv(&dir.path().join("patients.csv"));
    // Unconfirmed PR (P001) and CR (P003, a single follow-up) fall back to SD.
    assert_eq!(row(&pats, "P001", None)["best_overall_response"], "SD");
    assert_eq!(row(&pats, "P003", None)["best_overall_response"], "SD");
    // landmark = "best": P002's best sum is the +10 % timepoint.
    assert_eq!(
        row(&pats, "P002", None)["d_percent"]
            .parse::<f64>()
            .unwrap(),
        10.0
    );
}

#[test]
fn measure_lesions_csv_is_accepted_with_duplicate_objects_collapsed() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on("measure_lesions.csv", dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, tps) = read_csv(&dir.path().join("timepoints.csv"));
    let t = row(&tps, "P010", Some("1"));
    // 70.864197523 = 0.7 × 101.23456789 exactly: PR, not SD.
    assert_eq!(t["target_response"], "PR");
    assert_eq!(t["pct_change_from_baseline"].parse::<f64>().unwrap(), -30.0);
}

#[test]
fn a_bad_patient_gives_exit_1_and_a_reason_naming_patient_lesion_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on("partial.csv", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let (_, pats) = read_csv(&dir.path().join("patients.csv"));
    let p = row(&pats, "P002", None);
    assert_eq!(p["evaluable"], "false");
    for needle in ["patient P002", "lesion T1", "row 4", "gone"] {
        assert!(p["reason"].contains(needle), "{needle}: {}", p["reason"]);
    }
    assert_eq!(row(&pats, "P001", None)["evaluable"], "true");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("P002"), "{stderr}");
}

#[test]
fn nothing_evaluable_gives_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on("all_bad.csv", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(3));
    let (_, pats) = read_csv(&dir.path().join("patients.csv"));
    assert!(pats[0]["reason"].contains("study_date"));
}

#[test]
fn usage_errors_give_exit_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on("missing_column.csv", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("short_axis_mm") && stderr.contains("missing_column.csv"),
        "{stderr}"
    );

    let out = run_on("no_such_file.csv", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_file.csv"));

    let bad = fixture("response/bad_key.toml");
    let out = run_on(
        "cohort.csv",
        dir.path(),
        &["--config", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pr_threshold"), "{stderr}");

    let out = run(&[fixture("response/cohort.csv").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "--out is required");
}
