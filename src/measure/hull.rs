//! Convex hull (Andrew's monotone chain) and the longest diameter by rotating calipers.
//!
//! Mask point sets live on a half-pixel lattice, so their hull is built on doubled integer
//! coordinates with exact arithmetic: no epsilon decides whether a lattice point is a hull
//! vertex. The points come as row levels (leftmost and rightmost point per y), so the
//! chain runs once down each side (`hull_levels`, the same vertices as Andrew's two passes
//! over all points). Antipodal pairs are an affine invariant (parallel supporting lines
//! stay parallel under the index → mm map), so they are found in index space and only the
//! distances are taken in mm; only pairs that may tie the longest are kept, and the short
//! axis (O(h) per pair) is worked out for those alone. Contours arrive as floating-point
//! mm and use Andrew's chain and all antipodal pairs in `f64`.

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

/// Hull of lexicographically sorted, distinct integer points (the reference for
/// `hull_levels`).
#[cfg(test)]
pub(crate) fn hull_i(pts: &[[i64; 2]], out: &mut Vec<[i64; 2]>) {
    chain(pts, out, |o, a, b| cross_i(o, a, b) > 0);
}

/// Hull of the points `[y, lo]`, `[y, hi]` of levels `(y, lo, hi)` (y strictly
/// increasing, lo ≤ hi): exactly `hull_i` of those points, vertex for vertex and in the
/// same order, in one pass over each side instead of two passes over all points.
///
/// In Andrew's lower pass a level's `hi` (not the last level's) is pushed without popping
/// anything (the turn from an earlier level through `lo` to `hi` is left) and popped by
/// the next level's `lo` (the turn `lo`, `hi`, next `lo` is right) before anything else
/// happens; likewise each `lo` but the first in the upper pass. So the lower chain is the
/// `lo` side plus the last `hi`, the upper chain the `hi` side plus the first `lo`.
/// Within a side, a point at which its two neighbours do not turn left is no vertex of
/// that chain (it lies on or inside their chord), so it is dropped before the stack sees
/// it: on the half-pixel lattice about every other point is such a step of the staircase.
pub(crate) fn hull_levels(levels: &[(i64, i64, i64)], out: &mut Vec<[i64; 2]>) {
    out.clear();
    let n = levels.len();
    let Some(&(_, lo0, hi0)) = levels.first() else {
        return;
    };
    let (_, lol, hil) = levels[n - 1];
    // Fewer than three points: the points themselves, as `chain` does.
    if n == 1 || (n == 2 && lo0 == hi0 && lol == hil) {
        for &(y, lo, hi) in levels {
            out.push([y, lo]);
            if hi != lo {
                out.push([y, hi]);
            }
        }
        return;
    }
    two_chains(
        n,
        levels[0],
        levels[n - 1],
        out,
        |st| {
            for w in levels.windows(3) {
                let (q, p, r) = ([w[0].0, w[0].1], [w[1].0, w[1].1], [w[2].0, w[2].1]);
                if cross_i(q, p, r) > 0 {
                    st.push(2, p);
                }
            }
        },
        |st, lower| {
            for w in levels.windows(3).rev() {
                let (q, p, r) = ([w[2].0, w[2].2], [w[1].0, w[1].2], [w[0].0, w[0].2]);
                if cross_i(q, p, r) > 0 {
                    st.push(lower, p);
                }
            }
        },
    );
}

/// The two chains of `hull_levels` over `n ≥ 2` levels from `first` to `last` (each a
/// `(y, lo, hi)`), into `out`: `lower` pushes the `lo` side's interior points that may be
/// vertices, upwards, `upper` the `hi` side's, downwards, above the floor it is given.
fn two_chains(
    n: usize,
    (y0, lo0, hi0): (i64, i64, i64),
    (yl, lol, hil): (i64, i64, i64),
    out: &mut Vec<[i64; 2]>,
    lower: impl FnOnce(&mut Stack<'_>),
    upper: impl FnOnce(&mut Stack<'_>, usize),
) {
    // Each chain holds at most n + 1 points: a stack in a slice, no capacity checks.
    out.resize(2 * n + 2, [0, 0]);
    let mut st = Stack {
        buf: out,
        k: 0,
        top: [[0, 0]; 2],
    };
    st.push(2, [y0, lo0]);
    lower(&mut st);
    st.push(2, [yl, lol]);
    if hil != lol {
        st.push(2, [yl, hil]);
    }
    let lower = st.k + 1;
    upper(&mut st, lower);
    if hi0 != lo0 {
        st.push(lower, [y0, hi0]);
    }
    st.push(lower, [y0, lo0]);
    let k = st.k;
    out.truncate(k - 1);
}

/// `hull_levels` of the `PointSet::Edges` levels (`points::levels`) of rows on
/// consecutive rows from `first_row`, given by their first and last inside columns
/// `cols` (a `simple` plane's), vertex for vertex, without writing the levels out.
///
/// The levels are one per half row: `2·row − 1` between rows (extremes `2·min(a)` and
/// `2·max(b)` of the two rows, one row at the top and bottom), `2·row` on a row (`2a − 1`,
/// `2b + 1`). Consecutive levels are one unit of y apart, so `hull_levels`' turn test of
/// three of them is a second difference of their x (`edge_side`), no products.
pub(crate) fn hull_edge_rows(
    first_row: i64,
    cols: impl DoubleEndedIterator<Item = (i64, i64)> + ExactSizeIterator + Clone,
    out: &mut Vec<[i64; 2]>,
) {
    out.clear();
    let m = cols.len();
    let (Some((a0, b0)), Some((al, bl))) = (cols.clone().next(), cols.clone().next_back()) else {
        return;
    };
    let (y0, yl) = (2 * first_row - 1, 2 * (first_row + m as i64) - 1);
    two_chains(
        2 * m + 1,
        (y0, 2 * a0, 2 * b0),
        (yl, 2 * al, 2 * bl),
        out,
        |st| edge_side(st, 2, y0 + 1, 1, 1, cols.clone().map(|c| c.0)),
        // The hi side, downwards, as a lo side of negated columns.
        |st, lower| edge_side(st, lower, yl - 1, -1, -1, cols.clone().rev().map(|c| -c.1)),
    );
}

/// Pushes the interior points of one side of the `Edges` levels at which the side turns
/// outwards (`hull_levels`' test), for rows whose extreme columns on that side are `ext`
/// times `sign` (in the side's order, outwards being smaller): points `[y, sign·x]`, y
/// from `y1` (the second level's) in steps of `dy`.
#[inline(always)]
fn edge_side(
    st: &mut Stack<'_>,
    floor: usize,
    y1: i64,
    dy: i64,
    sign: i64,
    mut ext: impl Iterator<Item = i64>,
) {
    let Some(c0) = ext.next() else {
        return;
    };
    let mut y = y1;
    // Level p (at y) between levels q and r: pushed when q + r > 2p (a turn outwards).
    let mut turn = |q: i64, p: i64, r: i64, y: i64| {
        if q + r > 2 * p {
            st.push(floor, [y, sign * p]);
        }
    };
    // The last two levels: between rows (or above the first), on the last row.
    let (mut q, mut p, mut prev) = (2 * c0, 2 * c0 - 1, c0);
    for c in ext {
        let (between, on) = (2 * prev.min(c), 2 * c - 1);
        turn(q, p, between, y);
        turn(p, between, on, y + dy);
        (q, p, prev, y) = (between, on, c, y + 2 * dy);
    }
    turn(q, p, 2 * prev, y);
}

/// The monotone chain's stack `buf[..k]`, its top two entries also kept in `top`
/// (second, first) so that the turn test reads no memory.
struct Stack<'a> {
    buf: &'a mut [[i64; 2]],
    k: usize,
    top: [[i64; 2]; 2],
}

impl Stack<'_> {
    /// Pushes `p` after popping the vertices at which the chain would not turn left
    /// towards it (never below `floor` entries).
    #[inline(always)]
    fn push(&mut self, floor: usize, p: [i64; 2]) {
        let [mut a, mut b] = self.top;
        while self.k >= floor && cross_i(a, b, p) <= 0 {
            self.k -= 1;
            b = a;
            if self.k >= 2 {
                a = self.buf[self.k - 2];
            }
        }
        self.buf[self.k] = p;
        self.k += 1;
        self.top = [b, p];
    }
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

/// Antipodal pairs of an integer hull (exact orientation tests; the reference for
/// `long_pairs_i`).
#[cfg(test)]
pub(crate) fn antipodal_i(h: &[[i64; 2]], out: &mut Vec<(usize, usize)>) {
    calipers(h.len(), |i, j, k| cross_i(h[i], h[j], h[k]), out);
}

/// Squared mm distance between two hull vertices (the one formula every long-axis
/// comparison uses, so equal pairs compare equal).
#[inline]
fn d2(hull: &[[f64; 2]], (i, j): (usize, usize)) -> f64 {
    let (a, b) = (hull[i], hull[j]);
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Squared length under which a pair cannot tie a long axis of `lmax` mm.
#[inline]
fn tie2(lmax: f64) -> f64 {
    (lmax - TIE_MM).max(0.0).powi(2)
}

/// The calipers of `antipodal_i` on integer hull `h` (`mm`: the same vertices in mm),
/// keeping only the pairs that may still tie the longest: returns the long axis (mm) and
/// leaves in `out`, in `antipodal_i`'s order, a superset of its pairs within `TIE_MM` of
/// it (`pick_axes` filters exactly). The running threshold only rises, so no pair that
/// ties the final maximum is dropped; the rest never reach memory.
pub(crate) fn long_pairs_i(h: &[[i64; 2]], mm: &[[f64; 2]], out: &mut Vec<(usize, usize)>) -> f64 {
    out.clear();
    let n = h.len();
    match n {
        0 => return 0.0,
        1 => {
            out.push((0, 0));
            return 0.0;
        }
        2 => {
            out.push((0, 1));
            return d2(mm, (0, 1)).sqrt();
        }
        _ => {}
    }
    let (mut max2, mut min2) = (0.0f64, 0.0f64);
    let mut last = (n, n);
    let mut keep = |p: (usize, usize), out: &mut Vec<(usize, usize)>| {
        // The walk often meets a pair twice in a row; a repeat never changes `pick_axes`.
        if p == last {
            return;
        }
        last = p;
        let d = d2(mm, p);
        if d >= min2 {
            if d > max2 {
                max2 = d;
                min2 = tie2(d.sqrt());
            }
            out.push(p);
        }
    };
    let next = |k: usize| if k + 1 == n { 0 } else { k + 1 };
    let edge = |k: usize, k1: usize| [h[k1][0] - h[k][0], h[k1][1] - h[k][1]];
    // `cross(e, dj)` (e = h[i1] − h[i], dj = h[j1] − h[j]) is `area(i, i1, j1) −
    // area(i, i1, j)` of `calipers`, exact in integers. On a strictly convex polygon it
    // cannot stay positive all the way round, so the walk ends without `calipers`' budget.
    // The edge at j is kept while j stays, and the last test of the walk is the one
    // `calipers` repeats after it (`>= 0` there, `== 0` once the walk stopped at `<= 0`).
    let cross = |e: [i64; 2], d: [i64; 2]| e[0] * d[1] - e[1] * d[0];
    let (mut j, mut j1) = (1, 2);
    let mut dj = edge(j, j1);
    for i in 0..n {
        let i1 = next(i);
        let e = edge(i, i1);
        let mut c = cross(e, dj);
        while c > 0 {
            (j, j1) = (j1, next(j1));
            dj = edge(j, j1);
            c = cross(e, dj);
        }
        keep((i, j), out);
        keep((i1, j), out);
        if c == 0 {
            keep((i, j1), out);
            keep((i1, j1), out);
        }
    }
    max2.sqrt()
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
/// Every pair within `TIE_MM` of the longest is worked out, in both orders.
pub(crate) fn best_axes(hull: &[[f64; 2]], pairs: &[(usize, usize)]) -> Axes2 {
    let max2 = pairs.iter().map(|&p| d2(hull, p)).fold(0.0, f64::max);
    pick(hull, pairs, max2.sqrt(), None)
}

/// `best_axes` once the hull's diameter `lmax` (mm) is known, as exact calipers give it
/// (`long_pairs_i`): the same result, with the short axis worked out for a pair met before
/// in the other order only when it might beat the best so far.
///
/// A pair's two orders give the same width up to rounding: `axes_from_hull_mm` of (b, a)
/// negates u and v exactly and moves the origin along the line, so both widths round the
/// same real width, each within 7.01·u·(X + Y) of it (u = 2⁻⁵³; X, Y ≤ lmax: the hull's
/// extents, which bound every |Δx| + |Δy| and the width; each projection rounds three
/// times, relative to |Δx|·|v₀| + |Δy|·|v₁|, their difference once). So the two orders
/// are less than 29·u·lmax apart, and `32·ε·lmax` (ε = 2u) leaves room for the rounding
/// of the test that uses it.
pub(crate) fn pick_axes(hull: &[[f64; 2]], pairs: &[(usize, usize)], lmax: f64) -> Axes2 {
    pick(hull, pairs, lmax, Some(32.0 * f64::EPSILON * lmax))
}

/// `best_axes` with the long axis `lmax`: the short axis is only worked out (O(h) each)
/// for the pairs within `TIE_MM` of it, and, when the widths of a pair's two orders are
/// known to be at most `slack` apart, for its second order only when that might beat the
/// best so far.
fn pick(hull: &[[f64; 2]], pairs: &[(usize, usize)], lmax: f64, slack: Option<f64>) -> Axes2 {
    let min2 = tie2(lmax);
    let mut best: Option<Axes2> = None;
    // A pair met again (the calipers meet most pairs twice, and each twice again in the
    // opposite order) cannot beat itself. Repeats come next to each other or, where the
    // walk wraps round, after the end.
    let (mut first, mut prev) = (None, None);
    // Widths of the first pairs worked out, for their other order.
    let mut widths = [((0, 0), 0.0); 4];
    let mut n_widths = 0;
    for &p in pairs.iter().filter(|&&p| d2(hull, p) >= min2) {
        if prev == Some(p) || first == Some(p) {
            continue;
        }
        first.get_or_insert(p);
        prev = Some(p);
        if let (Some(slack), Some(b)) = (slack, &best) {
            let other = widths[..n_widths].iter().find(|w| w.0 == (p.1, p.0));
            if other.is_some_and(|&(_, w)| w + slack <= b.short_mm + TIE_MM) {
                continue; // it cannot beat `b` (`> b.short_mm + TIE_MM` below)
            }
        }
        let ax = axes_from_hull_mm(hull, hull[p.0], hull[p.1]);
        if n_widths < widths.len() {
            widths[n_widths] = (p, ax.short_mm);
            n_widths += 1;
        }
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
    let (mut kmin, mut kmax) = (0, 0);
    for (k, p) in hull.iter().enumerate() {
        let d = [p[0] - a[0], p[1] - a[1]];
        let t = d[0] * v[0] + d[1] * v[1];
        if t < tmin {
            tmin = t;
            kmin = k;
        }
        if t > tmax {
            tmax = t;
            kmax = k;
        }
    }
    let along = |p: [f64; 2]| (p[0] - a[0]) * u[0] + (p[1] - a[1]) * u[1];
    let s = (along(hull[kmin]) + along(hull[kmax])) / 2.0;
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

#[cfg(test)]
mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Levels `(y, lo, hi)` with y strictly increasing; small coordinates so that ties,
    /// collinear runs and staircases are common.
    fn levels() -> impl Strategy<Value = Vec<(i64, i64, i64)>> {
        proptest::collection::vec((1i64..4, -6i64..6, 0i64..8), 1..40).prop_map(|v| {
            let mut y = -3;
            v.into_iter()
                .map(|(dy, lo, w)| {
                    y += dy;
                    (y, lo, lo + w * (w % 3).min(1))
                })
                .collect()
        })
    }

    fn points(levels: &[(i64, i64, i64)]) -> Vec<[i64; 2]> {
        let mut pts = vec![];
        for &(y, lo, hi) in levels {
            pts.push([y, lo]);
            if hi != lo {
                pts.push([y, hi]);
            }
        }
        pts
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The two-chain hull is Andrew's chain, vertex for vertex.
        #[test]
        fn hull_levels_equals_andrews_chain(lv in levels()) {
            let (mut want, mut got) = (vec![], vec![]);
            hull_i(&points(&lv), &mut want);
            hull_levels(&lv, &mut got);
            prop_assert_eq!(got, want);
        }

        /// The hull of consecutive rows' `Edges` levels built from the rows is
        /// `hull_levels` of the levels, vertex for vertex.
        #[test]
        fn hull_edge_rows_equals_hull_of_levels(
            first_row in -5i64..5,
            rows in proptest::collection::vec(
                (prop_oneof![Just(0i64), -6i64..6], prop_oneof![Just(0i64), Just(3), 0i64..8]),
                1..30,
            ),
        ) {
            let cols: Vec<(i64, i64)> = rows.iter().map(|&(a, w)| (a, a + w)).collect();
            let with_rows = cols.iter().enumerate().map(|(k, &(a, b))| (first_row + k as i64, a, b));
            let mut lv = vec![];
            crate::measure::points::levels(with_rows, crate::measure::PointSet::Edges, &mut lv);
            let (mut want, mut got) = (vec![], vec![[9, 9]]);
            hull_levels(&lv, &mut want);
            hull_edge_rows(first_row, cols.iter().copied(), &mut got);
            prop_assert_eq!(got, want);
        }

        /// The pruned calipers and `pick_axes` give exactly what all antipodal pairs and
        /// `best_axes` give (same pair, same bits), with isotropic and anisotropic pixels.
        #[test]
        fn long_pairs_and_pick_axes_equal_best_axes(
            lv in levels(),
            dx in prop_oneof![Just(0.7), 0.2f64..2.0],
            dy in prop_oneof![Just(0.7), 0.2f64..2.0],
        ) {
            let mut h = vec![];
            hull_levels(&lv, &mut h);
            let mm: Vec<[f64; 2]> =
                h.iter().map(|p| [p[1] as f64 * dx / 2.0, p[0] as f64 * dy / 2.0]).collect();
            let mut all = vec![];
            antipodal_i(&h, &mut all);
            let want = best_axes(&mm, &all);
            let mut kept = vec![];
            let lmax = long_pairs_i(&h, &mm, &mut kept);
            prop_assert_eq!(lmax, all.iter().map(|&p| d2(&mm, p)).fold(0.0, f64::max).sqrt());
            prop_assert_eq!(pick_axes(&mm, &kept, lmax), want);
        }

        /// On hulls symmetric about both axes (several equally long pairs, each met in
        /// both orders) `pick_axes` gives exactly what `best_axes` (every pair in both
        /// orders) gives, near the origin and far from it.
        #[test]
        fn pick_axes_equals_every_pair_on_symmetric_hulls(
            half in proptest::collection::vec((1i64..4, 0i64..9), 0..12),
            w0 in 0i64..9,
            dx in prop_oneof![Just(0.7), 0.2f64..2.0],
            dy in prop_oneof![Just(0.7), 0.2f64..2.0],
            offset in prop_oneof![Just([0.0, 0.0]), (-1e3f64..1e3, -1e3f64..1e3).prop_map(|(a, b)| [a, b])],
        ) {
            let mut y = 0;
            let mut upper = vec![];
            for (step, w) in half {
                y += step;
                upper.push((y, -w, w));
            }
            let lv: Vec<(i64, i64, i64)> = upper
                .iter()
                .rev()
                .map(|&(y, lo, hi)| (-y, lo, hi))
                .chain([(0, -w0, w0)])
                .chain(upper.iter().copied())
                .collect();
            let mut h = vec![];
            hull_levels(&lv, &mut h);
            let mm: Vec<[f64; 2]> = h
                .iter()
                .map(|p| [p[1] as f64 * dx / 2.0 + offset[0], p[0] as f64 * dy / 2.0 + offset[1]])
                .collect();
            let mut all = vec![];
            antipodal_i(&h, &mut all);
            let lmax = all.iter().map(|&p| d2(&mm, p)).fold(0.0, f64::max).sqrt();
            prop_assert_eq!(pick_axes(&mm, &all, lmax), best_axes(&mm, &all));
        }
    }
}
