//! Convex hull (Andrew's monotone chain) and the longest diameter by rotating calipers.
//!
//! Mask point sets live on a half-pixel lattice, so their hull is built on doubled integer
//! coordinates with exact arithmetic: no epsilon decides whether a lattice point is a hull
//! vertex. Antipodal pairs are an affine invariant (parallel supporting lines stay
//! parallel under the index → mm map), so they are found in index space and only the
//! distances are taken in mm. Contours arrive as floating-point mm and use the same chain
//! in `f64`.

/// Twice the signed area of (o, a, b); positive when counter-clockwise.
#[inline]
fn cross_i(o: [i64; 2], a: [i64; 2], b: [i64; 2]) -> i64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

#[inline]
fn cross_f(o: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Monotone chain over points already sorted lexicographically (and deduplicated).
/// Writes the hull counter-clockwise, without collinear vertices, into `out`.
fn chain<T: Copy>(pts: &[T], out: &mut Vec<T>, turn: impl Fn(T, T, T) -> bool) {
    out.clear();
    if pts.len() < 3 {
        out.extend_from_slice(pts);
        return;
    }
    for &p in pts {
        while out.len() >= 2 && !turn(out[out.len() - 2], out[out.len() - 1], p) {
            out.pop();
        }
        out.push(p);
    }
    let lower = out.len() + 1;
    for &p in pts.iter().rev().skip(1) {
        while out.len() >= lower && !turn(out[out.len() - 2], out[out.len() - 1], p) {
            out.pop();
        }
        out.push(p);
    }
    out.pop();
}

/// Hull of lexicographically sorted, distinct integer points.
pub(crate) fn hull_i(pts: &[[i64; 2]], out: &mut Vec<[i64; 2]>) {
    chain(pts, out, |o, a, b| cross_i(o, a, b) > 0);
}

/// Hull of `f64` points; sorts and deduplicates `pts` in place.
pub(crate) fn hull_f(pts: &mut Vec<[f64; 2]>, out: &mut Vec<[f64; 2]>) {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    chain(pts, out, |o, a, b| cross_f(o, a, b) > 0.0);
}

/// Antipodal pairs of a convex polygon given counter-clockwise (rotating calipers, O(h)):
/// every farthest pair is among them. `area(i, j, k)` is twice the signed area of the
/// triangle. Pairs go to `out` (cleared first).
fn calipers<A: PartialOrd + Copy>(
    h: usize,
    area: impl Fn(usize, usize, usize) -> A,
    out: &mut Vec<(usize, usize)>,
) {
    out.clear();
    match h {
        0 => return,
        1 => return out.push((0, 0)),
        2 => return out.push((0, 1)),
        _ => {}
    }
    let mut j = 1;
    // The walk of j is monotone, so it advances at most about 2h times overall; the guard
    // only protects against a non-convex input (float noise in contours).
    let mut budget = 4 * h + 4;
    for i in 0..h {
        let i1 = (i + 1) % h;
        loop {
            let j1 = (j + 1) % h;
            if budget > 0 && area(i, i1, j1) > area(i, i1, j) {
                j = j1;
                budget -= 1;
            } else {
                break;
            }
        }
        out.push((i, j));
        out.push((i1, j));
        // An edge parallel to (i, i1) on the far side: both of its ends are antipodal.
        let j1 = (j + 1) % h;
        if area(i, i1, j1) >= area(i, i1, j) {
            out.push((i, j1));
            out.push((i1, j1));
        }
    }
}

/// Antipodal pairs of an integer hull (exact orientation tests).
pub(crate) fn antipodal_i(h: &[[i64; 2]], out: &mut Vec<(usize, usize)>) {
    calipers(h.len(), |i, j, k| cross_i(h[i], h[j], h[k]), out);
}

/// Antipodal pairs of a `f64` hull.
pub(crate) fn antipodal_f(h: &[[f64; 2]], out: &mut Vec<(usize, usize)>) {
    calipers(h.len(), |i, j, k| cross_f(h[i], h[j], h[k]), out);
}

/// Two long axes within this (mm) are equally long; the larger short axis wins.
pub(crate) const TIE_MM: f64 = 1e-9;

/// Long and short axis of a hull in mm from its antipodal pairs: the longest pair; among
/// equally long pairs (symmetric lesions have several), the one with the larger short axis
/// (the bidirectional reading a reader would pick; Cornerstone's rule across slices).
pub(crate) fn best_axes(hull: &[[f64; 2]], pairs: &[(usize, usize)]) -> Axes2 {
    let d2 = |&(i, j): &(usize, usize)| {
        let (a, b) = (hull[i], hull[j]);
        (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
    };
    let lmax = pairs.iter().map(d2).fold(0.0, f64::max).sqrt();
    let tie2 = (lmax - TIE_MM).max(0.0).powi(2);
    let mut best: Option<Axes2> = None;
    for p in pairs.iter().filter(|p| d2(p) >= tie2) {
        let ax = axes_from_hull_mm(hull, hull[p.0], hull[p.1]);
        if best.is_none_or(|b| ax.short_mm > b.short_mm + TIE_MM) {
            best = Some(ax);
        }
    }
    best.unwrap_or_else(|| axes_from_hull_mm(hull, hull[0], hull[0]))
}

/// Long and short axis of a point set given by its hull vertices in in-plane mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Axes2 {
    pub long_mm: f64,
    pub short_mm: f64,
    pub long: [[f64; 2]; 2],
    pub short: [[f64; 2]; 2],
}

/// Short axis = caliper width of the hull perpendicular to the long axis
/// (`max p·v − min p·v`, v ⟂ long axis), drawn as a segment along v at the mean
/// long-axis coordinate of the two extreme points. Because a, b is a diameter, every
/// point projects inside [a, b] along the long axis, so the segment crosses the long axis.
pub(crate) fn axes_from_hull_mm(hull: &[[f64; 2]], a: [f64; 2], b: [f64; 2]) -> Axes2 {
    let (ux, uy) = (b[0] - a[0], b[1] - a[1]);
    let l = (ux * ux + uy * uy).sqrt();
    if l == 0.0 || hull.len() < 3 {
        let mid = if l == 0.0 {
            a
        } else {
            [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]
        };
        return Axes2 {
            long_mm: l,
            short_mm: 0.0,
            long: [a, b],
            short: [mid, mid],
        };
    }
    let u = [ux / l, uy / l];
    let v = [-u[1], u[0]];
    let (mut tmin, mut tmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut smin, mut smax) = (0.0, 0.0);
    for p in hull {
        let d = [p[0] - a[0], p[1] - a[1]];
        let t = d[0] * v[0] + d[1] * v[1];
        let s = d[0] * u[0] + d[1] * u[1];
        if t < tmin {
            tmin = t;
            smin = s;
        }
        if t > tmax {
            tmax = t;
            smax = s;
        }
    }
    let s = (smin + smax) / 2.0;
    let at = |t: f64| [a[0] + s * u[0] + t * v[0], a[1] + s * u[1] + t * v[1]];
    Axes2 {
        long_mm: l,
        short_mm: tmax - tmin,
        long: [a, b],
        short: [at(tmin), at(tmax)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(p: &[[f64; 2]]) -> f64 {
        let mut m: f64 = 0.0;
        for a in p {
            for b in p {
                m = m.max(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt());
            }
        }
        m
    }

    #[test]
    fn square_hull_drops_interior_and_collinear_points() {
        let mut pts = vec![];
        for y in 0..3 {
            for x in 0..3 {
                pts.push([y, x]);
            }
        }
        let mut h = vec![];
        hull_i(&pts, &mut h);
        assert_eq!(h.len(), 4);
        let mut pairs = vec![];
        antipodal_i(&h, &mut pairs);
        let mm: Vec<[f64; 2]> = h.iter().map(|p| [p[0] as f64, p[1] as f64]).collect();
        let ax = best_axes(&mm, &pairs);
        assert!((ax.long_mm - 8f64.sqrt()).abs() < 1e-12);
        // Both diagonals tie; either gives the other diagonal's width.
        assert!((ax.short_mm - 8f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn calipers_match_brute_force_on_regular_polygons() {
        for n in 3..40 {
            let mut pts: Vec<[f64; 2]> = (0..n)
                .map(|k| {
                    let t = k as f64 * std::f64::consts::TAU / n as f64;
                    [3.0 * t.cos() + 1.0, 1.3 * t.sin() - 2.0]
                })
                .collect();
            let want = brute(&pts);
            let mut h = vec![];
            hull_f(&mut pts, &mut h);
            let mut pairs = vec![];
            antipodal_f(&h, &mut pairs);
            assert!(
                (best_axes(&h, &pairs).long_mm - want).abs() < 1e-12,
                "n = {n}"
            );
        }
    }

    #[test]
    fn short_axis_of_a_thin_rectangle_is_its_width_across_the_diagonal() {
        let mut pts = vec![[0.0, 0.0], [4.0, 0.0], [4.0, 0.0001], [0.0, 0.0001]];
        let mut h = vec![];
        hull_f(&mut pts, &mut h);
        let mut pairs = vec![];
        antipodal_f(&h, &mut pairs);
        let ax = best_axes(&h, &pairs);
        assert!((ax.long_mm - (16.0f64 + 1e-8).sqrt()).abs() < 1e-12);
        // Width of a w×h rectangle perpendicular to its diagonal: 2wh/√(w²+h²).
        let (w, hh) = (4.0f64, 0.0001f64);
        assert!((ax.short_mm - 2.0 * w * hh / (w * w + hh * hh).sqrt()).abs() < 1e-12);
    }
}
