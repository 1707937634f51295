//! Lengths of reader-drawn lines (SR TID 1500 SCOORD3D POLYLINE end points), in mm.
//! SR measurements are the reader's: they are reported as drawn, never re-measured.

use super::geometry::{finite3, norm, sub};
use super::{MeasureError, Measurement};

/// Euclidean distance between two patient points, mm.
pub fn line_length_mm(a: [f64; 3], b: [f64; 3]) -> f64 {
    norm(sub(b, a))
}

/// Length of an open polyline (sum of its segments), mm; 0 for fewer than two points.
pub fn polyline_length_mm(points: &[[f64; 3]]) -> f64 {
    points.windows(2).map(|w| line_length_mm(w[0], w[1])).sum()
}

/// A measurement from a drawn long axis and optional short axis (each a polyline of at
/// least two points; the end points are its first and last points).
pub fn measure_lines(
    long: &[[f64; 3]],
    short: Option<&[[f64; 3]]>,
) -> Result<Measurement, MeasureError> {
    let check = |p: &[[f64; 3]], what: &str| -> Result<(), MeasureError> {
        if p.len() < 2 {
            return Err(MeasureError::BadLine(format!(
                "{what} has {} point(s), needs at least 2",
                p.len()
            )));
        }
        if let Some(v) = p.iter().find(|v| !finite3(**v)) {
            return Err(MeasureError::BadLine(format!(
                "{what} has a non-finite point {v:?}"
            )));
        }
        Ok(())
    };
    check(long, "long axis")?;
    if let Some(s) = short {
        check(s, "short axis")?;
    }
    let ends = |p: &[[f64; 3]]| [p[0], p[p.len() - 1]];
    Ok(Measurement {
        long_axis_mm: polyline_length_mm(long),
        short_axis_mm: short.map_or(0.0, polyline_length_mm),
        slice_position_mm: None,
        n_components: 1,
        dropped_components: 0,
        long_axis: Some(ends(long)),
        short_axis: short.map(ends),
    })
}
