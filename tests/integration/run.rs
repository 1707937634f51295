//! `oncometry run` and `oncometry merge` end to end on the demo export (highdicom SEGs,
//! deflated CT) and its clinical table. Expectations come from the demo's simulation
//! (`fixtures/demo/expected.csv`), not from our own earlier output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::util::{fixture, oncometry};

/// `oncometry run` on the demo export into `out`, not yet started.
fn demo_command(out: &Path, extra: &[&str]) -> Command {
    let mut c = oncometry();
    c.arg("run")
        .arg(fixture("demo"))
        .arg("--clinical")
        .arg(fixture("demo/clinical.csv"))
        .arg("--out")
        .arg(out)
        .args(["--stable-age", "0", "--quiet"])
        .args(extra);
    c
}

fn run_demo(out: &Path, extra: &[&str]) -> Output {
    demo_command(out, extra).output().expect("run oncometry")
}

/// The same run in the background, for tests that signal or kill it.
fn spawn_demo(out: &Path, extra: &[&str]) -> std::process::Child {
    demo_command(out, extra).spawn().expect("start oncometry")
}

/// The process ended with `code`; else the failure shows its stderr.
fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The data tables a run writes (everything but the log and the manifest).
const TABLES: &[&str] = &[
    "lesions.csv",
    "timepoints.csv",
    "patients.csv",
    "survival.json",
    "quarantine.csv",
    "index.json",
    "report.html",
    "images/index.csv",
];

fn csv_column(text: &str, col: &str) -> BTreeMap<String, String> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let h = rdr.headers().unwrap().clone();
    let i = h.iter().position(|x| x == col).unwrap();
    rdr.records()
        .map(|r| r.unwrap())
        .map(|r| (r[0].to_string(), r[i].to_string()))
        .collect()
}

#[test]
fn demo_run_gives_the_simulated_responses_and_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_demo(&out, &["--jobs", "2"]);
    assert_exit(&o, 0);
    for f in TABLES.iter().chain(&[
        "run.jsonl",
        "figures/forest.svg",
        "figures/km_dfs_by_response.svg",
    ]) {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    // Best overall response of every patient is the one the demo simulated.
    let expected = csv_column(
        &read(&fixture("demo/expected.csv")),
        "expected_best_overall_response",
    );
    let got = csv_column(&read(&out.join("patients.csv")), "best_overall_response");
    assert_eq!(got, expected);
    // Clinical columns are carried through.
    let arm = csv_column(&read(&out.join("patients.csv")), "arm");
    assert_eq!(arm, csv_column(&read(&fixture("demo/clinical.csv")), "arm"));
    // survival.json has every contract key per endpoint, with PR as the Cox reference.
    let s: serde_json::Value = serde_json::from_str(&read(&out.join("survival.json"))).unwrap();
    for ep in ["dfs", "os"] {
        let e = &s["endpoints"][ep];
        assert_eq!(e["n"], 40);
        for k in [
            "km_by_response",
            "logrank_by_response",
            "cox_response",
            "km_by_d_high",
            "logrank_by_d_high",
            "cox_d_high",
            "cox_d_continuous",
            "median_follow_up",
        ] {
            assert!(e[k].is_object(), "{ep}.{k}: {}", e[k]);
        }
        let terms: Vec<&str> = e["cox_response"]["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["term"].as_str().unwrap())
            .collect();
        assert_eq!(
            terms,
            ["best_overall_responseSD", "best_overall_responsePD"]
        );
        // The demo simulates a much higher hazard after progression.
        assert!(e["cox_response"]["coefficients"][1]["hr"].as_f64().unwrap() > 2.0);
        assert_eq!(
            e["cox_d_continuous"]["coefficients"][0]["term"],
            "d_percent"
        );
    }
    // A key image for every lesion with a long axis, named by timepoint.
    let lesions = read(&out.join("lesions.csv"));
    let measured = csv::Reader::from_reader(lesions.as_bytes())
        .deserialize::<oncometry::report::LesionRow>()
        .filter(|r| r.as_ref().unwrap().long_axis_mm > 0.0)
        .count();
    let images = read(&out.join("images/index.csv"));
    assert_eq!(images.lines().count() - 1, measured);
    // highdicom wrote each SEG frame's source CT image: every key image is drawn on it.
    let mut rdr = csv::Reader::from_reader(images.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (by, uid) = (col("source_by"), col("source_sop_instance_uid"));
    for r in rdr.records() {
        let r = r.unwrap();
        assert_eq!((&r[by], r[uid].is_empty()), ("reference", false), "{r:?}");
    }
    assert!(
        out.join("images/DEMO-001")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().starts_with("0_") })
    );
    // The log names patients by id only (the demo's PatientName is DEMO^nnn).
    assert!(!read(&out.join("run.jsonl")).contains("DEMO^"));
}

#[test]
fn rerun_reuses_every_study_and_equals_a_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    assert_eq!(run_demo(&a, &[]).status.code(), Some(0));
    let again = run_demo(&a, &[]);
    assert_eq!(again.status.code(), Some(0));
    let log = read(&a.join("run.jsonl"));
    let last_run: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("\"studies_reused\":120"))
        .collect();
    assert!(
        !last_run.is_empty(),
        "second run did not reuse all 120 studies:\n{log}"
    );
    assert!(!last_run.iter().any(|l| l.contains("study_measured")));
    assert_eq!(run_demo(&b, &["--full"]).status.code(), Some(0));
    for f in TABLES {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f} differs");
    }
}

/// Key images are stored with each study's result, so turning them on or off re-derives
/// every study: the outputs then equal a fresh run with that setting, never showing the
/// previous run's images, nor none where a fresh run draws them.
#[test]
fn turning_key_images_on_or_off_equals_a_fresh_run() {
    let dir = tempfile::tempdir().unwrap();
    let (out, on, off) = (
        dir.path().join("out"),
        dir.path().join("on"),
        dir.path().join("off"),
    );
    assert_exit(&run_demo(&off, &["--no-images"]), 0);
    assert_exit(&run_demo(&on, &[]), 0);
    let pngs = |d: &Path| {
        tree(&d.join("images"))
            .iter()
            .filter(|f| f.ends_with(".png"))
            .count()
    };
    assert_eq!(pngs(&off), 0);
    assert!(pngs(&on) > 100, "{} key images", pngs(&on));
    for (extra, fresh) in [
        (&["--no-images"][..], &off),
        (&[][..], &on),
        (&["--no-images"][..], &off),
    ] {
        assert_exit(&run_demo(&out, extra), 0);
        for f in TABLES {
            assert_eq!(
                read(&out.join(f)),
                read(&fresh.join(f)),
                "{f} after a run with {extra:?}"
            );
        }
        // and `images/` holds what a fresh run's does: earlier runs' PNGs are removed
        assert_eq!(
            tree(&out.join("images")),
            tree(&fresh.join("images")),
            "{extra:?}"
        );
    }
}

/// Every file below `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn changed_study_is_the_only_one_remeasured() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    copy_dir(&fixture("demo"), &export);
    let out = dir.path().join("out");
    let run = |out: &Path| {
        oncometry()
            .args(["run"])
            .arg(&export)
            .arg("--clinical")
            .arg(export.join("clinical.csv"))
            .arg("--out")
            .arg(out)
            .args(["--stable-age", "0", "-q"])
            .output()
            .unwrap()
    };
    assert_eq!(run(&out).status.code(), Some(0));
    // Delete one SEG: its study is re-measured (now without that patient's lesions there).
    let seg = find_seg(&export, "DEMO-003");
    std::fs::remove_file(&seg).unwrap();
    assert_eq!(run(&out).status.code(), Some(0));
    let log = read(&out.join("run.jsonl"));
    let second: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("\"studies_measured\":120"))
        .skip(1)
        .collect();
    let measured: Vec<&&str> = second
        .iter()
        .filter(|l| l.contains("\"study_measured\""))
        .collect();
    assert_eq!(measured.len(), 1, "{measured:?}");
    assert!(measured[0].contains("DEMO-003"));
    let fresh = dir.path().join("fresh");
    assert_eq!(run(&fresh).status.code(), Some(0));
    for f in TABLES {
        assert_eq!(
            read(&out.join(f)),
            read(&fresh.join(f)),
            "{f} differs from a fresh run"
        );
    }
}

/// A run that measures a few studies and reuses the rest takes the fresh key images from
/// memory and the others from the manifest: together they must come out exactly as from
/// a fresh run (same files, same bytes, same report order).
#[test]
fn a_study_that_arrives_later_slots_in_like_a_fresh_run() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    copy_dir(&fixture("demo"), &export);
    let late = export.join("DEMO-003").join("TP1_20160603");
    let away = dir.path().join("away");
    std::fs::rename(&late, &away).unwrap();
    let run = |out: &Path| {
        oncometry()
            .args(["run"])
            .arg(&export)
            .arg("--clinical")
            .arg(export.join("clinical.csv"))
            .arg("--out")
            .arg(out)
            .args(["--stable-age", "0", "-q"])
            .output()
            .unwrap()
    };
    let out = dir.path().join("out");
    assert_exit(&run(&out), 0);
    std::fs::rename(&away, &late).unwrap();
    assert_exit(&run(&out), 0);
    let log = read(&out.join("run.jsonl"));
    let second = log.rsplit("\"run_start\"").next().unwrap();
    assert_eq!(second.matches("\"study_measured\"").count(), 1, "{second}");
    let fresh = dir.path().join("fresh");
    assert_exit(&run(&fresh), 0);
    for f in TABLES {
        assert_eq!(read(&out.join(f)), read(&fresh.join(f)), "{f}");
    }
    let files = tree(&out.join("images"));
    assert_eq!(files, tree(&fresh.join("images")));
    // the late study has key images of its own, between stored ones in the order
    assert!(
        files.iter().any(|f| f.starts_with("DEMO-003/1_")),
        "{files:?}"
    );
    for f in &files {
        let (a, b) = (out.join("images").join(f), fresh.join("images").join(f));
        if a.is_file() {
            assert_eq!(
                std::fs::read(&a).unwrap(),
                std::fs::read(&b).unwrap(),
                "{f}"
            );
        }
    }
}

#[test]
fn shards_merged_equal_a_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single");
    assert_eq!(run_demo(&single, &[]).status.code(), Some(0));
    let mut parts = Vec::new();
    for i in 0..3 {
        let p = dir.path().join(format!("part{i}"));
        let o = run_demo(&p, &["--shard", &format!("{i}/3")]);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        parts.push(p);
    }
    let merged = dir.path().join("merged");
    let o = oncometry()
        .arg("merge")
        .args(&parts)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    for f in [
        "lesions.csv",
        "timepoints.csv",
        "patients.csv",
        "survival.json",
        "quarantine.csv",
        "index.json",
    ] {
        assert_eq!(read(&single.join(f)), read(&merged.join(f)), "{f} differs");
    }
    // The shards really split the cohort.
    let sizes: Vec<usize> = parts
        .iter()
        .map(|p| read(&p.join("patients.csv")).lines().count() - 1)
        .collect();
    assert!(sizes.iter().all(|&n| n > 0 && n < 40), "{sizes:?}");
}

#[test]
fn a_second_concurrent_run_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let _held = oncometry::pipeline::lock::OutputLock::acquire(&out).unwrap();
    let o = run_demo(&out, &[]);
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&std::process::id().to_string()),
        "holder pid not named: {err}"
    );
}

#[test]
fn killed_runs_leave_complete_outputs_and_the_next_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    assert_eq!(run_demo(&reference, &[]).status.code(), Some(0));
    let out = dir.path().join("out");
    for delay_ms in [30u64, 150, 250, 400] {
        let mut child = spawn_demo(&out, &["--full"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever is visible is a complete file: every CSV parses, the JSON parses.
        for f in ["lesions.csv", "patients.csv", "timepoints.csv"] {
            if out.join(f).exists() {
                let text = read(&out.join(f));
                assert!(
                    csv::Reader::from_reader(text.as_bytes())
                        .records()
                        .all(|r| r.is_ok()),
                    "{f} torn"
                );
            }
        }
        if out.join("survival.json").exists() {
            serde_json::from_str::<serde_json::Value>(&read(&out.join("survival.json")))
                .expect("survival.json torn");
        }
    }
    let o = run_demo(&out, &[]);
    assert_exit(&o, 0);
    for f in TABLES {
        assert_eq!(
            read(&out.join(f)),
            read(&reference.join(f)),
            "{f} differs after kills"
        );
    }
    // the key images too, file for file, and no temporary file or folder is left
    assert_eq!(tree(&out.join("images")), tree(&reference.join("images")));
    for f in tree(&reference.join("images")) {
        let (a, b) = (
            out.join("images").join(&f),
            reference.join("images").join(&f),
        );
        if b.is_file() {
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{f}"
            );
        }
    }
    // folders too (`tree` lists them), even empty ones
    let leftovers: Vec<String> = tree(&out)
        .into_iter()
        .filter(|p| p.contains(".oncometry.tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn patients_on_one_side_of_the_clinical_join_are_listed_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let clinical = dir.path().join("clinical.csv");
    let text = read(&fixture("demo/clinical.csv"));
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("DEMO-007,"))
        .collect();
    lines.push("NOIMG-1,100,1,200,0,HT,UPS");
    std::fs::write(&clinical, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let o = oncometry()
        .arg("run")
        .arg(fixture("demo"))
        .arg("--clinical")
        .arg(&clinical)
        .arg("--out")
        .arg(&out)
        .args(["--stable-age", "0", "-q"])
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let reason = csv_column(&read(&out.join("patients.csv")), "reason");
    assert!(
        reason["DEMO-007"].contains("clinical"),
        "{}",
        reason["DEMO-007"]
    );
    assert!(
        reason["NOIMG-1"].contains("no imaging"),
        "{}",
        reason["NOIMG-1"]
    );
    let s: serde_json::Value = serde_json::from_str(&read(&out.join("survival.json"))).unwrap();
    assert_eq!(s["endpoints"]["dfs"]["n"], 39);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = oncometry()
        .args(["run", "/nonexistent/export", "--clinical", "x.csv", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[measure]\npoint_sets = \"edges\"\n").unwrap();
    let o = run_demo(&dir.path().join("o"), &["--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("point_sets"));
}

fn copy_dir(from: &Path, to: &Path) {
    for p in walk(from) {
        let rel = p.strip_prefix(from).unwrap();
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&p, &dst).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}

/// A SEG file of one patient (the demo keeps each patient's files in its own folder).
fn find_seg(export: &Path, patient: &str) -> PathBuf {
    let idx = oncometry::pipeline::measure_stage::index_export(export, 1).unwrap();
    let a = idx
        .annotations
        .iter()
        .find(|a| a.patient_id == patient)
        .expect("a SEG of that patient");
    export.join(&a.path)
}

#[test]
fn sigterm_stops_cleanly_and_the_next_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    assert_eq!(run_demo(&reference, &[]).status.code(), Some(0));
    let out = dir.path().join("out");
    let mut saw_143 = false;
    for delay_ms in [20u64, 80, 200] {
        let child = spawn_demo(&out, &["--full", "--jobs", "1"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let o = child.wait_with_output().unwrap();
        // Either it finished before the signal (0) or it stopped cleanly (143).
        match o.status.code() {
            Some(143) => saw_143 = true,
            Some(0) => {}
            other => panic!("unexpected exit {other:?}"),
        }
    }
    assert!(saw_143, "no run was caught by SIGTERM");
    let o = run_demo(&out, &[]);
    assert_exit(&o, 0);
    for f in TABLES {
        assert_eq!(
            read(&out.join(f)),
            read(&reference.join(f)),
            "{f} differs after SIGTERM"
        );
    }
}

#[test]
fn pseudonymize_keeps_patient_ids_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(run_demo(&out, &["--pseudonymize"]).status.code(), Some(0));
    // What a killed run leaves in key-image folders, which are named by patient id: a
    // temporary file in one, and a whole folder being written.
    let images = out.join("images");
    std::fs::write(images.join("DEMO-001/.0_L1.png.x1.oncometry.tmp"), b"half").unwrap();
    std::fs::create_dir(images.join(".DEMO-041.x2.oncometry.tmp")).unwrap();
    assert_eq!(run_demo(&out, &["--pseudonymize"]).status.code(), Some(0));
    let log = read(&out.join("run.jsonl"));
    assert!(log.contains("\"patient_id\":\"P-"), "no pseudonym logged");
    assert_eq!(log.matches("stale_temp_removed").count(), 2, "{log}");
    assert!(!log.contains("DEMO-0"), "a patient id reached the log");
}

/// `[survival] groupings`: survival by a clinical column (histology) gives, per endpoint,
/// exactly what the `survival` stage computes from the same patients.csv columns; a column
/// the clinical table lacks is reported, not fatal.
#[test]
fn configured_groupings_match_the_survival_stage() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("oncometry.toml");
    std::fs::write(
        &cfg,
        "[run]\nimages = false\n[survival]\ngroupings = [\"histology\", \"no_such_column\"]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run_demo(&out, &["--config", cfg.to_str().unwrap()]);
    assert_exit(&o, 0);
    let survival: serde_json::Value =
        serde_json::from_str(&read(&out.join("survival.json"))).unwrap();
    let report = read(&out.join("report.html"));
    assert!(report.contains("<h3>By histology</h3>"));
    assert!(report.contains("<h3>By no_such_column</h3>"));
    for ep in ["dfs", "os"] {
        let g = &survival["endpoints"][ep]["by_grouping"];
        for kind in ["logrank", "km"] {
            let o = oncometry()
                .args(["survival", kind, "--data"])
                .arg(out.join("patients.csv"))
                .args([
                    "--time",
                    &format!("{ep}_time"),
                    "--event",
                    &format!("{ep}_event"),
                ])
                .args(["--group", "histology", "--format", "json"])
                .output()
                .unwrap();
            assert_exit(&o, 0);
            let stage: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let ours = &g["histology"][kind];
            assert!(ours.is_object(), "{ep} {kind}: {g}");
            for key in ["groups", "chisq", "p", "df"] {
                assert_eq!(ours.get(key), stage.get(key), "{ep} {kind} {key}");
            }
        }
        let levels: Vec<&str> = g["histology"]["logrank"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["group"].as_str().unwrap())
            .collect();
        assert!(levels.len() >= 2, "{levels:?}");
        assert!(g["no_such_column"]["km"].is_null());
        assert!(
            g["no_such_column"]["not_computed"]["km"]
                .as_str()
                .unwrap()
                .contains("no column")
        );
    }
}
