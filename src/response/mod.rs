//! RECIST 1.1: timepoints, target selection, overall and best overall response, and the
//! percent dimensional variation D. Pure functions over plain data: no DICOM, no files.

pub mod types;
pub use types::*;
