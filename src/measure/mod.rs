//! Lesion diameters from masks, contours and lines already placed in patient coordinates.
//! Knows nothing about DICOM: `dicom` builds these inputs, `measure` only does geometry.

pub mod types;
pub use types::*;

/// Why a lesion could not be measured. Carries enough to name the cause; the caller adds
/// file, patient and lesion.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MeasureError {
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    #[error("mask has {got} values but the grid is {rows}×{cols}")]
    MaskSize {
        got: usize,
        rows: usize,
        cols: usize,
    },
    #[error("slices are not parallel: {0}")]
    NotParallel(String),
    #[error("contour is not planar or has fewer than 1 point: {0}")]
    BadContour(String),
}

/// Long and short axis of a mask lesion (contract; implemented in issue 3).
pub fn measure_mask(
    lesion: &MaskLesion,
    opts: &MeasureOptions,
) -> Result<Measurement, MeasureError> {
    let _ = (lesion, opts);
    Err(MeasureError::InvalidGeometry(
        "measure_mask is not implemented yet".into(),
    ))
}

/// Long and short axis of RTSTRUCT-style closed planar contours (contract; issue 3).
pub fn measure_contours(
    lesion: &ContourLesion,
    opts: &MeasureOptions,
) -> Result<Measurement, MeasureError> {
    let _ = (lesion, opts);
    Err(MeasureError::BadContour(
        "measure_contours is not implemented yet".into(),
    ))
}
