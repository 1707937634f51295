//! A cohort (one input table): every patient evaluated independently, then `d_high`
//! from the cohort median of D (or a fixed cut-off).

use std::collections::BTreeMap;

use super::config::{Config, ConfigError};
use super::exact::PctChange;
use super::input::LesionInput;
use super::patient::{PatientEval, evaluate_patient};
use super::types::{PatientRow, TimepointRow};

/// The response stage's result, sorted by patient id and timepoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CohortResponse {
    pub timepoints: Vec<TimepointRow>,
    pub patients: Vec<PatientRow>,
    /// The median of D over evaluable patients with a D (None when no patient has one or
    /// a fixed cut-off is configured).
    pub d_median: Option<f64>,
    /// Per patient with a D, the days from baseline of the assessment D was taken at (the
    /// landmark a survival analysis can start from to avoid guarantee-time bias).
    pub d_landmark_days: BTreeMap<String, i64>,
}

impl CohortResponse {
    /// Patients that could not be evaluated.
    pub fn n_not_evaluable(&self) -> usize {
        self.patients.iter().filter(|p| !p.evaluable).count()
    }
}

/// Evaluates every patient in `lesions` (one cohort). Bad rows only affect their own
/// patient; an invalid configuration is the only error.
pub fn evaluate(lesions: &[LesionInput], cfg: &Config) -> Result<CohortResponse, ConfigError> {
    let resolved = cfg.resolve()?;
    let mut by_patient: BTreeMap<&str, Vec<&LesionInput>> = BTreeMap::new();
    for l in lesions {
        by_patient.entry(l.patient_id.as_str()).or_default().push(l);
    }
    let mut evals: Vec<PatientEval> = by_patient
        .iter()
        .map(|(pid, rows)| evaluate_patient(pid, rows, &resolved))
        .collect();

    let d_median = match resolved.d_cutoff {
        Some(cut) => {
            for e in &mut evals {
                e.row.d_high = e.d.map(|d| u8::from(d.gt_pct(cut)));
            }
            None
        }
        None => {
            let mut ds: Vec<PctChange> = evals
                .iter()
                .filter(|e| e.row.evaluable)
                .filter_map(|e| e.d)
                .collect();
            ds.sort_by(|a, b| a.cmp_exact(*b));
            let n = ds.len();
            if n == 0 {
                None
            } else {
                let (lo, hi) = (ds[(n - 1) / 2], ds[n / 2]);
                for e in &mut evals {
                    e.row.d_high = e.d.map(|d| u8::from(d.gt_mean_of(lo, hi)));
                }
                Some((lo.to_f64() + hi.to_f64()) / 2.0)
            }
        }
    };

    let mut out = CohortResponse {
        d_median,
        ..Default::default()
    };
    for e in evals {
        if let Some(t) = e
            .d_timepoint
            .and_then(|k| e.timepoints.iter().find(|t| t.timepoint == k))
        {
            out.d_landmark_days
                .insert(e.row.patient_id.clone(), t.days_from_baseline);
        }
        out.timepoints.extend(e.timepoints);
        out.patients.push(e.row);
    }
    out.timepoints
        .sort_by(|a, b| (&a.patient_id, a.timepoint).cmp(&(&b.patient_id, b.timepoint)));
    Ok(out)
}
