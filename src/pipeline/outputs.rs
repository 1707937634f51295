//! The cohort outputs shared by `run` and `merge`: from the lesion table (and what was
//! quarantined) to `lesions.csv`, `timepoints.csv`, `patients.csv`, `survival.json`,
//! `quarantine.csv`, the SVG figures and `report.html`. Everything here is a pure function
//! of its inputs, which is what makes a merged sharded run byte-identical to a single run.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use super::atomic::{AtomicError, AtomicFile, OutputSet};
use super::clinical::ClinicalTable;
use super::cohort::survival_analyses;
use super::config::Config;
use super::keyimages::{SourceBy, StoredImage, finish_images};
use crate::report::writers::{LESIONS_HEADER, PATIENTS_HEADER, TIMEPOINTS_HEADER};
use crate::report::{
    DataQuality, EndpointResults, ImageSource, LesionRow, QuarantinedFile, ReportInput, csv_string,
    figures, quarantine_csv, render_report, survival_json,
};
use crate::response::{self, CohortResponse, LesionInput, PatientRow};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    #[error("response configuration: {0}")]
    ResponseConfig(#[from] response::ConfigError),
    #[error("writing outputs: {0}")]
    Write(#[from] crate::report::WriteError),
    #[error(transparent)]
    Atomic(#[from] AtomicError),
    #[error("writing {table}: {source}")]
    Csv { table: String, source: csv::Error },
}

/// What the cohort step found, for the exit code and the log.
#[derive(Debug, Clone, Default)]
pub struct CohortSummary {
    pub patients: usize,
    pub evaluable: usize,
    pub not_evaluable: Vec<(String, String)>,
    pub only_clinical: Vec<String>,
    pub only_images: Vec<String>,
    pub clinical_warnings: Vec<String>,
    pub model_warnings: Vec<String>,
    /// Key-image files of earlier runs that could not be removed (file name only), with why.
    pub stale_images_kept: Vec<String>,
    pub endpoints: Vec<EndpointResults>,
}

/// Everything the cohort step needs besides the lesion rows.
pub struct CohortInputs<'a> {
    pub lesions: &'a [LesionRow],
    pub quality: DataQuality,
    pub clinical: &'a ClinicalTable,
    pub config: &'a Config,
    pub response: &'a response::Config,
    /// Rendered key images (from the run's per-study results, or a merge's shard folders).
    pub images: Vec<StoredImage>,
}

/// Computes and writes every cohort output into `out` (each file atomically, replaced as a
/// set at the end so a reader sees either the previous run's files or this one's).
pub fn write_cohort_outputs(
    out: &Path,
    inputs: CohortInputs<'_>,
) -> Result<CohortSummary, OutputError> {
    let CohortInputs {
        lesions,
        mut quality,
        clinical,
        config,
        response: response_cfg,
        images,
    } = inputs;
    let rows: Vec<LesionInput> = lesions
        .iter()
        .enumerate()
        .map(|(i, r)| LesionInput::from_lesion_row(i + 1, r))
        .collect();
    let cohort: CohortResponse = response::evaluate(&rows, response_cfg)?;

    let imaged: BTreeSet<&str> = cohort
        .patients
        .iter()
        .map(|p| p.patient_id.as_str())
        .collect();
    let only_clinical: Vec<String> = clinical
        .patients
        .keys()
        .filter(|id| !imaged.contains(id.as_str()))
        .cloned()
        .collect();
    let only_images: Vec<String> = cohort
        .patients
        .iter()
        .filter(|p| !clinical.patients.contains_key(&p.patient_id))
        .map(|p| p.patient_id.clone())
        .collect();

    // patients.csv lists every patient of either side, with a reason where one is missing.
    let mut patients: Vec<PatientRow> = cohort.patients.clone();
    for p in &mut patients {
        if !clinical.patients.contains_key(&p.patient_id) {
            p.reason = join_reason(&p.reason, "no row in the clinical table");
        }
    }
    for id in &only_clinical {
        patients.push(PatientRow {
            patient_id: id.clone(),
            n_timepoints: 0,
            baseline_sum_mm: None,
            best_overall_response: "NE".into(),
            d_percent: None,
            d_high: None,
            evaluable: false,
            reason: "no imaging for this patient in the export".into(),
        });
    }
    patients.sort_by(|a, b| a.patient_id.cmp(&b.patient_id));

    let landmarks = landmark_days(&cohort);
    let endpoints = survival_analyses(
        &cohort.patients,
        clinical,
        &config.clinical.endpoints,
        &config.survival,
        &landmarks,
    );

    quality.patients_evaluable = cohort.patients.iter().filter(|p| p.evaluable).count();
    quality.patients_only_clinical = only_clinical.clone();
    quality.patients_only_images = only_images.clone();
    quality.lesions_measured = lesions.len();

    std::fs::create_dir_all(out.join("images")).map_err(|source| AtomicError::Io {
        path: out.join("images"),
        source,
    })?;
    std::fs::create_dir_all(out.join("figures")).map_err(|source| AtomicError::Io {
        path: out.join("figures"),
        source,
    })?;
    let mut set = OutputSet::new();
    set.add_bytes(
        &out.join("lesions.csv"),
        csv_string("lesions.csv", LESIONS_HEADER, lesions)?.as_bytes(),
    )?;
    set.add_bytes(
        &out.join("timepoints.csv"),
        csv_string("timepoints.csv", TIMEPOINTS_HEADER, &cohort.timepoints)?.as_bytes(),
    )?;
    set.add_bytes(
        &out.join("patients.csv"),
        patients_csv(&patients, clinical)?.as_bytes(),
    )?;
    set.add_bytes(
        &out.join("survival.json"),
        survival_json(&endpoints)?.as_bytes(),
    )?;
    set.add_bytes(
        &out.join("quarantine.csv"),
        quarantine_csv(&quality.quarantined)?.as_bytes(),
    )?;

    let timepoint_of: BTreeMap<(String, String), usize> = cohort
        .timepoints
        .iter()
        .map(|t| ((t.patient_id.clone(), t.study_date.clone()), t.timepoint))
        .collect();
    let finished = finish_images(images, &timepoint_of);
    let mut index_rows = Vec::with_capacity(finished.len());
    let mut key_images = Vec::with_capacity(finished.len());
    for f in finished {
        index_rows.push(ImageIndexRow {
            patient_id: f.image.patient_id.clone(),
            timepoint: f.image.timepoint,
            study_date: f.image.study_date.clone(),
            lesion_id: f.image.lesion_id.clone(),
            caption: f.image.caption.clone(),
            file: f.file,
            source_sop_instance_uid: f.source_sop_instance_uid,
            source_by: f.source_by.map_or("", SourceBy::as_str).to_owned(),
        });
        key_images.push(f.image);
    }
    let files: Vec<(PathBuf, &[u8])> = index_rows
        .iter()
        .zip(&key_images)
        .filter_map(|(row, ki)| match &ki.source {
            ImageSource::Png(png) => Some((out.join(&row.file), png.as_slice())),
            _ => None,
        })
        .collect();
    let input = ReportInput {
        title: "oncometry report",
        quality: &quality,
        patients: &patients,
        timepoints: &cohort.timepoints,
        endpoints: &endpoints,
        key_images: &key_images,
    };
    // The report, which embeds the key images (base64, CPU bound) and is the largest file
    // of the set (11 MB for 200 patients), is rendered and fsynced on its own thread while
    // the image files are written on the pool (file-system bound): its fsync then waits
    // for the disk alongside them, not after them in `commit`.
    let report_path = out.join("report.html");
    let (written, report) = std::thread::scope(|s| {
        let report =
            s.spawn(|| AtomicFile::written_synced(&report_path, render_report(&input).as_bytes()));
        let written = set.add_many_rebuildable(&files);
        let report = report
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written, report)
    });
    written?;
    let report = report?;
    set.add_bytes(
        &out.join(IMAGES_INDEX),
        csv_string("images/index.csv", IMAGE_INDEX_HEADER, &index_rows)?.as_bytes(),
    )?;
    for fig in figures(&input) {
        set.add_bytes(
            &out.join("figures").join(&fig.file_name),
            fig.svg.as_bytes(),
        )?;
    }
    set.adopt(report)?;
    // folders the set creates whole hold nothing of earlier runs: pruning skips them
    let whole: HashSet<PathBuf> = set.whole_folders().map(Path::to_path_buf).collect();
    set.commit()?;
    let keep: HashSet<&Path> = files.iter().map(|(p, _)| p.as_path()).collect();
    let stale_images_kept = prune_key_images(&out.join("images"), &keep, &whole);

    let model_warnings = endpoints
        .iter()
        .flat_map(|ep| {
            [&ep.cox_response, &ep.cox_d_high, &ep.cox_d_continuous]
                .into_iter()
                .filter_map(|a| a.as_ref())
                .flat_map(|fit| fit.warnings.iter().map(|w| format!("{}: {w}", ep.name)))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(CohortSummary {
        patients: patients.len(),
        evaluable: quality.patients_evaluable,
        not_evaluable: cohort
            .patients
            .iter()
            .filter(|p| !p.evaluable)
            .map(|p| (p.patient_id.clone(), p.reason.clone()))
            .collect(),
        only_clinical,
        only_images,
        clinical_warnings: clinical.warnings.clone(),
        model_warnings,
        stale_images_kept,
        endpoints,
    })
}

/// Removes the key-image files (`images/<patient>/*.png`) that earlier runs wrote and this
/// one did not (a lesion gone, a timepoint renumbered, key images turned off), and the
/// patient folders left empty, so that `images/` holds what `images/index.csv` lists, as
/// after a fresh run. Only PNG files two levels down are touched and links are not
/// followed. Runs after the set is committed; what cannot be removed is returned, with
/// why, for the log (the outputs themselves are complete either way).
fn prune_key_images(
    images: &Path,
    keep: &HashSet<&Path>,
    new_folders: &HashSet<PathBuf>,
) -> Vec<String> {
    let mut kept = Vec::new();
    // by file name: the folder is named by patient id, which a pseudonymised log must not show
    let mut failed = |path: &Path, e: std::io::Error| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        kept.push(format!("{name}: {e}"));
    };
    let Ok(patients) = std::fs::read_dir(images) else {
        return Vec::new();
    };
    for patient in patients.flatten() {
        if !patient.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = patient.path();
        if new_folders.contains(&dir) {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                failed(&dir, e);
                continue;
            }
        };
        let mut left = 0;
        for f in entries.flatten() {
            let path = f.path();
            let png = f.file_type().is_ok_and(|t| t.is_file())
                && path.extension().is_some_and(|x| x == "png");
            if !png || keep.contains(path.as_path()) {
                left += 1;
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    left += 1;
                    failed(&path, e);
                }
            }
        }
        if left == 0 {
            // something that appeared since, or a permission, leaves it: harmless
            let _ = std::fs::remove_dir(&dir);
        }
    }
    kept
}

fn join_reason(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}

/// Days from baseline of each patient's D landmark assessment, as the response stage
/// found it.
fn landmark_days(cohort: &CohortResponse) -> BTreeMap<String, f64> {
    cohort
        .d_landmark_days
        .iter()
        .map(|(p, &d)| (p.clone(), d as f64))
        .collect()
}

/// `patients.csv`: the contract's columns, then every clinical column carried through.
fn patients_csv(patients: &[PatientRow], clinical: &ClinicalTable) -> Result<String, OutputError> {
    let err = |source| OutputError::Csv {
        table: "patients.csv".into(),
        source,
    };
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut header: Vec<&str> = PATIENTS_HEADER.to_vec();
    header.extend(clinical.columns.iter().map(String::as_str));
    w.write_record(&header).map_err(err)?;
    // Each row is the serialised `PatientRow` followed by the clinical fields: serialise all
    // rows once, read them back as records, extend each (one writer and one reader for the
    // table, not one of each per patient: building a csv reader costs as much as a row).
    let mut serialised = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for p in patients {
        serialised.serialize(p).map_err(err)?;
    }
    let bytes = serialised
        .into_inner()
        .map_err(|e| err(csv::Error::from(e.into_error())))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    let mut rec = csv::StringRecord::new();
    for p in patients {
        if !rdr.read_record(&mut rec).map_err(err)? {
            return Err(err(csv::Error::from(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "a serialised patient row is missing",
            ))));
        }
        match clinical.patients.get(&p.patient_id) {
            Some(c) => rec.extend(c.fields.iter()),
            None => rec.extend(clinical.columns.iter().map(|_| "")),
        }
        w.write_record(&rec).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| err(csv::Error::from(e.into_error())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `images/index.csv`: which PNG shows which lesion at which timepoint (and what `merge`
/// reads back from shard folders).
pub const IMAGES_INDEX: &str = "images/index.csv";
const IMAGE_INDEX_HEADER: &[&str] = &[
    "patient_id",
    "timepoint",
    "study_date",
    "lesion_id",
    "caption",
    "file",
    "source_sop_instance_uid",
    "source_by",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageIndexRow {
    pub patient_id: String,
    pub timepoint: usize,
    pub study_date: String,
    pub lesion_id: String,
    pub caption: String,
    /// The key image: the crop above the whole-slice thumbnail.
    pub file: String,
    /// The image it was drawn on; empty in folders written before oncometry recorded it.
    #[serde(default)]
    pub source_sop_instance_uid: String,
    /// `reference` when the annotation object names that image, `position` when it is
    /// the nearest slice of the referenced series; empty as above.
    #[serde(default)]
    pub source_by: String,
}

/// The quarantine list of a run: every file not used, sorted by path, one row per reason.
pub fn quarantine_rows(rows: impl IntoIterator<Item = (String, String)>) -> Vec<QuarantinedFile> {
    let mut v: Vec<QuarantinedFile> = rows
        .into_iter()
        .map(|(path, reason)| QuarantinedFile { path, reason })
        .collect();
    v.sort_by(|a, b| (&a.path, &a.reason).cmp(&(&b.path, &b.reason)));
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only PNGs two levels down that the run did not write go, and a patient folder only
    /// when nothing is left in it; links are not followed, and folders the run created
    /// whole are not listed.
    #[cfg(unix)]
    #[test]
    fn pruning_removes_only_earlier_key_images() {
        let d = tempfile::tempdir().unwrap();
        let images = d.path().join("images");
        let (p1, p2, p3) = (images.join("P1"), images.join("P2"), images.join("P3"));
        let p4 = images.join("P4");
        for p in [&p1, &p2, &p3, &p4] {
            std::fs::create_dir_all(p).unwrap();
        }
        let outside = d.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("x.png"), b"user").unwrap();
        std::os::unix::fs::symlink(&outside, images.join("link")).unwrap();
        for f in ["0_L1.png", "1_L1.png", "notes.txt"] {
            std::fs::write(p1.join(f), b"x").unwrap();
        }
        std::fs::write(p2.join("0_L1.png"), b"x").unwrap();
        // as if created whole by this run: never listed, so even a PNG missing from `keep`
        // stays
        std::fs::write(p4.join("0_L7.png"), b"x").unwrap();
        let new_folders: HashSet<PathBuf> = [p4.clone()].into_iter().collect();
        std::fs::write(images.join("index.csv"), b"x").unwrap();
        let keep_path = p1.join("0_L1.png");
        let keep: HashSet<&Path> = [keep_path.as_path()].into_iter().collect();
        assert!(prune_key_images(&images, &keep, &new_folders).is_empty());
        let names = |dir: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&p1), ["0_L1.png", "notes.txt"]);
        assert_eq!(names(&images), ["P1", "P4", "index.csv", "link"]);
        assert_eq!(names(&p4), ["0_L7.png"]);
        assert_eq!(names(&outside), ["x.png"]);
        assert!(prune_key_images(&d.path().join("missing"), &keep, &new_folders).is_empty());
    }
}
