//! Image planes in patient space (DICOM PS3.3 C.7.6.2): the one place that turns
//! ImageOrientationPatient / ImagePositionPatient / PixelSpacing into coordinates, and
//! refuses geometry that would silently give wrong millimetres.

use crate::measure::PlaneGrid;

/// Tolerance for unit length / orthogonality of direction cosines. Writers store IOP as
/// DS with ~6–8 significant digits (dcmqi writes float32 noise), so 1e-4 accepts every real
/// file seen while still catching swapped or unnormalised vectors.
pub const COSINE_TOLERANCE: f64 = 1e-4;

/// Why an image geometry is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    #[error("ImageOrientationPatient needs 6 values, got {0}")]
    OrientationLength(usize),
    #[error("ImagePositionPatient needs 3 values, got {0}")]
    PositionLength(usize),
    #[error("PixelSpacing needs 2 values, got {0}")]
    SpacingLength(usize),
    #[error("ImageOrientationPatient {which} direction is not a unit vector (length {length:.6})")]
    NotUnit { which: &'static str, length: f64 },
    #[error("ImageOrientationPatient row and column directions are not orthogonal (dot {0:.6})")]
    NotOrthogonal(f64),
    #[error("PixelSpacing must be positive, got [{0}, {1}]")]
    BadSpacing(f64, f64),
    #[error("image has no pixels ({rows}×{cols})")]
    Empty { rows: usize, cols: usize },
    #[error("non-finite coordinate")]
    NonFinite,
    #[error("frames are not parallel: {0}")]
    NotParallel(String),
    #[error("frames disagree: {0}")]
    Inconsistent(String),
}

/// One image plane: where pixel (0, 0) is, which way rows and columns run, pixel size.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePlane {
    /// Centre of the first pixel (ImagePositionPatient), mm.
    pub origin: [f64; 3],
    /// Direction of increasing column index (IOP[0..3]).
    pub row_dir: [f64; 3],
    /// Direction of increasing row index (IOP[3..6]).
    pub col_dir: [f64; 3],
    /// `[row spacing, column spacing]` (PixelSpacing), mm.
    pub spacing: [f64; 2],
    pub rows: usize,
    pub cols: usize,
}

impl ImagePlane {
    /// Validate and build. Direction cosines are renormalised after the tolerance check so
    /// DS rounding does not leak into distances.
    pub fn new(
        ipp: &[f64],
        iop: &[f64],
        pixel_spacing: &[f64],
        rows: usize,
        cols: usize,
    ) -> Result<Self, GeometryError> {
        if iop.len() != 6 {
            return Err(GeometryError::OrientationLength(iop.len()));
        }
        if ipp.len() != 3 {
            return Err(GeometryError::PositionLength(ipp.len()));
        }
        if pixel_spacing.len() != 2 {
            return Err(GeometryError::SpacingLength(pixel_spacing.len()));
        }
        if ipp
            .iter()
            .chain(iop)
            .chain(pixel_spacing)
            .any(|v| !v.is_finite())
        {
            return Err(GeometryError::NonFinite);
        }
        let (sr, sc) = (pixel_spacing[0], pixel_spacing[1]);
        if sr <= 0.0 || sc <= 0.0 {
            return Err(GeometryError::BadSpacing(sr, sc));
        }
        if rows == 0 || cols == 0 {
            return Err(GeometryError::Empty { rows, cols });
        }
        let r = [iop[0], iop[1], iop[2]];
        let c = [iop[3], iop[4], iop[5]];
        for (which, v) in [("row", r), ("column", c)] {
            let l = norm(v);
            if (l - 1.0).abs() > COSINE_TOLERANCE {
                return Err(GeometryError::NotUnit { which, length: l });
            }
        }
        let d = dot(r, c);
        if d.abs() > COSINE_TOLERANCE {
            return Err(GeometryError::NotOrthogonal(d));
        }
        Ok(ImagePlane {
            origin: [ipp[0], ipp[1], ipp[2]],
            row_dir: scale(r, 1.0 / norm(r)),
            col_dir: scale(c, 1.0 / norm(c)),
            spacing: [sr, sc],
            rows,
            cols,
        })
    }

    /// Unit normal (row_dir × col_dir).
    pub fn normal(&self) -> [f64; 3] {
        let n = cross(self.row_dir, self.col_dir);
        scale(n, 1.0 / norm(n))
    }

    /// Signed position of the plane along its normal, mm (sorting key for slices).
    pub fn position_along_normal(&self) -> f64 {
        dot(self.origin, self.normal())
    }

    /// Patient coordinates of the centre of pixel (row, column); fractional indices allowed.
    pub fn pixel_centre(&self, row: f64, col: f64) -> [f64; 3] {
        let mut p = self.origin;
        for (i, v) in p.iter_mut().enumerate() {
            *v += col * self.spacing[1] * self.row_dir[i] + row * self.spacing[0] * self.col_dir[i];
        }
        p
    }

    /// Patient coordinates of a 2D SR SCOORD point (PS3.3 C.18.6.1.1: column, row with the
    /// top-left corner of the top-left pixel at 0,0 — so a pixel centre is at +0.5).
    pub fn scoord_to_patient(&self, column: f64, row: f64) -> [f64; 3] {
        self.pixel_centre(row - 0.5, column - 0.5)
    }

    /// True when both planes have the same orientation (within tolerance).
    pub fn is_parallel_to(&self, other: &ImagePlane) -> bool {
        let a = self.normal();
        let b = other.normal();
        (dot(a, b).abs() - 1.0).abs() <= COSINE_TOLERANCE
            && (dot(self.row_dir, other.row_dir) - 1.0).abs() <= COSINE_TOLERANCE
    }

    /// The measurement contract's plain grid.
    pub fn to_grid(&self) -> PlaneGrid {
        PlaneGrid {
            origin: self.origin,
            row_dir: self.row_dir,
            col_dir: self.col_dir,
            spacing: self.spacing,
            rows: self.rows,
            cols: self.cols,
        }
    }
}

/// Check that all frames of one object share orientation, pixel size and matrix; they may
/// sit at any position along the normal.
pub fn check_consistent(planes: &[ImagePlane]) -> Result<(), GeometryError> {
    let Some(first) = planes.first() else {
        return Ok(());
    };
    for (i, p) in planes.iter().enumerate().skip(1) {
        if !p.is_parallel_to(first) {
            return Err(GeometryError::NotParallel(format!(
                "frame {} orientation differs from frame 1",
                i + 1
            )));
        }
        if (p.spacing[0] - first.spacing[0]).abs() > 1e-4 * first.spacing[0]
            || (p.spacing[1] - first.spacing[1]).abs() > 1e-4 * first.spacing[1]
        {
            return Err(GeometryError::Inconsistent(format!(
                "frame {} pixel spacing {:?} differs from frame 1 {:?}",
                i + 1,
                p.spacing,
                first.spacing
            )));
        }
        if p.rows != first.rows || p.cols != first.cols {
            return Err(GeometryError::Inconsistent(format!(
                "frame {} is {}×{}, frame 1 is {}×{}",
                i + 1,
                p.rows,
                p.cols,
                first.rows,
                first.cols
            )));
        }
    }
    Ok(())
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// Euclidean distance, mm.
pub fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    norm([a[0] - b[0], a[1] - b[1], a[2] - b[2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

    #[test]
    fn pixel_centres_follow_iop_and_spacing() {
        let p = ImagePlane::new(&[-10.0, -20.0, 5.0], &AXIAL, &[0.5, 2.0], 4, 3).unwrap();
        // column index moves along row_dir by column spacing (2.0), row index along col_dir by 0.5
        assert_eq!(p.pixel_centre(0.0, 1.0), [-8.0, -20.0, 5.0]);
        assert_eq!(p.pixel_centre(2.0, 0.0), [-10.0, -19.0, 5.0]);
        assert_eq!(p.scoord_to_patient(0.5, 0.5), [-10.0, -20.0, 5.0]);
        assert_eq!(p.normal(), [0.0, 0.0, 1.0]);
        assert_eq!(p.position_along_normal(), 5.0);
    }

    #[test]
    fn oblique_plane() {
        let t = 30f64.to_radians();
        let iop = [t.cos(), 0.0, t.sin(), 0.0, 1.0, 0.0];
        let p = ImagePlane::new(&[0.0, 0.0, 0.0], &iop, &[1.0, 1.0], 2, 2).unwrap();
        let n = p.normal();
        assert!((n[0] + t.sin()).abs() < 1e-12 && (n[2] - t.cos()).abs() < 1e-12);
        let q = p.pixel_centre(0.0, 2.0);
        assert!((distance(q, [0.0; 3]) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_geometry() {
        assert!(matches!(
            ImagePlane::new(
                &[0.0; 3],
                &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
                &[1.0, 1.0],
                2,
                2
            ),
            Err(GeometryError::NotOrthogonal(_))
        ));
        assert!(matches!(
            ImagePlane::new(
                &[0.0; 3],
                &[2.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                &[1.0, 1.0],
                2,
                2
            ),
            Err(GeometryError::NotUnit { .. })
        ));
        assert!(matches!(
            ImagePlane::new(&[0.0; 3], &AXIAL, &[0.0, 1.0], 2, 2),
            Err(GeometryError::BadSpacing(..))
        ));
        assert!(matches!(
            ImagePlane::new(&[0.0; 3], &AXIAL, &[-1.0, 1.0], 2, 2),
            Err(GeometryError::BadSpacing(..))
        ));
        assert!(matches!(
            ImagePlane::new(&[0.0; 2], &AXIAL, &[1.0, 1.0], 2, 2),
            Err(GeometryError::PositionLength(2))
        ));
        assert!(matches!(
            ImagePlane::new(&[0.0; 3], &AXIAL[..5], &[1.0, 1.0], 2, 2),
            Err(GeometryError::OrientationLength(5))
        ));
        assert!(matches!(
            ImagePlane::new(&[0.0; 3], &AXIAL, &[1.0, 1.0], 0, 2),
            Err(GeometryError::Empty { .. })
        ));
    }

    #[test]
    fn inconsistent_frames_are_reported() {
        let a = ImagePlane::new(&[0.0; 3], &AXIAL, &[1.0, 1.0], 4, 4).unwrap();
        let b = ImagePlane::new(&[0.0, 0.0, 2.0], &AXIAL, &[1.0, 1.0], 4, 4).unwrap();
        let c = ImagePlane::new(
            &[0.0; 3],
            &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            &[1.0, 1.0],
            4,
            4,
        )
        .unwrap();
        let d = ImagePlane::new(&[0.0; 3], &AXIAL, &[1.0, 2.0], 4, 4).unwrap();
        assert!(check_consistent(&[a.clone(), b.clone()]).is_ok());
        assert!(matches!(
            check_consistent(&[a.clone(), c]),
            Err(GeometryError::NotParallel(_))
        ));
        assert!(matches!(
            check_consistent(&[a, d]),
            Err(GeometryError::Inconsistent(_))
        ));
    }
}
