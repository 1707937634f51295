//! Lesion diameters from masks, contours and lines already placed in patient coordinates.
//! Knows nothing about DICOM: `dicom` builds these inputs, `measure` only does geometry.

pub mod types;
pub use types::*;
