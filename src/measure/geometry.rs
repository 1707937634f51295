//! Small vector helpers and the validation of one `PlaneGrid`.
//!
//! Tolerances are loose enough for DICOM's decimal strings (ImageOrientationPatient is often
//! written with 5–6 significant digits) and tight enough to catch a wrong tag or a swapped
//! vector.

use super::{MeasureError, PlaneGrid};

pub(crate) type V3 = [f64; 3];

/// Direction cosines must have length 1 within this.
pub(crate) const UNIT_TOL: f64 = 1e-3;
/// |row · col| must be below this.
pub(crate) const ORTHO_TOL: f64 = 1e-3;
/// Largest grid side accepted: keeps doubled integer coordinates and their products far
/// inside i64.
pub(crate) const MAX_SIDE: usize = 1 << 20;

pub(crate) fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

/// `o + s·a + t·b`.
pub(crate) fn comb(o: V3, s: f64, a: V3, t: f64, b: V3) -> V3 {
    [
        o[0] + s * a[0] + t * b[0],
        o[1] + s * a[1] + t * b[1],
        o[2] + s * a[2] + t * b[2],
    ]
}

pub(crate) fn finite3(a: V3) -> bool {
    a.iter().all(|v| v.is_finite())
}

/// Checks one grid: finite origin, unit orthogonal directions, positive spacing, a mask of
/// the right size. Returns the unit plane normal `row_dir × col_dir`.
pub(crate) fn validate_grid(g: &PlaneGrid, mask_len: usize) -> Result<V3, MeasureError> {
    validate_size(g, mask_len)?;
    if !finite3(g.origin) || !finite3(g.row_dir) || !finite3(g.col_dir) {
        return Err(MeasureError::InvalidGeometry(
            "origin or direction has a non-finite component".into(),
        ));
    }
    for (name, v) in [("row", g.row_dir), ("column", g.col_dir)] {
        let n = norm(v);
        if (n - 1.0).abs() > UNIT_TOL {
            return Err(MeasureError::InvalidGeometry(format!(
                "{name} direction {v:?} has length {n:.6}, not 1"
            )));
        }
    }
    let d = dot(g.row_dir, g.col_dir);
    if d.abs() > ORTHO_TOL {
        return Err(MeasureError::InvalidGeometry(format!(
            "row and column directions are not orthogonal (dot = {d:.6})"
        )));
    }
    for (name, s) in [("row", g.spacing[0]), ("column", g.spacing[1])] {
        if !(s.is_finite() && s > 0.0) {
            return Err(MeasureError::InvalidGeometry(format!(
                "{name} spacing {s} is not a positive finite number"
            )));
        }
    }
    let n = cross(g.row_dir, g.col_dir);
    let l = norm(n);
    Ok([n[0] / l, n[1] / l, n[2] / l])
}

/// `validate_grid` for a grid that may share its directions and spacing with `like` (an
/// already validated grid, and its normal): then only what may differ (size, origin) is
/// checked, and the normal is `like`'s (the same computation on the same values). Most
/// slices of a lesion share them, and the full checks were a tenth of a small lesion's
/// measurement.
pub(crate) fn validate_grid_like(
    g: &PlaneGrid,
    mask_len: usize,
    like: Option<(&PlaneGrid, V3)>,
) -> Result<V3, MeasureError> {
    match like {
        Some((l, n))
            if g.row_dir == l.row_dir && g.col_dir == l.col_dir && g.spacing == l.spacing =>
        {
            validate_size(g, mask_len)?;
            if !finite3(g.origin) {
                return Err(MeasureError::InvalidGeometry(
                    "origin or direction has a non-finite component".into(),
                ));
            }
            Ok(n)
        }
        _ => validate_grid(g, mask_len),
    }
}

/// The normal of a grid whose directions and spacing are bit for bit those of the last
/// grid validated into `cache`.
pub(crate) type GridCache = Option<([u64; 8], V3)>;

/// `validate_grid`, taking the directions' and spacing's checks and the normal (functions
/// of those alone) from `cache` when they are bit for bit the cached grid's; the size and
/// the origin are checked each time, in `validate_grid`'s order and with its messages.
pub(crate) fn validate_grid_cached(
    g: &PlaneGrid,
    mask_len: usize,
    cache: &mut GridCache,
) -> Result<V3, MeasureError> {
    let (r, c, s) = (g.row_dir, g.col_dir, g.spacing);
    let key = [r[0], r[1], r[2], c[0], c[1], c[2], s[0], s[1]].map(f64::to_bits);
    if let Some((k, n)) = cache
        && *k == key
    {
        validate_size(g, mask_len)?;
        if !finite3(g.origin) {
            return Err(MeasureError::InvalidGeometry(
                "origin or direction has a non-finite component".into(),
            ));
        }
        return Ok(*n);
    }
    let n = validate_grid(g, mask_len)?;
    *cache = Some((key, n));
    Ok(n)
}

/// The size checks of `validate_grid`: the mask fits the grid, the grid is not absurdly
/// large.
fn validate_size(g: &PlaneGrid, mask_len: usize) -> Result<(), MeasureError> {
    let expected = g.rows.checked_mul(g.cols).ok_or_else(|| {
        MeasureError::InvalidGeometry(format!("grid {}×{} overflows", g.rows, g.cols))
    })?;
    if expected != mask_len {
        return Err(MeasureError::MaskSize {
            got: mask_len,
            rows: g.rows,
            cols: g.cols,
        });
    }
    if g.rows > MAX_SIDE || g.cols > MAX_SIDE {
        return Err(MeasureError::InvalidGeometry(format!(
            "grid {}×{} is larger than {MAX_SIDE} on a side",
            g.rows, g.cols
        )));
    }
    Ok(())
}
