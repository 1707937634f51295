//! Long and short axis of a mask lesion: runs → 3D components → per-slice hull → calipers.
//!
//! The lesion's pixels are read once, into horizontal runs on a common pixel grid (the
//! first slice's); the usual lesion (one slice per plane, one run per row, one component)
//! is read straight into rows instead (`scan_simple`), and only a lesion that turns out
//! otherwise is read again into runs. Runs are joined into 26-connected components with a union–find (skipped
//! when every section is one run per row and everything touches: one component), then
//! each component's rows on each slice give the row extremes that the hull needs
//! (see `points`). A one-component lesion's planes whose diameter bounds show they cannot
//! be the best get no hull (`best_plane`); the result is the same as measuring every
//! plane. Working memory is a few vectors proportional to the number of runs, reused
//! across lesions through `Scratch`.

use std::ops::Range;

use super::geometry::{
    GridCache, V3, comb, cross, dot, norm, validate_grid, validate_grid_cached, validate_grid_like,
};
use super::hull::{Axes2, TIE_MM, hull_edge_rows, hull_levels, long_pairs_i, pick_axes};
use super::points::{
    BoundGeom, Extents, RowRun, first_nonzero, levels, next_nonzero, next_zero, row_extent, row_run,
};
use super::{MaskLesion, MaskSlice, MeasureError, MeasureOptions, Measurement, PointSet};

/// Two slices closer than this along the normal are the same plane (their masks are OR-ed).
const SAME_PLANE_MM: f64 = 1e-2;
/// Normals whose cross product is longer than this are not parallel.
const PARALLEL_TOL: f64 = 1e-3;
/// In-plane origin offsets must be whole pixels within this fraction of a pixel.
const GRID_TOL_PX: f64 = 0.05;
/// Consecutive slices are adjacent (for 3D connectivity) up to this many slice spacings.
const ADJACENT_SPACINGS: f64 = 1.5;

/// The long and short axis of one slice's point set, in patient mm.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceAxes {
    pub long_axis_mm: f64,
    /// Caliper width of the point set perpendicular to the long axis.
    pub short_axis_mm: f64,
    /// Position of the slice along the plane normal `row_dir × col_dir` (mm).
    pub position_mm: f64,
    pub long_axis: [[f64; 3]; 2],
    pub short_axis: [[f64; 3]; 2],
}

impl SliceAxes {
    /// The measurement of a lesion that is one component (nothing dropped), whose best
    /// slice this is.
    pub(crate) fn single_component(self) -> Measurement {
        Measurement {
            long_axis_mm: self.long_axis_mm,
            short_axis_mm: self.short_axis_mm,
            slice_position_mm: Some(self.position_mm),
            n_components: 1,
            dropped_components: 0,
            long_axis: Some(self.long_axis),
            short_axis: Some(self.short_axis),
        }
    }
}

/// Reusable working memory for measuring masks (one per worker thread).
#[derive(Debug, Default)]
pub struct Scratch {
    runs: Vec<Run>,
    rows: Vec<RowIdx>,
    planes: Vec<Plane>,
    order: Vec<(f64, usize)>,
    parent: Vec<usize>,
    comp_of: Vec<usize>,
    tagged: Vec<(usize, i64, i64, i64)>,
    levels: Vec<(i64, i64, i64)>,
    hull: Vec<[i64; 2]>,
    hull_mm: Vec<[f64; 2]>,
    pairs: Vec<(usize, usize)>,
    /// `BoundGeom` of the last pixel spacing `(dx, dy)` seen (by bits): a worker's
    /// lesions mostly share one.
    bound_geom: Option<([u64; 2], BoundGeom)>,
    /// Normal of the last first-slice grid validated.
    grid: GridCache,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    row: i64,
    c0: i64,
    c1: i64,
}

#[derive(Debug, Clone, Copy)]
struct RowIdx {
    row: i64,
    /// First and last inside column of the row (all its runs).
    lo: i64,
    hi: i64,
    runs: (usize, usize),
}

#[derive(Debug, Clone)]
struct Plane {
    pos: f64,
    rows: Range<usize>,
    /// One run per row, on consecutive rows that touch: one 8-connected component.
    simple: bool,
    /// Coarse `Extents` of the plane's rows, for its diameter bounds.
    coarse: Extents,
}

/// Geometry shared by all slices of a lesion (taken from the first slice).
#[derive(Debug, Clone, Copy)]
struct Frame {
    origin: V3,
    row: V3,
    col: V3,
    normal: V3,
    /// Column spacing (along `row`), row spacing (along `col`).
    dx: f64,
    dy: f64,
    pos0: f64,
}

impl Frame {
    fn new(g: &super::PlaneGrid, normal: V3) -> Frame {
        Frame {
            origin: g.origin,
            row: g.row_dir,
            col: g.col_dir,
            normal,
            dx: g.spacing[1],
            dy: g.spacing[0],
            pos0: dot(g.origin, normal),
        }
    }

    /// Patient point of in-plane mm coordinates `[x, y]` on the plane at `pos`.
    fn patient(&self, p: [f64; 2], pos: f64) -> V3 {
        let o = comb(self.origin, p[0], self.row, p[1], self.col);
        let k = pos - self.pos0;
        [
            o[0] + k * self.normal[0],
            o[1] + k * self.normal[1],
            o[2] + k * self.normal[2],
        ]
    }

    fn slice_axes(&self, ax: &Axes2, pos: f64) -> SliceAxes {
        SliceAxes {
            long_axis_mm: ax.long_mm,
            short_axis_mm: ax.short_mm,
            position_mm: pos,
            long_axis: [self.patient(ax.long[0], pos), self.patient(ax.long[1], pos)],
            short_axis: [
                self.patient(ax.short[0], pos),
                self.patient(ax.short[1], pos),
            ],
        }
    }
}

/// Hull + calipers over rows `(row, cmin, cmax)` (increasing rows) of one slice. `None`
/// when the slice is empty, or when its long axis is more than `TIE_MM` shorter than
/// `beat`'s: such a slice loses to `beat` in `better` whatever its short axis, so the
/// short axis (O(h) per tied pair) is not worked out.
fn axes_of_rows(
    rows: impl Iterator<Item = (i64, i64, i64)>,
    set: PointSet,
    dx: f64,
    dy: f64,
    beat: Option<&SliceAxes>,
    s: &mut ScratchGeom<'_>,
) -> Option<Axes2> {
    levels(rows, set, s.levels);
    if s.levels.is_empty() {
        return None;
    }
    hull_levels(s.levels, s.hull);
    axes_of_hull(dx, dy, beat, s)
}

/// `axes_of_rows` once the slice's hull is in `s.hull`.
fn axes_of_hull(
    dx: f64,
    dy: f64,
    beat: Option<&SliceAxes>,
    s: &mut ScratchGeom<'_>,
) -> Option<Axes2> {
    s.hull_mm.clear();
    s.hull_mm.extend(
        s.hull
            .iter()
            .map(|p| [p[1] as f64 * dx / 2.0, p[0] as f64 * dy / 2.0]),
    );
    let lmax = long_pairs_i(s.hull, s.hull_mm, s.pairs);
    // The slice's long axis is at most `lmax` (a pair within TIE_MM of it may be chosen).
    if beat.is_some_and(|b| b.long_axis_mm - lmax > TIE_MM) {
        return None;
    }
    Some(pick_axes(s.hull_mm, s.pairs, lmax))
}

/// Borrow of the geometric part of `Scratch`, so runs can be read while hulls are built.
struct ScratchGeom<'a> {
    levels: &'a mut Vec<(i64, i64, i64)>,
    hull: &'a mut Vec<[i64; 2]>,
    hull_mm: &'a mut Vec<[f64; 2]>,
    pairs: &'a mut Vec<(usize, usize)>,
}

/// Long and short axis of one slice's whole mask (all components together): pyradiomics'
/// per-slice `Maximum2DDiameter` with `PointSet::Edges`, ITK's 2D Feret diameter with
/// `PointSet::Centers`. `None` when the slice is empty.
pub fn measure_slice(
    slice: &MaskSlice,
    point_set: PointSet,
) -> Result<Option<SliceAxes>, MeasureError> {
    let normal = validate_grid(&slice.grid, slice.mask.len())?;
    let frame = Frame::new(&slice.grid, normal);
    let cols = slice.grid.cols;
    let mut scratch = Scratch::default();
    let rows = (0..slice.grid.rows).filter_map(|r| {
        let row = &slice.mask[r * cols..(r + 1) * cols];
        row_extent(row).map(|(a, b)| (r as i64, a as i64, b as i64))
    });
    let mut geom = ScratchGeom {
        levels: &mut scratch.levels,
        hull: &mut scratch.hull,
        hull_mm: &mut scratch.hull_mm,
        pairs: &mut scratch.pairs,
    };
    Ok(
        axes_of_rows(rows, point_set, frame.dx, frame.dy, None, &mut geom)
            .map(|ax| frame.slice_axes(&ax, frame.pos0)),
    )
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        // Keep the smaller index as root: roots then appear in scan order.
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi] = lo;
    }
}

/// Unions the 8-/26-connected runs of two sorted run lists (columns touching diagonally
/// count: a run spans c0−1..c1+1 in the neighbouring row).
fn join_rows(parent: &mut [usize], runs: &[Run], a: (usize, usize), b: (usize, usize)) {
    let (mut i, mut j) = (a.0, b.0);
    while i < a.1 && j < b.1 {
        let (ra, rb) = (runs[i], runs[j]);
        if ra.c0 <= rb.c1 + 1 && rb.c0 <= ra.c1 + 1 {
            union(parent, i, j);
        }
        if ra.c1 < rb.c1 { i += 1 } else { j += 1 }
    }
}

/// Appends the runs of a row-major mask `cols` wide, from `a` (a non-zero byte) on, as
/// runs on the frame's grid (`shift`: the slice's whole-pixel offset on it). The mask is
/// scanned as one byte string, eight bytes at a time across row ends (narrow crops are
/// mostly row ends), and a run is cut where it crosses one.
fn scan_runs(mask: &[u8], mut a: usize, cols: usize, shift: (i64, i64), runs: &mut Vec<Run>) {
    let (dr, dc) = shift;
    let mut r = a / cols;
    let mut start = r * cols;
    loop {
        let b = next_zero(mask, a);
        while a < b {
            while a >= start + cols {
                r += 1;
                start += cols;
            }
            let e = b.min(start + cols);
            runs.push(Run {
                row: r as i64 + dr,
                c0: (a - start) as i64 + dc,
                c1: (e - start) as i64 - 1 + dc,
            });
            a = e;
        }
        match next_nonzero(mask, b) {
            Some(n) => a = n,
            None => return,
        }
    }
}

/// Whether the runs are one 26-connected component without a union–find: every plane is
/// `simple`, and each plane touches the one before and is adjacent to it (gap ≤
/// `adjacent_mm`). True for most lesions (convex sections); `false` sends the lesion
/// through the union–find, which decides exactly.
fn one_component(planes: &[Plane], rows: &[RowIdx], adjacent_mm: f64) -> bool {
    planes.iter().all(|p| p.simple)
        && planes.windows(2).all(|w| {
            let (pr, rs) = (&rows[w[0].rows.clone()], &rows[w[1].rows.clone()]);
            // Both planes hold consecutive rows: row y of `pr` is `pr[y − pr[0].row]`.
            w[1].pos - w[0].pos <= adjacent_mm
                && rs.iter().any(|r| {
                    (r.row - 1..=r.row + 1).any(|y| {
                        usize::try_from(y - pr[0].row)
                            .ok()
                            .and_then(|i| pr.get(i))
                            .is_some_and(|q| q.lo <= r.hi + 1 && r.lo <= q.hi + 1)
                    })
                })
        })
}

/// One past the last slice of the plane that starts at `order[k]`: the slices (sorted by
/// position) within `SAME_PLANE_MM` of it. `build_runs` and `scan_simple` group planes so.
fn plane_end(order: &[(f64, usize)], k: usize) -> usize {
    let pos = order[k].0;
    k + order[k..]
        .iter()
        .take_while(|&&(p, _)| p - pos <= SAME_PLANE_MM)
        .count()
}

/// Runs, rows and planes of any lesion on the frame's grid (slices on one plane OR-ed).
fn build_runs(sc: &mut Scratch, lesion: &MaskLesion, frame: &Frame) -> Result<(), MeasureError> {
    sc.runs.clear();
    sc.rows.clear();
    sc.planes.clear();
    let mut k = 0;
    while k < sc.order.len() {
        let (pos, plane) = (sc.order[k].0, k..plane_end(&sc.order, k));
        k = plane.end;
        let run_start = sc.runs.len();
        let mut n_slices = 0;
        for j in plane {
            let idx = sc.order[j].1;
            let s = &lesion.slices[idx];
            // Empty slices need no place on the frame's grid (and may have none).
            let Some(first) = first_nonzero(&s.mask) else {
                continue;
            };
            let shift = grid_shift(frame, s, idx)?;
            scan_runs(&s.mask, first, s.grid.cols, shift, &mut sc.runs);
            n_slices += 1;
        }
        if sc.runs.len() == run_start {
            continue;
        }
        if n_slices > 1 {
            // Several slices on one plane: OR them (sort, then merge touching runs).
            let plane_runs = &mut sc.runs[run_start..];
            plane_runs.sort_by(|a, b| a.row.cmp(&b.row).then(a.c0.cmp(&b.c0)));
            let mut w = run_start;
            for i in run_start..sc.runs.len() {
                let r = sc.runs[i];
                if w > run_start && sc.runs[w - 1].row == r.row && r.c0 <= sc.runs[w - 1].c1 + 1 {
                    sc.runs[w - 1].c1 = sc.runs[w - 1].c1.max(r.c1);
                } else {
                    sc.runs[w] = r;
                    w += 1;
                }
            }
            sc.runs.truncate(w);
        }
        let row_start = sc.rows.len();
        let mut simple = true;
        let mut coarse = Extents::empty(false);
        let mut i = run_start;
        while i < sc.runs.len() {
            let row = sc.runs[i].row;
            let mut j = i + 1;
            while j < sc.runs.len() && sc.runs[j].row == row {
                j += 1;
            }
            let (lo, hi) = (sc.runs[i].c0, sc.runs[j - 1].c1);
            simple &= j == i + 1;
            coarse.add(row, lo, hi);
            if sc.rows.len() > row_start {
                let last = sc.rows[sc.rows.len() - 1];
                simple &= last.row + 1 == row && last.lo <= hi + 1 && lo <= last.hi + 1;
            }
            sc.rows.push(RowIdx {
                row,
                lo,
                hi,
                runs: (i, j),
            });
            i = j;
        }
        sc.planes.push(Plane {
            pos,
            rows: row_start..sc.rows.len(),
            simple,
            coarse,
        });
    }

    Ok(())
}

/// Rows and planes of the usual lesion in one pass over its masks, without runs: `true`
/// when every plane is one slice whose rows are one run each, on consecutive rows that
/// touch (every plane `simple`, as `build_runs` would find it), with the same rows and
/// planes as `build_runs`. `false` as soon as a plane is not (two slices on it, two runs in
/// a row, a gap or a break between rows), leaving `build_runs` to start over; the
/// union–find needs runs, the usual lesion does not. Grid errors are `build_runs`'
/// (same slices, same order).
fn scan_simple(sc: &mut Scratch, lesion: &MaskLesion, frame: &Frame) -> Result<bool, MeasureError> {
    sc.runs.clear();
    sc.rows.clear();
    sc.planes.clear();
    let mut k = 0;
    while k < sc.order.len() {
        let (pos, plane) = (sc.order[k].0, k..plane_end(&sc.order, k));
        k = plane.end;
        let row_start = sc.rows.len();
        for j in plane {
            let idx = sc.order[j].1;
            let s = &lesion.slices[idx];
            let Some(a) = first_nonzero(&s.mask) else {
                continue;
            };
            if sc.rows.len() > row_start {
                return Ok(false); // a second slice on the plane
            }
            let (dr, dc) = grid_shift(frame, s, idx)?;
            if !simple_rows(&s.mask, a, s.grid.cols, (dr, dc), &mut sc.rows) {
                return Ok(false);
            }
        }
        if sc.rows.len() > row_start {
            // A loop of its own: folded into the scan, it starves that of registers.
            let rows = &sc.rows[row_start..];
            let (first, last) = (rows[0].row, rows[rows.len() - 1].row);
            let coarse =
                Extents::of_rows_in_order(rows.iter().map(|r| (r.row, r.lo, r.hi)), first, last);
            sc.planes.push(Plane {
                pos,
                rows: row_start..sc.rows.len(),
                simple: true,
                coarse,
            });
        }
    }
    Ok(true)
}

/// Appends the rows of a slice's row-major mask `cols` wide, from `a` (its first
/// non-zero byte) on, as `RowIdx`es on the frame's grid (`shift`: the slice's whole-pixel
/// offset on it): `true` when they are one run each, on consecutive rows that touch (a
/// `simple` plane), else `false` at the first row that is not.
fn simple_rows(
    mask: &[u8],
    a: usize,
    cols: usize,
    (dr, dc): (i64, i64),
    rows: &mut Vec<RowIdx>,
) -> bool {
    let first = rows.len();
    // Appends row `row`'s run `lo..=hi` (mask columns); `false` when it does not touch
    // the row before.
    let mut push = |row: i64, lo: usize, hi: usize| {
        let (lo, hi) = (lo as i64 + dc, hi as i64 + dc);
        if rows.len() > first {
            let last = rows[rows.len() - 1];
            if !(last.lo <= hi + 1 && lo <= last.hi + 1) {
                return false;
            }
        }
        rows.push(RowIdx {
            row,
            lo,
            hi,
            runs: (0, 0),
        });
        true
    };
    let mut row = (a / cols) as i64 + dr;
    let mut start = a - a % cols;
    if (8..=64).contains(&cols) {
        // A crop: row by row (`row_run`: a word or two each) up to the first empty row,
        // after which the slice must be empty.
        while start < mask.len() {
            match row_run(&mask[start..start + cols]) {
                RowRun::One(lo, hi) if push(row, lo, hi) => {}
                RowRun::Empty => return next_nonzero(mask, start).is_none(),
                _ => return false,
            }
            start += cols;
            row += 1;
        }
        return true;
    }
    // Wide rows (mostly zeros): as `scan_runs`, the mask as one byte string, from each
    // run's start to its end and on to the next run's start, across row ends.
    let mut a = a;
    loop {
        let end = start + cols;
        let e = next_zero(mask, a).min(end);
        if !push(row, a - start, e - 1 - start) {
            return false;
        }
        match next_nonzero(mask, e) {
            None => return true,
            // The next run starts on the next row.
            Some(n) if n >= end && n < end + cols => a = n,
            // A second run in the row, or a gap after it.
            Some(_) => return false,
        }
        start = end;
        row += 1;
    }
}

/// One component's running result.
#[derive(Debug, Clone, Default)]
struct Comp {
    voxels: u64,
    best: Option<SliceAxes>,
}

pub(crate) fn better(new: &SliceAxes, old: &Option<SliceAxes>) -> bool {
    match old {
        None => true,
        Some(o) => {
            new.long_axis_mm > o.long_axis_mm + TIE_MM
                || ((new.long_axis_mm - o.long_axis_mm).abs() <= TIE_MM
                    && new.short_axis_mm > o.short_axis_mm + TIE_MM)
        }
    }
}

/// Validates every slice and returns the lesion frame (first slice) or `None` when there
/// are no slices.
fn check_slices(
    slices: &[MaskSlice],
    cache: &mut GridCache,
) -> Result<Option<Frame>, MeasureError> {
    let mut frame: Option<Frame> = None;
    for (k, s) in slices.iter().enumerate() {
        let n = match frame.as_ref() {
            None => validate_grid_cached(&s.grid, s.mask.len(), cache),
            Some(f) => validate_grid_like(&s.grid, s.mask.len(), Some((&slices[0].grid, f.normal))),
        }
        .map_err(|e| prefix(e, &format!("slice {k}")))?;
        match &frame {
            None => frame = Some(Frame::new(&s.grid, n)),
            Some(f) => {
                let c = norm(cross(n, f.normal));
                if c > PARALLEL_TOL {
                    return Err(MeasureError::NotParallel(format!(
                        "slice {k} normal {n:?} differs from slice 0 normal {:?} (|n×n0| = {c:.2e})",
                        f.normal
                    )));
                }
            }
        }
    }
    Ok(frame)
}

fn prefix(e: MeasureError, what: &str) -> MeasureError {
    match e {
        MeasureError::InvalidGeometry(m) => MeasureError::InvalidGeometry(format!("{what}: {m}")),
        other => other,
    }
}

/// Whole-pixel offset `(rows, cols)` of a slice's grid on the lesion frame.
fn grid_shift(f: &Frame, s: &MaskSlice, k: usize) -> Result<(i64, i64), MeasureError> {
    let g = &s.grid;
    let same_dir = |a: V3, b: V3| norm(super::geometry::sub(a, b)) <= PARALLEL_TOL;
    let same_sp = |a: f64, b: f64| (a - b).abs() <= 1e-4 * b;
    // Equal directions and spacing (most slices) pass the tests below: skip their roots.
    let equal = g.row_dir == f.row && g.col_dir == f.col && g.spacing == [f.dy, f.dx];
    if !equal
        && (!same_dir(g.row_dir, f.row)
            || !same_dir(g.col_dir, f.col)
            || !same_sp(g.spacing[1], f.dx)
            || !same_sp(g.spacing[0], f.dy))
    {
        return Err(MeasureError::InvalidGeometry(format!(
            "slice {k} uses a different in-plane pixel grid (orientation or spacing) than slice 0; \
             3D components need one grid"
        )));
    }
    let d = super::geometry::sub(g.origin, f.origin);
    let dc = dot(d, f.row) / f.dx;
    let dr = dot(d, f.col) / f.dy;
    if dc == 0.0 && dr == 0.0 {
        // Slices stacked straight along the normal (most): what the tests below give.
        return Ok((0, 0));
    }
    let (rc, rr) = (dc.round(), dr.round());
    if (dc - rc).abs() > GRID_TOL_PX || (dr - rr).abs() > GRID_TOL_PX {
        return Err(MeasureError::InvalidGeometry(format!(
            "slice {k} origin is offset by ({dr:.3}, {dc:.3}) pixels from slice 0, not whole pixels"
        )));
    }
    let far = (4 * super::geometry::MAX_SIDE) as f64;
    if dr.abs() > far || dc.abs() > far {
        return Err(MeasureError::InvalidGeometry(format!(
            "slice {k} origin is {dr:.0} rows, {dc:.0} columns away from slice 0"
        )));
    }
    Ok((rr as i64, rc as i64))
}

/// Long and short axis of a mask lesion; see `measure_mask` for the rules.
pub(crate) fn measure_mask_in(
    sc: &mut Scratch,
    lesion: &MaskLesion,
    opts: &MeasureOptions,
    slice_spacing_mm: Option<f64>,
) -> Result<Measurement, MeasureError> {
    measure_mask_pruned(sc, lesion, opts, slice_spacing_mm, true, true)
}

/// `measure_mask_in`; `prune = false` measures every plane of a one-component lesion,
/// `scan_fast = false` always builds runs (the references the shortcuts are tested
/// against).
fn measure_mask_pruned(
    sc: &mut Scratch,
    lesion: &MaskLesion,
    opts: &MeasureOptions,
    slice_spacing_mm: Option<f64>,
    prune: bool,
    scan_fast: bool,
) -> Result<Measurement, MeasureError> {
    if !(opts.min_component_mm3.is_finite() && opts.min_component_mm3 >= 0.0) {
        return Err(MeasureError::InvalidGeometry(format!(
            "min_component_mm3 = {} is not a non-negative number",
            opts.min_component_mm3
        )));
    }
    let Some(frame) = check_slices(&lesion.slices, &mut sc.grid)? else {
        return Ok(Measurement::default());
    };

    // Slice positions (all slices: empty frames still tell the slice spacing).
    sc.order.clear();
    for (k, s) in lesion.slices.iter().enumerate() {
        sc.order.push((dot(s.grid.origin, frame.normal), k));
    }
    sc.order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let spacing = match slice_spacing_mm {
        Some(h) if h.is_finite() && h > 0.0 => h,
        Some(h) => {
            return Err(MeasureError::InvalidGeometry(format!(
                "slice spacing {h} is not a positive finite number"
            )));
        }
        None => sc
            .order
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .filter(|g| *g > SAME_PLANE_MM)
            .fold(f64::INFINITY, f64::min),
    };
    let spacing = if spacing.is_finite() {
        spacing
    } else {
        // One plane only: nothing tells the spacing; assume cubic voxels for the volume
        // filter (pass the series spacing through `measure_mask_spaced` to be exact).
        (frame.dx + frame.dy) / 2.0
    };

    // Rows per plane, on the frame's grid: first in one pass for the usual lesion (one
    // slice per plane, one run per row, one component), else through runs.
    let adjacent_mm = ADJACENT_SPACINGS * spacing;
    let mut one = scan_fast
        && scan_simple(sc, lesion, &frame)?
        && one_component(&sc.planes, &sc.rows, adjacent_mm);
    if !one {
        build_runs(sc, lesion, &frame)?;
        one = one_component(&sc.planes, &sc.rows, adjacent_mm);
    }
    if sc.planes.is_empty() {
        return Ok(Measurement::default());
    }

    // 26-connected components over runs.
    let mut comps: Vec<Comp> = Vec::new();
    if one {
        let geom = ScratchGeom {
            levels: &mut sc.levels,
            hull: &mut sc.hull,
            hull_mm: &mut sc.hull_mm,
            pairs: &mut sc.pairs,
        };
        let (planes, rows, bg) = (&sc.planes, &sc.rows, &mut sc.bound_geom);
        let best = best_plane(planes, rows, &frame, opts.point_set, prune, geom, bg);
        // One component is kept whatever its volume: `assemble` without its vectors.
        if let Some(b) = best {
            return Ok(b.single_component());
        }
        // (Unreachable: a plane always has axes.) One run per row: rows count the voxels.
        let voxels = sc.rows.iter().map(|r| (r.hi - r.lo + 1) as u64).sum();
        comps.push(Comp { voxels, best });
    } else {
        sc.parent.clear();
        sc.parent.extend(0..sc.runs.len());
        for p in 0..sc.planes.len() {
            let rows = &sc.rows[sc.planes[p].rows.clone()];
            for w in rows.windows(2) {
                if w[1].row == w[0].row + 1 {
                    join_rows(&mut sc.parent, &sc.runs, w[0].runs, w[1].runs);
                }
            }
            if p > 0 && sc.planes[p].pos - sc.planes[p - 1].pos <= adjacent_mm {
                // Rows r − 1, r, r + 1 of the previous plane, found by walking both row
                // lists (both sorted) in step.
                let prev = &sc.rows[sc.planes[p - 1].rows.clone()];
                let mut q = 0;
                for r in rows {
                    while q < prev.len() && prev[q].row < r.row - 1 {
                        q += 1;
                    }
                    for pr in prev[q..].iter().take_while(|pr| pr.row <= r.row + 1) {
                        join_rows(&mut sc.parent, &sc.runs, r.runs, pr.runs);
                    }
                }
            }
        }
        sc.comp_of.clear();
        sc.comp_of.resize(sc.runs.len(), usize::MAX);
        for i in 0..sc.runs.len() {
            let root = find(&mut sc.parent, i);
            let id = if root == i {
                comps.push(Comp::default());
                comps.len() - 1
            } else {
                sc.comp_of[root]
            };
            sc.comp_of[i] = id;
            comps[id].voxels += (sc.runs[i].c1 - sc.runs[i].c0 + 1) as u64;
        }
    }

    // Per component and plane: row extremes → hull → axes.
    let mut geom = ScratchGeom {
        levels: &mut sc.levels,
        hull: &mut sc.hull,
        hull_mm: &mut sc.hull_mm,
        pairs: &mut sc.pairs,
    };
    if comps.len() == 1 {
        let set = opts.point_set;
        let (planes, rows, bg) = (&sc.planes, &sc.rows, &mut sc.bound_geom);
        comps[0].best = best_plane(planes, rows, &frame, set, prune, geom, bg);
        return Ok(assemble(comps, frame.dx * frame.dy * spacing, opts));
    }

    for plane in &sc.planes {
        let rows = &sc.rows[plane.rows.clone()];
        let first = rows[0].runs.0;
        let last = rows[rows.len() - 1].runs.1;
        sc.tagged.clear();
        sc.tagged.extend(
            (first..last).map(|i| (sc.comp_of[i], sc.runs[i].row, sc.runs[i].c0, sc.runs[i].c1)),
        );
        sc.tagged.sort_unstable();
        let mut i = 0;
        while i < sc.tagged.len() {
            let id = sc.tagged[i].0;
            let mut j = i;
            while j < sc.tagged.len() && sc.tagged[j].0 == id {
                j += 1;
            }
            let group = &sc.tagged[i..j];
            // Within a component and row the runs are sorted by c0: extremes are the first
            // c0 and the largest c1.
            let mut g = 0;
            let it = std::iter::from_fn(|| {
                if g >= group.len() {
                    return None;
                }
                let row = group[g].1;
                let c0 = group[g].2;
                let mut c1 = group[g].3;
                g += 1;
                while g < group.len() && group[g].1 == row {
                    c1 = c1.max(group[g].3);
                    g += 1;
                }
                Some((row, c0, c1))
            });
            let beat = comps[id].best.as_ref();
            if let Some(ax) = axes_of_rows(it, opts.point_set, frame.dx, frame.dy, beat, &mut geom)
            {
                let sa = frame.slice_axes(&ax, plane.pos);
                if better(&sa, &comps[id].best) {
                    comps[id].best = Some(sa);
                }
            }
            i = j;
        }
    }
    Ok(assemble(comps, frame.dx * frame.dy * spacing, opts))
}

/// The best plane of a one-component lesion: the result of taking the planes in order and
/// keeping the `better` one, as the multi-component path does, with less work. Each plane
/// has cheap bounds on its long axis (`BoundGeom::bounds`); a plane whose bound is more
/// than `TIE_MM` under the best long axis so far gets no hull. Before any plane is
/// measured, the first plane is held by its bounds alone, and replaced by the next one
/// while that one's lower bound is more than `TIE_MM` over the held one's upper bound.
/// Every decision taken on bounds is the one the sequential fold takes on the axes: its
/// tests (`new > old + TIE_MM`, `old − new > TIE_MM`) hold for every length within the
/// bounds. So the growing sections of a round lesion, like the shrinking ones, are mostly
/// never measured. `prune = false` measures every plane (the reference in tests).
fn best_plane(
    planes: &[Plane],
    rows: &[RowIdx],
    frame: &Frame,
    set: PointSet,
    prune: bool,
    mut geom: ScratchGeom<'_>,
    bound_geom: &mut Option<([u64; 2], BoundGeom)>,
) -> Option<SliceAxes> {
    let (dx, dy) = (frame.dx, frame.dy);
    let mut exact = |p: usize, beat: Option<&SliceAxes>| {
        let (plane, geom) = (&planes[p], &mut geom);
        let rows = &rows[plane.rows.clone()];
        let ax = if set == PointSet::Edges && plane.simple {
            // Consecutive rows: the hull straight from their extremes.
            hull_edge_rows(rows[0].row, rows.iter().map(|r| (r.lo, r.hi)), geom.hull);
            axes_of_hull(dx, dy, beat, geom)
        } else {
            let it = rows.iter().map(|r| (r.row, r.lo, r.hi));
            axes_of_rows(it, set, dx, dy, beat, geom)
        };
        ax.map(|ax| frame.slice_axes(&ax, plane.pos))
    };
    if !prune {
        let mut best = None;
        for p in 0..planes.len() {
            if let Some(sa) = exact(p, best.as_ref())
                && better(&sa, &best)
            {
                best = Some(sa);
            }
        }
        return best;
    }
    let key = [dx.to_bits(), dy.to_bits()];
    let bg = match bound_geom {
        Some((k, bg)) if *k == key => bg,
        _ => &bound_geom.insert((key, BoundGeom::new(dx, dy))).1,
    };
    // Bounds of plane p, coarse first and fine when a decision needs them. `pick_axes` may
    // choose a pair up to `TIE_MM` shorter than the calipers' longest, hence the floor's
    // margin.
    let bounds = |p: usize, fine: bool| {
        let (floor, bound) = if fine {
            let it = rows[planes[p].rows.clone()]
                .iter()
                .map(|r| (r.row, r.lo, r.hi));
            bg.bounds(&planes[p].coarse.refine(it), set)
        } else {
            bg.bounds(&planes[p].coarse, set)
        };
        Bounds {
            floor: floor - 2.0 * TIE_MM,
            bound,
            fine,
        }
    };
    let mut best: Option<SliceAxes> = None;
    // The plane standing as best while only its bounds are known.
    let mut held: Option<(usize, Bounds)> = None;
    for p in 0..planes.len() {
        let mut bp = bounds(p, false);
        if let Some(b) = &best {
            let loses = |bp: &Bounds| b.long_axis_mm - bp.bound > TIE_MM;
            if loses(&bp) || loses(&bounds(p, true)) {
                continue;
            }
            if let Some(sa) = exact(p, Some(b))
                && better(&sa, &best)
            {
                best = Some(sa);
            }
            continue;
        }
        let Some((k, mut bk)) = held else {
            held = Some((p, bp));
            continue;
        };
        let mut decided = false;
        for fine in [false, true] {
            if fine {
                bp = bounds(p, true);
                if !bk.fine {
                    bk = bounds(k, true);
                    held = Some((k, bk));
                }
            }
            if bk.floor - bp.bound > TIE_MM {
                decided = true; // p loses to k whatever their axes
                break;
            }
            if bp.floor - bk.bound > TIE_MM {
                held = Some((p, bp)); // k loses to p whatever their axes
                decided = true;
                break;
            }
        }
        if decided {
            continue;
        }
        held = None;
        best = exact(k, None);
        if let Some(sa) = exact(p, best.as_ref())
            && better(&sa, &best)
        {
            best = Some(sa);
        }
    }
    if let Some((k, _)) = held {
        best = exact(k, None);
    }
    best
}

/// Bounds on a plane's long axis as `pick_axes` reports it (mm).
#[derive(Debug, Clone, Copy)]
struct Bounds {
    floor: f64,
    bound: f64,
    /// From all eight directions of `Extents`.
    fine: bool,
}

/// RECIST fragmentation: the kept components' long axes add up; the short axis, slice and
/// end points are those of the component with the longest long axis (ties: more voxels).
/// Components under the volume threshold are dropped, unless all are, in which case the
/// largest by volume is kept: the filter removes specks, never the lesion itself.
fn assemble(comps: Vec<Comp>, voxel_mm3: f64, opts: &MeasureOptions) -> Measurement {
    let total = comps.len();
    let mut kept: Vec<Comp> = Vec::with_capacity(total);
    let mut largest: Option<Comp> = None;
    for c in comps {
        if c.voxels as f64 * voxel_mm3 >= opts.min_component_mm3 {
            kept.push(c);
        } else if largest.as_ref().is_none_or(|l| c.voxels > l.voxels) {
            largest = Some(c);
        }
    }
    if kept.is_empty() {
        kept.extend(largest);
    }
    let long_axis_mm = kept
        .iter()
        .filter_map(|c| c.best.as_ref())
        .map(|b| b.long_axis_mm)
        .sum();
    let primary = kept
        .iter()
        .filter_map(|c| c.best.as_ref().map(|b| (b, c.voxels)))
        .max_by(|a, b| {
            a.0.long_axis_mm
                .total_cmp(&b.0.long_axis_mm)
                .then(a.1.cmp(&b.1))
        })
        .map(|(b, _)| b.clone());
    Measurement {
        long_axis_mm,
        short_axis_mm: primary.as_ref().map_or(0.0, |b| b.short_axis_mm),
        slice_position_mm: primary.as_ref().map(|b| b.position_mm),
        n_components: kept.len(),
        dropped_components: total - kept.len(),
        long_axis: primary.as_ref().map(|b| b.long_axis),
        short_axis: primary.as_ref().map(|b| b.short_axis),
    }
}

#[cfg(test)]
mod prop {
    use super::*;
    use crate::measure::PlaneGrid;
    use proptest::prelude::*;

    /// A stack of filled discs (centre, radii in pixels; repeats and near-equal sizes make
    /// ties between slices common), sometimes with a stray pixel.
    fn lesion(
        discs: &[(f64, f64, f64, f64)],
        stray: Option<(usize, usize)>,
        dx: f64,
        dy: f64,
    ) -> MaskLesion {
        const N: usize = 16;
        let slices = discs
            .iter()
            .enumerate()
            .map(|(z, &(cy, cx, ry, rx))| {
                let mut mask = vec![0u8; N * N];
                for r in 0..N {
                    for c in 0..N {
                        let (u, v) = ((r as f64 - cy) / ry, (c as f64 - cx) / rx);
                        mask[r * N + c] = u8::from(u * u + v * v <= 1.0);
                    }
                }
                if let Some((r, c)) = stray.filter(|_| z == 0) {
                    mask[r * N + c] = 1;
                }
                MaskSlice {
                    grid: PlaneGrid {
                        origin: [0.0, 0.0, z as f64 * 2.0],
                        row_dir: [1.0, 0.0, 0.0],
                        col_dir: [0.0, 1.0, 0.0],
                        spacing: [dy, dx],
                        rows: N,
                        cols: N,
                    },
                    mask,
                }
            })
            .collect();
        MaskLesion { slices }
    }

    fn disc() -> impl Strategy<Value = (f64, f64, f64, f64)> {
        (
            prop_oneof![Just(7.5), Just(7.0), 6.0f64..9.0],
            prop_oneof![Just(7.5), Just(7.0), 6.0f64..9.0],
            prop_oneof![Just(5.5), Just(6.0), 0.5f64..7.0],
            prop_oneof![Just(5.5), Just(6.0), 0.5f64..7.0],
        )
    }

    /// A slice for `one_pass_equals_runs`: a disc (in pixels, often empty or touching the
    /// edge) on a 12-row grid of `cols` columns (narrow, or wider than a `row_run` word
    /// mask) at whole-pixel `shift` and height `z`, with a stray pixel (a second run, a
    /// gap, or nothing new); `right`: columns counted from the right edge (runs that end
    /// at the row's end); `blank`: a row emptied (a gap in the disc).
    #[allow(clippy::type_complexity)]
    fn shifted_slice() -> impl Strategy<
        Value = (
            usize,
            (i64, i64),
            usize,
            (f64, f64, f64, f64),
            Option<(usize, usize)>,
            bool,
            Option<usize>,
        ),
    > {
        (
            0usize..4,
            (-2i64..3, -2i64..3),
            prop_oneof![6usize..14, 62usize..70],
            (2.0f64..9.0, 2.0f64..9.0, 0.3f64..6.0, 0.3f64..6.0),
            proptest::option::weighted(0.3, (0usize..12, prop_oneof![Just(0usize), 0usize..6])),
            proptest::bool::ANY,
            proptest::option::weighted(0.2, 0usize..12),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Skipping planes on their bounds gives exactly what measuring every plane gives.
        #[test]
        fn pruned_planes_equal_all_planes(
            discs in proptest::collection::vec(disc(), 1..8),
            dup in proptest::collection::vec(0usize..8, 0..3),
            stray in proptest::option::of((0usize..16, 0usize..16)),
            dx in prop_oneof![Just(0.7), 0.2f64..2.0],
            dy in prop_oneof![Just(0.7), 0.2f64..2.0],
            set in prop_oneof![Just(PointSet::Edges), Just(PointSet::Centers), Just(PointSet::Corners)],
        ) {
            let mut discs = discs;
            for d in dup {
                // A plane equal to another one: an exact tie in both axes.
                let k = d % discs.len();
                discs.insert(k, discs[k]);
            }
            let l = lesion(&discs, stray, dx, dy);
            let opts = MeasureOptions { point_set: set, min_component_mm3: 0.0 };
            let mut sc = Scratch::default();
            let all = measure_mask_pruned(&mut sc, &l, &opts, None, false, true).unwrap();
            let pruned = measure_mask_pruned(&mut sc, &l, &opts, None, true, true).unwrap();
            prop_assert_eq!(pruned, all);
        }

        /// A scratch reused across lesions of other pixel spacings (its cached
        /// `BoundGeom` and grid normal replaced or kept) gives exactly what a fresh one
        /// gives, errors included.
        #[test]
        fn reused_scratch_equals_fresh(
            discs in proptest::collection::vec(disc(), 1..6),
            sp in proptest::collection::vec(
                (prop_oneof![Just(0.7), 0.2f64..2.0], prop_oneof![Just(0.7), 0.2f64..2.0]),
                1..5,
            ),
        ) {
            let opts = MeasureOptions::default();
            let mut shared = Scratch::default();
            for &(dx, dy) in sp.iter().chain(sp.iter().rev()) {
                let l = lesion(&discs, None, dx, dy);
                let want = measure_mask_pruned(&mut Scratch::default(), &l, &opts, None, true, true);
                let got = measure_mask_pruned(&mut shared, &l, &opts, None, true, true);
                prop_assert_eq!(got.unwrap(), want.unwrap());
                // A first slice with the cached grid's directions and spacing but a bad
                // origin or mask size fails as with a fresh scratch.
                let (mut bad_origin, mut bad_size) = (l.clone(), l.clone());
                bad_origin.slices[0].grid.origin[1] = f64::NAN;
                bad_size.slices[0].mask.push(0);
                for bad in [bad_origin, bad_size] {
                    let want = measure_mask_pruned(&mut Scratch::default(), &bad, &opts, None, true, true);
                    let got = measure_mask_pruned(&mut shared, &bad, &opts, None, true, true);
                    prop_assert_eq!(format!("{:?}", got), format!("{:?}", want));
                    prop_assert!(got.is_err());
                }
            }
        }

        /// The one-pass scan of the usual lesion gives exactly what building runs gives:
        /// several slices on a plane, second runs in a row, gaps between rows, empty
        /// slices, shifted grids of other widths, and far-apart planes (two components).
        #[test]
        fn one_pass_equals_runs(
            slices in proptest::collection::vec(shifted_slice(), 1..6),
            dx in prop_oneof![Just(0.7), 0.2f64..2.0],
            dy in prop_oneof![Just(0.7), 0.2f64..2.0],
            set in prop_oneof![Just(PointSet::Edges), Just(PointSet::Centers), Just(PointSet::Corners)],
            min_mm3 in prop_oneof![Just(0.0), 0.0f64..20.0],
        ) {
            const R: usize = 12;
            let slices = slices
                .into_iter()
                .map(|(z, (sr, sc), cols, (cy, cx, ry, rx), stray, right, blank)| {
                    let col = |c: usize| if right { cols - 1 - c } else { c };
                    let mut mask = vec![0u8; R * cols];
                    for r in 0..R {
                        for c in 0..cols {
                            let (u, v) = ((r as f64 - cy) / ry, (c as f64 - cx) / rx);
                            // Inside values of every high and low bit pattern.
                            let inside = [1, 0x80, 0xff, 2][(r + c) % 4];
                            mask[r * cols + col(c)] = inside * u8::from(u * u + v * v <= 1.0);
                        }
                    }
                    if let Some((r, c)) = stray {
                        mask[r * cols + col(c.min(cols - 1))] = 1;
                    }
                    if let Some(r) = blank {
                        mask[r * cols..(r + 1) * cols].fill(0);
                    }
                    MaskSlice {
                        grid: PlaneGrid {
                            origin: [sc as f64 * dx, sr as f64 * dy, z as f64 * 2.0],
                            row_dir: [1.0, 0.0, 0.0],
                            col_dir: [0.0, 1.0, 0.0],
                            spacing: [dy, dx],
                            rows: R,
                            cols,
                        },
                        mask,
                    }
                })
                .collect();
            let l = MaskLesion { slices };
            let opts = MeasureOptions { point_set: set, min_component_mm3: min_mm3 };
            let mut sc = Scratch::default();
            let runs = measure_mask_pruned(&mut sc, &l, &opts, None, true, false).unwrap();
            let one_pass = measure_mask_pruned(&mut sc, &l, &opts, None, true, true).unwrap();
            prop_assert_eq!(one_pass, runs);
        }
    }
}
