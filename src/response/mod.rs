//! RECIST 1.1: timepoints, target selection, overall and best overall response, and the
//! percent dimensional variation D. Pure functions over plain data: no DICOM; the only
//! file access is the optional [`write::write_dir`] and [`Config::load`].
//!
//! Entry points: [`read_lesions`] (or [`LesionInput::from_lesion_row`]) → [`evaluate`] →
//! [`write::write_dir`].

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
