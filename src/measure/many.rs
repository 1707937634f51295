//! Measuring many lesions in parallel on the current rayon pool.

use rayon::prelude::*;

use super::contour::measure_contours_in;
use super::line::measure_lines;
use super::mask::{Scratch, measure_mask_in};
use super::{ContourLesion, MaskLesion, MeasureError, MeasureOptions, Measurement};

/// One lesion to measure, whatever its source.
#[derive(Debug, Clone, PartialEq)]
pub enum LesionInput {
    /// A mask lesion; `slice_spacing_mm` is the source series' spacing between slices when
    /// known (it sets 3D adjacency and the voxel volume; inferred from the slices if `None`).
    Mask {
        lesion: MaskLesion,
        slice_spacing_mm: Option<f64>,
    },
    Contours(ContourLesion),
    /// Reader-drawn polylines (SR): reported as drawn.
    Lines {
        long: Vec<[f64; 3]>,
        short: Option<Vec<[f64; 3]>>,
    },
}

/// Measures one input, reusing `scratch` (one per worker).
pub fn measure_input(
    scratch: &mut Scratch,
    item: &LesionInput,
    opts: &MeasureOptions,
) -> Result<Measurement, MeasureError> {
    match item {
        LesionInput::Mask {
            lesion,
            slice_spacing_mm,
        } => measure_mask_in(scratch, lesion, opts, *slice_spacing_mm),
        LesionInput::Contours(c) => measure_contours_in(c, opts),
        LesionInput::Lines { long, short } => measure_lines(long, short.as_deref()),
    }
}

/// Measures every item in parallel on the current rayon pool (install a pool with
/// `ThreadPool::install` to cap the threads), results in input order. Each item is
/// dropped as soon as it is measured, and each worker keeps one `Scratch`, so the extra
/// memory is one lesion's working set per worker.
pub fn measure_many(
    items: Vec<LesionInput>,
    opts: &MeasureOptions,
) -> Vec<Result<Measurement, MeasureError>> {
    items
        .into_par_iter()
        .map_init(Scratch::default, |s, item| measure_input(s, &item, opts))
        .collect()
}
