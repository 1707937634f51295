//! The plain-data contract between `dicom` (which builds these) and `measure` (which reads
//! them). Changing a field here changes both sides: keep it small and documented.

/// An image plane placed in patient space, as DICOM describes one slice, but free of DICOM.
///
/// Pixel (r, c) has its centre at `origin + c * spacing[1] * row_dir + r * spacing[0] * col_dir`
/// (DICOM PS3.3 C.7.6.2.1.1: ImagePositionPatient is the centre of the first pixel,
/// ImageOrientationPatient[0..3] is the direction of increasing column index, [3..6] of
/// increasing row index, PixelSpacing is [row spacing, column spacing]).
#[derive(Debug, Clone, PartialEq)]
pub struct PlaneGrid {
    /// Centre of pixel (row 0, column 0), patient mm.
    pub origin: [f64; 3],
    /// Unit vector along a row (direction of increasing column index).
    pub row_dir: [f64; 3],
    /// Unit vector down a column (direction of increasing row index).
    pub col_dir: [f64; 3],
    /// `[spacing between rows, spacing between columns]` in mm, as DICOM PixelSpacing.
    pub spacing: [f64; 2],
    pub rows: usize,
    pub cols: usize,
}

/// One binary slice of one lesion: `mask[r * cols + c] != 0` means inside.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskSlice {
    pub grid: PlaneGrid,
    pub mask: Vec<u8>,
}

/// All slices of one segment of one annotation object. Slices are parallel planes in any
/// order (callers must not rely on frame order); a slice may be empty. No slices, or only
/// empty ones, means the lesion has disappeared (long axis 0).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MaskLesion {
    pub slices: Vec<MaskSlice>,
}

/// Closed planar polygons of one ROI (RTSTRUCT CLOSED_PLANAR), vertices in patient mm.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContourLesion {
    pub polygons: Vec<Vec<[f64; 3]>>,
}

/// Which boundary points of a pixel mask are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PointSet {
    /// Midpoints of pixel edges between inside and outside pixels (pyradiomics'
    /// Maximum2DDiameterSlice point set).
    #[default]
    Edges,
    /// Centres of border pixels (ITK's Feret diameter).
    Centers,
    /// Pixel corners.
    Corners,
}

/// Options of the measurement stage.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureOptions {
    pub point_set: PointSet,
    /// 3D connected components (26-connectivity) smaller than this volume are dropped.
    pub min_component_mm3: f64,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            point_set: PointSet::Edges,
            min_component_mm3: 10.0,
        }
    }
}

/// The result for one lesion. A disappeared lesion has `long_axis_mm == 0.0` and no axes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measurement {
    /// Longest in-plane diameter (sum over components when the lesion is fragmented).
    pub long_axis_mm: f64,
    /// Largest extent perpendicular to the long axis, on the long-axis slice.
    pub short_axis_mm: f64,
    /// Position of the long-axis slice along the plane normal (mm), when there is one.
    pub slice_position_mm: Option<f64>,
    /// Connected components kept (after dropping the small ones).
    pub n_components: usize,
    /// Components dropped for being under `min_component_mm3`.
    pub dropped_components: usize,
    /// Long axis end points in patient mm (of the largest component).
    pub long_axis: Option<[[f64; 3]; 2]>,
    /// Short axis end points in patient mm.
    pub short_axis: Option<[[f64; 3]; 2]>,
}
