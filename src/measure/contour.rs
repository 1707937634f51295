//! Long and short axis of RTSTRUCT-style closed planar polygons, in patient mm.
//!
//! The polygons' vertices are the point set: there is no rasterisation, so no point-set
//! option applies. Polygons are grouped by plane (position along the common normal); all
//! polygons of one plane form one slice's point set (so holes and several islands on one
//! plane are measured together, like a mask slice). The lesion counts as one component:
//! contours carry no voxel connectivity, and splitting them by planar overlap would need a
//! rasterisation that the mask path already offers.

use super::geometry::{V3, comb, cross, dot, finite3, norm, sub};
use super::hull::{antipodal_f, best_axes, hull_f};
use super::mask::{SliceAxes, better};
use super::{ContourLesion, MeasureError, MeasureOptions, Measurement};

/// Vertices of one polygon may leave its plane by this much (DICOM decimal strings).
pub const PLANAR_TOL_MM: f64 = 0.05;
/// Polygon normals within this (|n × n0|) are parallel.
const PARALLEL_TOL: f64 = 1e-3;

fn unit(v: V3) -> V3 {
    let l = norm(v);
    [v[0] / l, v[1] / l, v[2] / l]
}

/// Newell's normal: its length is twice the polygon's area, robust for non-convex and
/// slightly non-planar polygons.
fn newell(poly: &[[f64; 3]]) -> V3 {
    let o = poly[0];
    let mut n = [0.0; 3];
    for i in 0..poly.len() {
        let a = sub(poly[i], o);
        let b = sub(poly[(i + 1) % poly.len()], o);
        n[0] += (a[1] - b[1]) * (a[2] + b[2]);
        n[1] += (a[2] - b[2]) * (a[0] + b[0]);
        n[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    n
}

/// Long and short axis of closed planar polygons; see `measure_contours`.
pub(crate) fn measure_contours_in(
    lesion: &ContourLesion,
    _opts: &MeasureOptions,
) -> Result<Measurement, MeasureError> {
    if lesion.polygons.is_empty() {
        return Ok(Measurement::default());
    }
    for (k, p) in lesion.polygons.iter().enumerate() {
        if p.is_empty() {
            return Err(MeasureError::BadContour(format!(
                "polygon {k} has no points"
            )));
        }
        if let Some(v) = p.iter().find(|v| !finite3(**v)) {
            return Err(MeasureError::BadContour(format!(
                "polygon {k} has a non-finite vertex {v:?}"
            )));
        }
    }
    // Common normal: the largest polygon's, oriented so its largest component is positive
    // (an axial stack gets +z, matching `row_dir × col_dir` of an axial image).
    let newells: Vec<V3> = lesion.polygons.iter().map(|p| newell(p)).collect();
    let (big, big_n) = newells
        .iter()
        .enumerate()
        .map(|(k, n)| (k, norm(*n)))
        .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let mut normal = if big_n > 1e-9 {
        unit(newells[big])
    } else {
        // Only points or lines: no plane is defined; assume axial, the RTSTRUCT norm.
        [0.0, 0.0, 1.0]
    };
    let m = normal
        .iter()
        .enumerate()
        .fold(0, |m, (i, v)| if v.abs() > normal[m].abs() { i } else { m });
    if normal[m] < 0.0 {
        normal = [-normal[0], -normal[1], -normal[2]];
    }
    // In-plane basis.
    let a = if normal[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let e1 = unit(sub(
        a,
        [
            normal[0] * dot(a, normal),
            normal[1] * dot(a, normal),
            normal[2] * dot(a, normal),
        ],
    ));
    let e2 = cross(normal, e1);
    let origin = lesion.polygons[0][0];

    // Per polygon: check plane and parallelism, record position.
    let mut by_pos: Vec<(f64, usize)> = Vec::with_capacity(lesion.polygons.len());
    for (k, p) in lesion.polygons.iter().enumerate() {
        let area2 = norm(newells[k]);
        if area2 > 1e-6 {
            let c = norm(cross(unit(newells[k]), normal));
            if c > PARALLEL_TOL {
                return Err(MeasureError::NotParallel(format!(
                    "polygon {k} normal differs from the lesion's plane normal {normal:?} (|n×n0| = {c:.2e})"
                )));
            }
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in p {
            let h = dot(*v, normal);
            lo = lo.min(h);
            hi = hi.max(h);
        }
        if hi - lo > PLANAR_TOL_MM {
            return Err(MeasureError::BadContour(format!(
                "polygon {k} is not planar: its vertices span {:.3} mm along the normal",
                hi - lo
            )));
        }
        by_pos.push(((lo + hi) / 2.0, k));
    }
    by_pos.sort_by(|a, b| a.0.total_cmp(&b.0));

    let mut best: Option<SliceAxes> = None;
    let mut pts: Vec<[f64; 2]> = Vec::new();
    let mut hull: Vec<[f64; 2]> = Vec::new();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < by_pos.len() {
        let start = by_pos[i].0;
        let mut j = i;
        let mut sum = 0.0;
        pts.clear();
        while j < by_pos.len() && by_pos[j].0 - start <= PLANAR_TOL_MM {
            sum += by_pos[j].0;
            for v in &lesion.polygons[by_pos[j].1] {
                let d = sub(*v, origin);
                pts.push([dot(d, e1), dot(d, e2)]);
            }
            j += 1;
        }
        let pos = sum / (j - i) as f64;
        i = j;
        hull_f(&mut pts, &mut hull);
        antipodal_f(&hull, &mut pairs);
        let ax = best_axes(&hull, &pairs);
        let k = pos - dot(origin, normal);
        let to3 = |p: [f64; 2]| {
            let q = comb(origin, p[0], e1, p[1], e2);
            [
                q[0] + k * normal[0],
                q[1] + k * normal[1],
                q[2] + k * normal[2],
            ]
        };
        let cand = SliceAxes {
            long_axis_mm: ax.long_mm,
            short_axis_mm: ax.short_mm,
            position_mm: pos,
            long_axis: [to3(ax.long[0]), to3(ax.long[1])],
            short_axis: [to3(ax.short[0]), to3(ax.short[1])],
        };
        if better(&cand, &best) {
            best = Some(cand);
        }
    }
    Ok(best.map_or_else(Measurement::default, SliceAxes::single_component))
}
