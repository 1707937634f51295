//! RECIST 1.1: timepoints, target selection, overall and best overall response, and the
//! percent dimensional variation D. Pure functions over plain data: no DICOM; the only
//! file access is the optional [`write::write_dir`] and [`Config::load`].
//!
//! Entry points: [`read_lesions`] (or [`LesionInput::from_lesion_rows`]) → [`evaluate`] →
//! [`write::write_dir`].
//!
//! Decisions where RECIST or the contract leave room (each has a test):
//! * Rows of one lesion at one date from different annotation objects are duplicates: if
//!   they state the same thing they count once, otherwise the patient is not evaluable.
//!   Rows from one object (same `sop_instance_uid`) are fragments of a split lesion and
//!   are summed. Without a `sop_instance_uid` column every row is its own object.
//! * Without `state`: long axis 0 = disappeared, else measured. `too-small` = 5 mm,
//!   `disappeared`/`absent` = 0, any number (even < 5 mm) is used as written.
//! * Without `role`, targets are chosen at baseline (largest first, 5 / 2 per organ, nodes
//!   one organ, laterality words dropped from organ names so paired organs are one organ;
//!   ties by lesion id). With `role = target` on any lesion, exactly those are the
//!   targets (limits and measurability are checked); `non-target` and `new` are always
//!   followed.
//! * A lesion absent or normal (node < 10 mm SA) at baseline that later appears (non-node
//!   above 0 mm, node ≥ 10 mm SA) is a new lesion. State `equivocal` (extension) marks a new
//!   lesion that is not yet unequivocal: PD only if a later timepoint shows it, and then
//!   dated back to the first sighting.
//! * Non-target response: PD if any unequivocal progression, else NE if any not
//!   evaluated, else NON-CR/NON-PD if any present (node ≥ 10 mm), else CR.
//! * After a target CR, any reappearing target disease is PD (Table 3 footnote a).
//! * Sums and thresholds are exact on a picometre grid (see [`exact`]). A timepoint with a
//!   missing target has no sum (NE, or PD when the measured ones already prove it).
//! * BOR: assessments after the first PD are ignored; SD/NON-CR/NON-PD need
//!   `sd_min_days` from baseline, else PD if a PD follows, else NE. With confirmation, a
//!   CR/PR needs a CR (for CR) or CR/PR (for PR) ≥ 28 days later with only those or NE in
//!   between; CR followed by PR counts as a confirmed PR.
//! * D is empty when the landmark timepoint has no sum; `d_high` = D > median (strictly),
//!   the median taken over evaluable patients with a D, compared exactly.
//! * Baseline-only patients are evaluable with BOR NE and no D.

pub mod best;
pub mod category;
pub mod cohort;
pub mod config;
pub mod date;
pub mod exact;
pub mod input;
mod patient;
pub mod rules;
pub mod selection;
pub mod types;
pub mod write;

pub use category::Response;
pub use cohort::{CohortResponse, evaluate};
pub use config::{Config, ConfigError, Landmark, PatientDates};
pub use input::{InputIssue, LesionInput, LesionState, ReadError, Role, read_lesions};
pub use types::*;
pub use write::{WriteError, write_dir, write_patients, write_timepoints};

#[cfg(test)]
mod tests;
