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
    let mut push = |y: i64, lo: i64, hi: i64| {
        if let Some(last) = levels.last_mut() {
            if last.0 == y {
                last.1 = last.1.min(lo);
                last.2 = last.2.max(hi);
                return;
            }
        }
        levels.push((y, lo, hi));
    };
    for (r, a, b) in rows {
        let (y, xa, xb) = (2 * r, 2 * a, 2 * b);
        match set {
            PointSet::Edges => {
                push(y - 1, xa, xb);
                push(y, xa - 1, xb + 1);
                push(y + 1, xa, xb);
            }
            PointSet::Centers => push(y, xa, xb),
            PointSet::Corners => {
                push(y - 1, xa - 1, xb + 1);
                push(y + 1, xa - 1, xb + 1);
            }
        }
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
    let mut chunks = row.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if w != 0 {
            return Some(base + (w.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&v| v != 0)
        .map(|k| base + k)
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
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if w != 0 {
            return Some(end - 1 - (w.leading_zeros() / 8) as usize);
        }
        end -= 8;
    }
    None
}

/// Next non-zero byte at or after `from`.
#[inline]
pub(crate) fn next_nonzero(row: &[u8], from: usize) -> Option<usize> {
    first_nonzero(&row[from..]).map(|k| from + k)
}

/// Next zero byte at or after `from` (or `row.len()`).
#[inline]
pub(crate) fn next_zero(row: &[u8], from: usize) -> usize {
    let rest = &row[from..];
    let mut chunks = rest.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // A byte is zero iff its lane of `has_zero` is set (classic SWAR test, exact for
        // the lowest zero byte, which is the one we want).
        let has_zero = w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080;
        if has_zero != 0 {
            return from + base + (has_zero.trailing_zeros() / 8) as usize;
        }
        base += 8;
    }
    from + base
        + chunks
            .remainder()
            .iter()
            .position(|&v| v == 0)
            .unwrap_or(chunks.remainder().len())
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
                        if r % 3 == 0 { (r >> 8) as u8 | 1 } else { 0 }
                    })
                    .collect();
                let naive_first = row.iter().position(|&v| v != 0);
                let naive_last = row.iter().rposition(|&v| v != 0);
                assert_eq!(row_extent(&row), naive_first.zip(naive_last));
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
}
