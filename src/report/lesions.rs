//! The `lesions.csv` row (shared/interface.md §2): written by `measure` and `run`, read back
//! by `response`, `run` and `merge`. Contract columns first, in contract order; extra
//! columns after them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LesionRow {
    pub patient_id: String,
    pub study_uid: String,
    /// ISO 8601 `YYYY-MM-DD`.
    pub study_date: String,
    /// `seg`, `rtstruct` or `sr`.
    pub source: String,
    pub sop_instance_uid: String,
    pub lesion_id: String,
    pub label: String,
    pub is_node: bool,
    pub organ: String,
    pub long_axis_mm: f64,
    pub short_axis_mm: f64,
    pub slice_position_mm: Option<f64>,
    pub n_components: usize,
    pub la_x1: Option<f64>,
    pub la_y1: Option<f64>,
    pub la_z1: Option<f64>,
    pub la_x2: Option<f64>,
    pub la_y2: Option<f64>,
    pub la_z2: Option<f64>,
    pub slice_thickness_mm: Option<f64>,
    // ---- extra columns (not in the contract's required list) ----
    pub sa_x1: Option<f64>,
    pub sa_y1: Option<f64>,
    pub sa_z1: Option<f64>,
    pub sa_x2: Option<f64>,
    pub sa_y2: Option<f64>,
    pub sa_z2: Option<f64>,
    /// The image series the annotation refers to.
    pub referenced_series_uid: String,
    /// Annotation file, relative to the export folder.
    pub path: String,
}

/// The row order of `lesions.csv`: patient, study date, source, SOP Instance UID, lesion id
/// (`measure`, `run` and `merge` all write this order, so their tables compare byte for byte).
pub fn sort_lesion_rows(rows: &mut [LesionRow]) {
    rows.sort_by(|a, b| {
        (
            &a.patient_id,
            &a.study_date,
            &a.source,
            &a.sop_instance_uid,
            &a.lesion_id,
        )
            .cmp(&(
                &b.patient_id,
                &b.study_date,
                &b.source,
                &b.sop_instance_uid,
                &b.lesion_id,
            ))
    });
}
