//! Output rows of the response stage. Their serde form is the CSV of the command-line
//! contract (shared/interface.md §3): `timepoints.csv` and `patients.csv`, columns in this
//! order. `report` draws the waterfall and spider plots from them.

use serde::{Deserialize, Serialize};

/// One assessment of one patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimepointRow {
    pub patient_id: String,
    /// 0 = baseline, 1, 2, ... in study-date order.
    pub timepoint: usize,
    /// ISO 8601 date, `YYYY-MM-DD`.
    pub study_date: String,
    pub days_from_baseline: i64,
    /// Sum of target diameters (LD for non-nodes, SA for nodes); None when not evaluable.
    pub sum_mm: Option<f64>,
    pub baseline_sum_mm: Option<f64>,
    /// Smallest sum before this timepoint, baseline included.
    pub nadir_mm: Option<f64>,
    pub pct_change_from_baseline: Option<f64>,
    /// CR, PR, SD, PD, NE (empty at baseline).
    pub target_response: String,
    /// CR, NON-CR/NON-PD, PD, NE (empty at baseline or when there are no non-targets).
    pub nontarget_response: String,
    /// `true` when an unequivocal new lesion is seen at this timepoint.
    pub new_lesions: bool,
    /// CR, PR, SD, PD, NE, NON-CR/NON-PD (empty at baseline).
    pub overall_response: String,
}

/// One patient's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientRow {
    pub patient_id: String,
    pub n_timepoints: usize,
    pub baseline_sum_mm: Option<f64>,
    /// CR, PR, SD, PD, NE, NON-CR/NON-PD.
    pub best_overall_response: String,
    /// Percent change of the sum from baseline at the landmark timepoint.
    pub d_percent: Option<f64>,
    /// 1 when d_percent is above the cohort median (or the configured cut-off), else 0.
    pub d_high: Option<u8>,
    pub evaluable: bool,
    /// Why the patient is not evaluable (names patient, lesion and row); empty otherwise.
    pub reason: String,
}
