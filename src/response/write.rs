//! `timepoints.csv` and `patients.csv` exactly as the contract lists them: serde field
//! order, full-precision numbers, `true`/`false`, empty cells for missing values.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cohort::CohortResponse;
use super::types::{PatientRow, TimepointRow};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
}

fn write_rows<W: Write, T: Serialize>(w: W, rows: &[T], header: &[&str]) -> csv::Result<()> {
    let mut wtr = csv::WriterBuilder::new().has_headers(false).from_writer(w);
    // The header is written explicitly so that an empty table still has one.
    wtr.write_record(header)?;
    for r in rows {
        wtr.serialize(r)?;
    }
    wtr.flush()?;
    Ok(())
}

pub const TIMEPOINTS_HEADER: [&str; 12] = [
    "patient_id",
    "timepoint",
    "study_date",
    "days_from_baseline",
    "sum_mm",
    "baseline_sum_mm",
    "nadir_mm",
    "pct_change_from_baseline",
    "target_response",
    "nontarget_response",
    "new_lesions",
    "overall_response",
];

pub const PATIENTS_HEADER: [&str; 8] = [
    "patient_id",
    "n_timepoints",
    "baseline_sum_mm",
    "best_overall_response",
    "d_percent",
    "d_high",
    "evaluable",
    "reason",
];

pub fn write_timepoints<W: Write>(w: W, rows: &[TimepointRow]) -> csv::Result<()> {
    write_rows(w, rows, &TIMEPOINTS_HEADER)
}

pub fn write_patients<W: Write>(w: W, rows: &[PatientRow]) -> csv::Result<()> {
    write_rows(w, rows, &PATIENTS_HEADER)
}

/// Writes `path` through a temporary file in the same folder and a rename, so that a
/// reader never sees half a file.
fn write_atomic(
    path: &Path,
    f: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> csv::Result<()>,
) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    let result = f(&mut w)
        .map_err(|source| WriteError::Csv {
            path: path.to_path_buf(),
            source,
        })
        .and_then(|()| w.flush().map_err(io))
        .and_then(|()| w.get_ref().sync_all().map_err(io))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `DIR/timepoints.csv` and `DIR/patients.csv` (creating DIR).
pub fn write_dir(dir: &Path, res: &CohortResponse) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    write_atomic(&dir.join("timepoints.csv"), |w| {
        write_timepoints(w, &res.timepoints)
    })?;
    write_atomic(&dir.join("patients.csv"), |w| {
        write_patients(w, &res.patients)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_contract() {
        let tp = TimepointRow {
            patient_id: "P1".into(),
            timepoint: 1,
            study_date: "2024-03-01".into(),
            days_from_baseline: 60,
            sum_mm: Some(0.3),
            baseline_sum_mm: Some(12.345678),
            nadir_mm: None,
            pct_change_from_baseline: Some(-30.0),
            target_response: "PR".into(),
            nontarget_response: String::new(),
            new_lesions: false,
            overall_response: "PR".into(),
        };
        let mut buf = Vec::new();
        write_timepoints(&mut buf, &[tp]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), TIMEPOINTS_HEADER.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "P1,1,2024-03-01,60,0.3,12.345678,,-30.0,PR,,false,PR"
        );
        let p = PatientRow {
            patient_id: "P1".into(),
            n_timepoints: 2,
            baseline_sum_mm: None,
            best_overall_response: "NON-CR/NON-PD".into(),
            d_percent: None,
            d_high: Some(1),
            evaluable: true,
            reason: String::new(),
        };
        let mut buf = Vec::new();
        write_patients(&mut buf, &[p]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().nth(1).unwrap(), "P1,2,,NON-CR/NON-PD,,1,true,");
    }
}
