//! Boundary point sets of a binary slice, reduced to the points that can be hull vertices.
//!
//! Every point set here lies between the extreme inside pixels of each row, so only those
//! extremes matter for the hull (and hence for every caliper measure):
//! * `Centers`: the hull of border-pixel centres equals the hull of all inside centres,
//!   because the first and last inside pixel of a row are always border pixels.
//! * `Corners`: likewise, the corners of the row-extreme pixels.
//! * `Edges`: the midpoints of inside/outside pixel edges. Horizontal edges of row r lie
//!   between (r, cmin − ½) and (r, cmax + ½). Vertical edges at half-row r ± ½ lie between
//!   the extreme columns of rows r and r ± 1, and (r ± ½, cmin), (r ± ½, cmax) are either
//!   such edge midpoints or the midpoint of two inside centres, which is inside the hull
//!   anyway. So six points per row give exactly pyradiomics' hull.
//!
//! Coordinates are doubled so the half-pixel lattice is integral: `[2·row, 2·col]`.

use super::PointSet;

/// Writes the candidate hull points as levels `(y2, lo x2, hi x2)` with y2 strictly
/// increasing (the points are `[y2, lo]` and `[y2, hi]`), for rows given as
/// `(row, first inside column, last inside column)` in increasing row order.
pub(crate) fn levels(
    rows: impl Iterator<Item = (i64, i64, i64)>,
    set: PointSet,
    levels: &mut Vec<(i64, i64, i64)>,
) {
    levels.clear();
    // A level at the height of the last one widens it.
    #[inline(always)]
    fn push(levels: &mut Vec<(i64, i64, i64)>, y: i64, lo: i64, hi: i64) {
        if let Some(last) = levels.last_mut()
            && last.0 == y
        {
            last.1 = last.1.min(lo);
            last.2 = last.2.max(hi);
            return;
        }
        levels.push((y, lo, hi));
    }
    for (r, a, b) in rows {
        let (y, xa, xb) = (2 * r, 2 * a, 2 * b);
        match set {
            PointSet::Edges => {
                push(levels, y - 1, xa, xb);
                // Above the level just pushed: never merged, so no test.
                levels.push((y, xa - 1, xb + 1));
                levels.push((y + 1, xa, xb));
            }
            PointSet::Centers => push(levels, y, xa, xb),
            PointSet::Corners => {
                push(levels, y - 1, xa - 1, xb + 1);
                levels.push((y + 1, xa - 1, xb + 1));
            }
        }
    }
}

/// Lattice directions `(column step, row step)` in angular order over a half turn (the
/// next one is `−DIRS[0]`). Eight directions leave gaps of at most about 27° on square
/// pixels, so widths along them pin a diameter down to within about 1 % on round sections.
const DIRS: [(i64, i64); 8] = [
    (1, 0),
    (2, 1),
    (1, 1),
    (1, 2),
    (0, 1),
    (-1, 2),
    (-1, 1),
    (-2, 1),
];

/// Extremes of `p·column + q·row` over the rows' first and last inside columns, for each
/// of `DIRS` (only the even ones when coarse): enough for the widths of every point set
/// of those rows along them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Extents {
    lo: [i64; 8],
    hi: [i64; 8],
    fine: bool,
}

impl Extents {
    /// Extents of rows `(row, first inside column, last inside column)`; `fine` takes all
    /// eight directions, else the rows, columns and diagonals (half the work). The
    /// reference for `of_rows_in_order` and `refine`, which the measurement uses.
    #[cfg(test)]
    pub(crate) fn of(rows: impl Iterator<Item = (i64, i64, i64)>, fine: bool) -> Extents {
        let mut e = Extents::empty(fine);
        for (r, a, b) in rows {
            e.add(r, a, b);
        }
        e
    }

    /// `Extents::of(rows, false)` for rows on increasing rows from `first` to `last` (a
    /// `simple` plane's): along the columns the extremes are those two rows, so only the
    /// other three directions are folded.
    #[inline]
    pub(crate) fn of_rows_in_order(
        rows: impl Iterator<Item = (i64, i64, i64)>,
        first: i64,
        last: i64,
    ) -> Extents {
        let mut e = Extents::empty(false);
        for (r, a, b) in rows {
            for k in [0, 2, 6] {
                let (p, q) = DIRS[k];
                let (x0, x1) = if p >= 0 { (a, b) } else { (b, a) };
                e.lo[k] = e.lo[k].min(p * x0 + q * r);
                e.hi[k] = e.hi[k].max(p * x1 + q * r);
            }
        }
        debug_assert_eq!(DIRS[4], (0, 1));
        (e.lo[4], e.hi[4]) = (first, last);
        e
    }

    /// `Extents::of(rows, true)` from the same rows' coarse extents `self`: only the four
    /// directions between theirs are folded.
    #[inline]
    pub(crate) fn refine(self, rows: impl Iterator<Item = (i64, i64, i64)>) -> Extents {
        let mut e = self;
        e.fine = true;
        for (r, a, b) in rows {
            for k in [1, 3, 5, 7] {
                let (p, q) = DIRS[k];
                let (x0, x1) = if p >= 0 { (a, b) } else { (b, a) };
                e.lo[k] = e.lo[k].min(p * x0 + q * r);
                e.hi[k] = e.hi[k].max(p * x1 + q * r);
            }
        }
        e
    }

    pub(crate) fn empty(fine: bool) -> Extents {
        Extents {
            lo: [i64::MAX; 8],
            hi: [i64::MIN; 8],
            fine,
        }
    }

    /// Adds row `r` with first and last inside columns `a ≤ b`.
    #[inline(always)]
    pub(crate) fn add(&mut self, r: i64, a: i64, b: i64) {
        for (k, &(p, q)) in DIRS.iter().enumerate() {
            if self.fine || k % 2 == 0 {
                let (x0, x1) = if p >= 0 { (a, b) } else { (b, a) };
                self.lo[k] = self.lo[k].min(p * x0 + q * r);
                self.hi[k] = self.hi[k].max(p * x1 + q * r);
            }
        }
    }
}

/// `1 − cos g` and `1 / sin² g` of the gaps g between consecutive directions in mm.
#[derive(Debug, Clone, Copy)]
struct Gaps<const N: usize> {
    one_minus_cos: [f64; N],
    inv_sin2: [f64; N],
}

impl<const N: usize> Gaps<N> {
    /// Gaps between unit vectors `u` in angular order over a half turn (then `−u[0]`).
    fn new(u: [[f64; 2]; N]) -> Gaps<N> {
        let (mut one_minus_cos, mut inv_sin2) = ([0.0; N], [0.0; N]);
        for k in 0..N {
            let (a, b) = if k + 1 < N {
                (u[k], u[k + 1])
            } else {
                (u[N - 1], [-u[0][0], -u[0][1]])
            };
            // 1 − cos g = |a − b|² / 2, without the cancellation of 1 − a·b.
            one_minus_cos[k] = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)) / 2.0;
            inv_sin2[k] = 1.0 / (a[0] * b[1] - a[1] * b[0]).powi(2);
        }
        Gaps {
            one_minus_cos,
            inv_sin2,
        }
    }

    /// Largest |v|² over the gaps, for widths `w` along the directions.
    fn corner2(&self, w: [f64; N]) -> f64 {
        let mut v2 = 0.0f64;
        for k in 0..N {
            let (w1, w2) = (w[k], w[(k + 1) % N]);
            v2 = v2.max(
                ((w1 - w2).powi(2) + 2.0 * w1 * w2 * self.one_minus_cos[k]) * self.inv_sin2[k],
            );
        }
        v2
    }
}

/// Per-lesion constants of `bounds`: mm lengths of the `DIRS` functionals and the angles
/// between consecutive directions in mm (pixels may be oblong).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoundGeom {
    /// mm per unit of `p·column + q·row` across its level lines.
    unit_mm: [f64; 8],
    fine: Gaps<8>,
    coarse: Gaps<4>,
}

impl BoundGeom {
    pub(crate) fn new(dx: f64, dy: f64) -> BoundGeom {
        // The functional p·c + q·r is (p / dx, q / dy) · (x, y) in mm.
        let n = DIRS.map(|(p, q)| [p as f64 / dx, q as f64 / dy]);
        let len = n.map(|v| (v[0] * v[0] + v[1] * v[1]).sqrt());
        let u: [[f64; 2]; 8] = std::array::from_fn(|k| [n[k][0] / len[k], n[k][1] / len[k]]);
        BoundGeom {
            unit_mm: len.map(|l| 1.0 / l),
            fine: Gaps::new(u),
            coarse: Gaps::new(std::array::from_fn(|k| u[2 * k])),
        }
    }

    /// Lower and upper bound (mm) on the diameter of `set`'s points of rows with extents
    /// `e` (the caliper length `long_pairs_i` returns, with room for its rounding).
    ///
    /// Each width is exact for the point set (its extreme points are among the six per row
    /// of `levels`, whose hull is the point set's), and no width exceeds the diameter. The
    /// diameter's direction lies in some gap between directions u₁, u₂ (angle g < 90°),
    /// where its projections are at most the widths w₁, w₂; the longest vector of that
    /// cone with those projections is the corner v with v·u₁ = w₁, v·u₂ = w₂, and
    /// |v|² = ((w₁ − w₂)² + 2 w₁ w₂ (1 − cos g)) / sin² g.
    pub(crate) fn bounds(&self, e: &Extents, set: PointSet) -> (f64, f64) {
        let w: [f64; 8] = std::array::from_fn(|k| {
            let (p, q) = DIRS[k];
            // How far the point set reaches past the extreme pixel centres, in units of
            // the functional: edge midpoints reach ½ pixel along a row or a column.
            let pad = match set {
                PointSet::Edges => p.abs().max(q.abs()),
                PointSet::Centers => 0,
                PointSet::Corners => p.abs() + q.abs(),
            };
            if e.fine || k % 2 == 0 {
                (e.hi[k] - e.lo[k] + pad) as f64 * self.unit_mm[k]
            } else {
                0.0
            }
        });
        let floor = w.iter().fold(0.0f64, |m, &x| m.max(x));
        let v2 = if e.fine {
            self.fine.corner2(w)
        } else {
            self.coarse.corner2(std::array::from_fn(|k| w[2 * k]))
        };
        let bound = v2.sqrt() * (1.0 + 1e-9);
        let bound = if bound.is_finite() {
            bound
        } else {
            f64::INFINITY
        };
        (floor * (1.0 - 1e-9), bound)
    }
}

/// First and last non-zero byte of a row. Scans eight bytes at a time to skip the empty
/// margin quickly (masks are mostly zeros).
#[inline]
pub(crate) fn row_extent(row: &[u8]) -> Option<(usize, usize)> {
    let first = first_nonzero(row)?;
    let last = last_nonzero(row)?;
    Some((first, last))
}

#[inline]
pub(crate) fn first_nonzero(row: &[u8]) -> Option<usize> {
    let k = find_byte(row, |w| w);
    (k < row.len()).then_some(k)
}

/// The first byte sought in `bytes`, or `bytes.len()`: `lanes` maps eight bytes (a
/// little-endian word) to a word with bits in the lanes of the bytes sought, exact at
/// least in the lowest one. Eight bytes at a time; the last eight overlap the ones before
/// when the length is no multiple of eight (no byte loop).
#[inline(always)]
fn find_byte(bytes: &[u8], lanes: impl Fn(u64) -> u64) -> usize {
    let n = bytes.len();
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let l = lanes(word(c));
        if l != 0 {
            return base + (l.trailing_zeros() / 8) as usize;
        }
        base += 8;
    }
    let rem = chunks.remainder().len();
    let l = if rem == 0 {
        return n;
    } else if n >= 8 {
        // The last eight bytes, shifted so that only the `rem` not yet read are left; the
        // ones shifted out had no lane set.
        lanes(word(&bytes[n - 8..])) >> (8 * (8 - rem))
    } else {
        let mut w = [0u8; 8];
        w[..rem].copy_from_slice(bytes);
        // Lanes of the zero padding past `n` do not count.
        lanes(word(&w)) & (u64::MAX >> (8 * (8 - rem)))
    };
    if l != 0 {
        base + (l.trailing_zeros() / 8) as usize
    } else {
        n
    }
}

/// The eight bytes of `c` as a little-endian word.
#[inline(always)]
fn word(c: &[u8]) -> u64 {
    u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
}

#[inline]
pub(crate) fn last_nonzero(row: &[u8]) -> Option<usize> {
    let n = row.len();
    let tail = n % 8;
    if let Some(k) = row[n - tail..].iter().rposition(|&v| v != 0) {
        return Some(n - tail + k);
    }
    let mut end = n - tail;
    for c in row[..end].rchunks_exact(8) {
        let w = word(c);
        if w != 0 {
            return Some(end - 1 - (w.leading_zeros() / 8) as usize);
        }
        end -= 8;
    }
    None
}

/// The inside pixels of one mask row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowRun {
    Empty,
    /// One run, from the first to the last inside column.
    One(usize, usize),
    /// Two runs or more.
    Several,
}

/// Bit k set when byte k of `w` (little-endian) is non-zero.
#[inline(always)]
fn nonzero_bits(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of every non-zero byte (no carry crosses a byte), then those eight
    // bits gathered into the top byte by one multiplication (no two partial products
    // meet).
    let high = ((w & LOW7).wrapping_add(LOW7) | w) & !LOW7;
    (high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The inside pixels of a mask row of 8 to 64 bytes (a lesion's crop), in one pass: the
/// row becomes a bit mask, eight bytes per word, the last word overlapping the one before
/// when the width is no multiple of eight. No byte loop, no search for run ends.
#[inline]
pub(crate) fn row_run(row: &[u8]) -> RowRun {
    let n = row.len();
    debug_assert!((8..=64).contains(&n), "row_run of a row of {n} bytes");
    let mut chunks = row.chunks_exact(8);
    let mut bits = 0u64;
    for (k, c) in (&mut chunks).enumerate() {
        bits |= nonzero_bits(word(c)) << (8 * k);
    }
    let rem = chunks.remainder().len();
    if rem > 0 {
        // The last eight bytes: the top `rem` of their bits are the ones not yet read.
        bits |= nonzero_bits(word(&row[n - 8..])) >> (8 - rem) << (n - rem);
    }
    if bits == 0 {
        return RowRun::Empty;
    }
    let lo = bits.trailing_zeros();
    let from_lo = bits >> lo;
    // One run when the bits from the first one on are all ones.
    if from_lo & from_lo.wrapping_add(1) == 0 {
        RowRun::One(lo as usize, 63 - bits.leading_zeros() as usize)
    } else {
        RowRun::Several
    }
}

/// Next non-zero byte at or after `from`.
#[inline]
pub(crate) fn next_nonzero(row: &[u8], from: usize) -> Option<usize> {
    first_nonzero(&row[from..]).map(|k| from + k)
}

/// The high bit of the lowest zero byte of `w` set, and none below it (classic SWAR
/// test: above the lowest zero byte, a borrow may set a lane of a non-zero byte).
#[inline(always)]
fn zero_lanes(w: u64) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080
}

/// Next zero byte at or after `from` (or `row.len()`).
#[inline]
pub(crate) fn next_zero(row: &[u8], from: usize) -> usize {
    from + find_byte(&row[from..], zero_lanes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_scans_agree_with_naive_scans() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..48usize {
            for _ in 0..60 {
                let row: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let r = (seed >> 33) as u32;
                        if r.is_multiple_of(3) {
                            ((r >> 8) as u8).max(1)
                        } else {
                            0
                        }
                    })
                    .collect();
                let naive_first = row.iter().position(|&v| v != 0);
                let naive_last = row.iter().rposition(|&v| v != 0);
                assert_eq!(row_extent(&row), naive_first.zip(naive_last));
                if len >= 8 {
                    assert_eq!(row_run(&row), naive_run(&row), "{row:?}");
                }
                for from in 0..len {
                    let nz = row[from..].iter().position(|&v| v != 0).map(|k| from + k);
                    let z = row[from..]
                        .iter()
                        .position(|&v| v == 0)
                        .map_or(len, |k| from + k);
                    assert_eq!(next_nonzero(&row, from), nz);
                    assert_eq!(next_zero(&row, from), z);
                }
            }
        }
    }

    fn naive_run(row: &[u8]) -> RowRun {
        match (
            row.iter().position(|&v| v != 0),
            row.iter().rposition(|&v| v != 0),
        ) {
            (Some(a), Some(b)) if row[a..=b].iter().all(|&v| v != 0) => RowRun::One(a, b),
            (Some(_), _) => RowRun::Several,
            _ => RowRun::Empty,
        }
    }

    #[test]
    fn row_run_finds_one_run_and_its_holes() {
        for len in (8..40usize).chain([63, 64]) {
            for a in 0..len {
                for b in a..len {
                    for hole in (a..=b).map(Some).chain([None]) {
                        // Non-zero bytes of every high and low bit pattern.
                        let row: Vec<u8> = (0..len)
                            .map(|k| {
                                let inside = (a..=b).contains(&k) && Some(k) != hole;
                                if inside {
                                    [1u8, 0x80, 0xff, 0x7f, 2][k % 5]
                                } else {
                                    0
                                }
                            })
                            .collect();
                        assert_eq!(row_run(&row), naive_run(&row), "{row:?}");
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// On consecutive rows the coarse extents without the column direction's fold are
        /// the same; refining coarse extents gives the fine ones.
        #[test]
        fn extents_in_order_equal_extents(
            first in -20i64..20,
            rows in proptest::collection::vec((-8i64..8, 0i64..12), 1..16),
        ) {
            let rows: Vec<(i64, i64, i64)> = rows
                .into_iter()
                .enumerate()
                .map(|(k, (a, w))| (first + k as i64, a, a + w))
                .collect();
            let last = rows[rows.len() - 1].0;
            let coarse = Extents::of(rows.iter().copied(), false);
            proptest::prop_assert_eq!(
                Extents::of_rows_in_order(rows.iter().copied(), first, last),
                coarse
            );
            proptest::prop_assert_eq!(
                coarse.refine(rows.iter().copied()),
                Extents::of(rows.iter().copied(), true)
            );
        }

        /// floor ≤ the diameter of the point set's hull candidates ≤ bound, coarse and
        /// fine, for every point set, square and oblong pixels.
        #[test]
        fn diameter_bounds_hold(
            rows in proptest::collection::vec((0i64..2, -8i64..8, 0i64..12), 1..16),
            dx in proptest::prop_oneof![proptest::strategy::Just(0.7), 0.1f64..3.0],
            dy in proptest::prop_oneof![proptest::strategy::Just(0.7), 0.1f64..3.0],
        ) {
            let mut r = 0;
            let rows: Vec<(i64, i64, i64)> = rows
                .into_iter()
                .map(|(gap, a, w)| {
                    r += 1 + gap;
                    (r, a, a + w)
                })
                .collect();
            let bg = BoundGeom::new(dx, dy);
            for set in [PointSet::Edges, PointSet::Centers, PointSet::Corners] {
                let mut lv = vec![];
                levels(rows.iter().copied(), set, &mut lv);
                let pts: Vec<[f64; 2]> = lv
                    .iter()
                    .flat_map(|&(y, lo, hi)| [[lo, y], [hi, y]])
                    .map(|[x, y]| [x as f64 * dx / 2.0, y as f64 * dy / 2.0])
                    .collect();
                let d = pts
                    .iter()
                    .flat_map(|a| pts.iter().map(move |b| (a[0] - b[0]).hypot(a[1] - b[1])))
                    .fold(0.0, f64::max);
                for fine in [false, true] {
                    let (lo, hi) = bg.bounds(&Extents::of(rows.iter().copied(), fine), set);
                    proptest::prop_assert!(
                        lo <= d && d <= hi,
                        "{:?} fine {}: {} <= {} <= {}", set, fine, lo, d, hi
                    );
                }
            }
        }
    }
}
