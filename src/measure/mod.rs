//! Lesion diameters from masks, contours and lines already placed in patient coordinates.
//! Knows nothing about DICOM: `dicom` builds these inputs, `measure` only does geometry.
//!
//! Long axis: per slice of the acquisition plane, the maximum Feret diameter of the
//! boundary point set (`PointSet`), by convex hull and rotating calipers in mm; the
//! lesion's long axis is the maximum over slices. Short axis: on that slice, the caliper
//! width of the same point set perpendicular to the long axis (the bidirectional
//! measurement; for a convex lesion it is the longest perpendicular chord). See
//! `src/measure/README.md` for the point-set choice and its numbers.

mod contour;
mod geometry;
mod hull;
mod line;
mod many;
mod mask;
mod points;
pub mod types;

pub use contour::PLANAR_TOL_MM;
pub use line::{line_length_mm, measure_lines, polyline_length_mm};
pub use many::{LesionInput, measure_input, measure_many};
pub use mask::{Scratch, SliceAxes, measure_slice};
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
    #[error("line measurement is unusable: {0}")]
    BadLine(String),
}

/// Long and short axis of a mask lesion.
///
/// * Slices may come in any order; slices on the same plane are OR-ed; empty slices are
///   fine. No slices or only empty ones is a disappeared lesion (`Measurement::default()`).
/// * Components are 26-connected across adjacent slices (position gap ≤ 1.5 slice
///   spacings; the spacing is the smallest gap between the given slices, see
///   `measure_mask_spaced` to pass the series' own). Components under
///   `opts.min_component_mm3` are dropped (unless all are: then the largest stays).
/// * Several kept components: the long axis is the sum of their long axes (RECIST 1.1
///   fragmentation); short axis, slice and end points are those of the component with the
///   longest long axis.
/// * Ties in long axis (1e-9 mm) between slices go to the larger short axis, then to the
///   lower slice position.
pub fn measure_mask(
    lesion: &MaskLesion,
    opts: &MeasureOptions,
) -> Result<Measurement, MeasureError> {
    mask::measure_mask_in(&mut Scratch::default(), lesion, opts, None)
}

/// `measure_mask` with the series' slice spacing (mm) when the caller knows it: it decides
/// which slices are adjacent and the voxel volume for the component filter, and avoids
/// guessing it from the lesion's own slices (which fails when a lesion has one slice, or
/// when its fragments skip slices).
pub fn measure_mask_spaced(
    lesion: &MaskLesion,
    opts: &MeasureOptions,
    slice_spacing_mm: Option<f64>,
) -> Result<Measurement, MeasureError> {
    mask::measure_mask_in(&mut Scratch::default(), lesion, opts, slice_spacing_mm)
}

/// Long and short axis of RTSTRUCT-style closed planar contours (vertices in patient mm).
/// Polygons are grouped by plane along their common normal; all polygons on one plane are
/// one point set; the lesion is one component. The point-set option does not apply: the
/// vertices are measured as given.
pub fn measure_contours(
    lesion: &ContourLesion,
    opts: &MeasureOptions,
) -> Result<Measurement, MeasureError> {
    contour::measure_contours_in(lesion, opts)
}
