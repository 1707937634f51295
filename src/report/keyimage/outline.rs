//! The lesion outline from a mask: every crop pixel that shows a set mask pixel (nearest
//! mask pixel, in the mask's own plane) and has a 4-neighbour that does not. Beyond the
//! crop's border counts as set, so the crop edge is no outline.

use super::{Indexed, View, any_set, dot, sub, unit};
use crate::measure::types::MaskSlice;

/// Paints the outline of `m` onto the crop `out` in palette colour `index`; `dx`, `dy` give
/// the display coordinates of output pixel centres. A mask that does not fill its grid
/// (`rows × cols` values) is no outline, as it is no part of the lesion's extent
/// (`lesion_bbox`): masks read from files always fill theirs.
pub(super) fn paint(
    m: &MaskSlice,
    view: &View<'_>,
    out: &mut Indexed,
    index: u8,
    dx: &impl Fn(u32) -> f64,
    dy: &impl Fn(u32) -> f64,
) {
    if m.grid.rows.checked_mul(m.grid.cols) != Some(m.mask.len()) {
        return;
    }
    let k = MaskCoords::new(m, view, dx, dy);
    if k.separable() {
        paint_blocks(m, &k, out, index);
    } else {
        let (inside, spans) = samples(m, &k, (out.w, out.h));
        paint_pixels(&inside, &spans, out, index);
    }
}

/// Mask coordinates of output pixel centres, an affine function of the output (x, y):
/// column `c0 + cx·x + cy·y`, row `r0 + rx·x + ry·y`; the nearest mask pixel is at
/// `floor(t + 0.5)`.
struct MaskCoords {
    c0: f64,
    cx: f64,
    cy: f64,
    r0: f64,
    rx: f64,
    ry: f64,
}

impl MaskCoords {
    fn new(
        m: &MaskSlice,
        view: &View<'_>,
        dx: &impl Fn(u32) -> f64,
        dy: &impl Fn(u32) -> f64,
    ) -> Self {
        let g = &m.grid;
        let (rd, cd) = (unit(g.row_dir), unit(g.col_dir));
        let p00 = view.to_patient(dx(0), dy(0));
        let ex = sub(view.to_patient(dx(1), dy(0)), p00);
        let ey = sub(view.to_patient(dx(0), dy(1)), p00);
        let d0 = sub(p00, g.origin);
        MaskCoords {
            c0: dot(d0, rd) / g.spacing[1],
            cx: dot(ex, rd) / g.spacing[1],
            cy: dot(ey, rd) / g.spacing[1],
            r0: dot(d0, cd) / g.spacing[0],
            rx: dot(ex, cd) / g.spacing[0],
            ry: dot(ey, cd) / g.spacing[0],
        }
    }

    /// Mask rows along output rows (a SEG on its own image's grid, also flipped or at
    /// another spacing): an output column then always shows the same mask column, an
    /// output row the same mask row.
    fn separable(&self) -> bool {
        self.rx == 0.0 && self.cy == 0.0
    }
}

/// Index of the nearest of `n` pixels at coordinate `t`, `None` outside (`samples` spells
/// the same rule out). For `t + 0.5 >= 0` the cast truncates to `floor` without a libm
/// call.
fn nearest(t: f64, n: usize) -> Option<usize> {
    let t = t + 0.5;
    (t >= 0.0 && t < n as f64).then_some(t as usize)
}

/// Maximal runs `[start, end)` of output coordinates `0..n` showing one mask index (`None`:
/// outside the mask).
fn runs(n: u32, at: impl Fn(u32) -> Option<usize>) -> Vec<(u32, u32, Option<usize>)> {
    let mut runs: Vec<(u32, u32, Option<usize>)> = Vec::new();
    for i in 0..n {
        let v = at(i);
        match runs.last_mut() {
            Some(last) if last.2 == v => last.1 = i + 1,
            _ => runs.push((i, i + 1, v)),
        }
    }
    runs
}

/// Separable sampling makes the crop a grid of uniform blocks: a run of columns showing
/// one mask column by a run of rows showing one mask row. A block pixel's 4-neighbours lie
/// in its own block (set, like the pixel) or in the adjacent block on that side, so the
/// per-pixel rule of [`paint_pixels`] comes down to whole block sides: a set block paints
/// its top row when the block above is unset, and so on. The work is per block (a 64-pixel
/// display crop enlarged 5×: 4 k blocks instead of 102 k pixels), the pixels the same.
fn paint_blocks(m: &MaskSlice, k: &MaskCoords, out: &mut Indexed, index: u8) {
    let g = &m.grid;
    let xs = runs(out.w, |x| nearest(k.c0 + k.cx * f64::from(x), g.cols));
    let ys = runs(out.h, |y| nearest(k.r0 + k.ry * f64::from(y), g.rows));
    // (`paint` has checked that the mask fills its grid, so `r * cols` cannot overflow)
    let row_of = |r: Option<usize>| r.map(|r| &m.mask[r * g.cols..][..g.cols]);
    let nx = xs.len();
    let mut set = vec![false; nx * ys.len()];
    for (j, &(_, _, r)) in ys.iter().enumerate() {
        let Some(row) = row_of(r).filter(|row| any_set(row)) else {
            continue;
        };
        for (s, &(_, _, c)) in set[j * nx..][..nx].iter_mut().zip(&xs) {
            *s = c.is_some_and(|c| row[c] != 0);
        }
    }
    let stride = out.w as usize;
    for (j, &(y0, y1, _)) in ys.iter().enumerate() {
        for (i, &(x0, x1, _)) in xs.iter().enumerate() {
            if !set[j * nx + i] {
                continue;
            }
            let unset = |i: usize, j: usize| !set[j * nx + i];
            let (x0, x1, y0, y1) = (x0 as usize, x1 as usize, y0 as usize, y1 as usize);
            if j > 0 && unset(i, j - 1) {
                out.px[y0 * stride + x0..y0 * stride + x1].fill(index);
            }
            if j + 1 < ys.len() && unset(i, j + 1) {
                out.px[(y1 - 1) * stride + x0..(y1 - 1) * stride + x1].fill(index);
            }
            if i > 0 && unset(i - 1, j) {
                for y in y0..y1 {
                    out.px[y * stride + x0] = index;
                }
            }
            if i + 1 < nx && unset(i + 1, j) {
                for y in y0..y1 {
                    out.px[y * stride + x1 - 1] = index;
                }
            }
        }
    }
}

/// Paints every inside pixel with an outside 4-neighbour. Only the span of each row where
/// the mask was sampled can hold one. Beyond the border counts as inside: a row stands in
/// for its missing neighbour row (where it matters, the pixel itself is inside). Whole-row
/// slices and non-short-circuit tests keep the loop free of per-pixel index arithmetic.
fn paint_pixels(inside: &[bool], spans: &[(u32, u32)], out: &mut Indexed, index: u8) {
    let (w, h) = (out.w as usize, out.h as usize);
    for (y, &(xa, xb)) in spans.iter().enumerate() {
        let row = &inside[y * w..][..w];
        let up = if y > 0 {
            &inside[(y - 1) * w..][..w]
        } else {
            row
        };
        let down = if y + 1 < h {
            &inside[(y + 1) * w..][..w]
        } else {
            row
        };
        for x in xa as usize..xb as usize {
            let left = x == 0 || row[x - 1];
            let right = x + 1 == w || row[x + 1];
            if row[x] & !(left & right & up[x] & down[x]) {
                out.put(x as u32, y as u32, index);
            }
        }
    }
}

/// The mask sampled at every output pixel centre, and per output row the span of x outside
/// which nothing is inside (empty: `(0, 0)`).
fn samples(m: &MaskSlice, k: &MaskCoords, (w, h): (u32, u32)) -> (Vec<bool>, Vec<(u32, u32)>) {
    let g = &m.grid;
    let mut out = vec![false; w as usize * h as usize];
    let mut spans = vec![(0u32, 0u32); h as usize];
    // Only the mask's set pixels can be inside: per output row, test just the x span whose
    // mask coordinates fall in their bounding box (widened by a pixel against rounding).
    let Some((rmin, rmax, cmin, cmax)) = set_bounds(&m.mask, g.cols) else {
        return (out, spans);
    };
    let (clo, chi) = (cmin as f64 - 0.5, cmax as f64 + 1.5);
    let (rlo, rhi) = (rmin as f64 - 0.5, rmax as f64 + 1.5);
    for y in 0..h {
        let yf = f64::from(y);
        let (ca, ra) = (k.c0 + k.cy * yf, k.r0 + k.ry * yf);
        let Some((xa, xb)) = span(ca, k.cx, clo, chi, w).and_then(|(a, b)| {
            let (c, d) = span(ra, k.rx, rlo, rhi, w)?;
            (a.max(c) < b.min(d)).then_some((a.max(c), b.min(d)))
        }) else {
            continue;
        };
        spans[y as usize] = (xa, xb);
        let line = &mut out[y as usize * w as usize..][..w as usize];
        for x in xa..xb {
            let xf = f64::from(x);
            // `nearest` for both coordinates, spelled out: through its Option this loop took
            // 6 % more instructions on an oblique 320 px crop (it runs for every pixel).
            let c = ca + k.cx * xf + 0.5;
            let r = ra + k.rx * xf + 0.5;
            line[x as usize] = c >= 0.0
                && r >= 0.0
                && c < g.cols as f64
                && r < g.rows as f64
                && m.mask
                    .get(r as usize * g.cols + c as usize)
                    .is_some_and(|v| *v != 0);
        }
    }
    (out, spans)
}

/// First and last row and column holding a set pixel.
fn set_bounds(mask: &[u8], cols: usize) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for (r, row) in mask.chunks(cols.max(1)).enumerate() {
        if !any_set(row) {
            continue;
        }
        let (Some(first), Some(last)) = (
            row.iter().position(|&v| v != 0),
            row.iter().rposition(|&v| v != 0),
        ) else {
            continue;
        };
        b = Some(match b {
            None => (r, r, first, last),
            Some((r0, _, c0, c1)) => (r0, r, c0.min(first), c1.max(last)),
        });
    }
    b
}

/// The x in `0..w` (as a half-open range, widened by one each side) where
/// `lo <= a + b * x < hi`.
fn span(a: f64, b: f64, lo: f64, hi: f64, w: u32) -> Option<(u32, u32)> {
    // (only an exact 0 is constant: a tiny step, from an absurdly coarse mask, still moves
    // the coordinate across a pixel edge somewhere, as in `paint_blocks`)
    let (x0, x1) = if b == 0.0 {
        if a >= lo && a < hi {
            (0.0, f64::from(w))
        } else {
            return None;
        }
    } else {
        let (p, q) = ((lo - a) / b, (hi - a) / b);
        (p.min(q) - 1.0, p.max(q) + 1.0)
    };
    let x0 = x0.max(0.0);
    let x1 = x1.min(f64::from(w));
    // also false for NaN (a degenerate grid): nothing to sample
    if x0.partial_cmp(&x1) != Some(std::cmp::Ordering::Less) {
        return None;
    }
    Some((x0.floor() as u32, (x1.ceil() as u32).min(w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::types::PlaneGrid;

    /// Block painting gives exactly the pixels of the per-pixel rule, on separable crops of
    /// every orientation, with masks finer and coarser than the display, offset by fractions
    /// of a pixel and cut by the crop border; a mask shorter than its grid draws nothing.
    #[test]
    fn blocks_paint_what_pixels_paint() {
        let dirs = crate::testutil::AXIS_PLANES;
        let mut next = crate::testutil::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut painted_cases = 0;
        for case in 0..600 {
            let (row_dir, col_dir) = dirs[case % dirs.len()];
            let mut f = |k: u64| (next() % k) as f64;
            let image = PlaneGrid {
                origin: [
                    f(2000) / 10.0 - 100.0,
                    f(2000) / 10.0 - 100.0,
                    f(2000) / 10.0,
                ],
                row_dir,
                col_dir,
                spacing: [0.5 + f(8) / 8.0, 0.5 + f(8) / 8.0],
                rows: 40 + f(30) as usize,
                cols: 40 + f(30) as usize,
            };
            let view = View::new(&image).unwrap();
            // the mask: same plane, either direction along each axis, its own spacing and
            // an in-plane offset of whole and fractional pixels
            let flip_r = if next().is_multiple_of(2) { 1.0 } else { -1.0 };
            let flip_c = if next().is_multiple_of(2) { 1.0 } else { -1.0 };
            let (x0, y0) = (next() % 30, next() % 30);
            let mut f = |k: u64| (next() % k) as f64;
            // near the crop's corner, so that most cases draw something
            let d = view.display_mm;
            let (u, v) = (
                x0 as f64 * d + f(200) / 10.0 - 5.0,
                y0 as f64 * d + f(200) / 10.0 - 5.0,
            );
            let mask_grid = PlaneGrid {
                origin: [0, 1, 2].map(|i| image.origin[i] + u * row_dir[i] + v * col_dir[i]),
                row_dir: row_dir.map(|x| x * flip_r),
                col_dir: col_dir.map(|x| x * flip_c),
                spacing: [0.25 + f(12) / 4.0, 0.25 + f(12) / 4.0],
                rows: 5 + f(20) as usize,
                cols: 5 + f(20) as usize,
            };
            let n = mask_grid.rows * mask_grid.cols;
            let density = 2 + next() % 4;
            let mut mask: Vec<u8> = (0..n)
                .map(|_| u8::from(!next().is_multiple_of(density)))
                .collect();
            let ragged = case % 7 == 0;
            if ragged {
                mask.truncate(n - mask_grid.cols / 2);
            }
            let m = MaskSlice {
                grid: mask_grid,
                mask,
            };
            let scale = 1 + (next() % 6) as u32;
            let (cw, ch) = (8 + (next() % 24) as u32, 8 + (next() % 24) as u32);
            let k = f64::from(scale);
            let dx = |x: u32| x0 as f64 + (f64::from(x) + 0.5) / k - 0.5;
            let dy = |y: u32| y0 as f64 + (f64::from(y) + 0.5) / k - 0.5;
            let coords = MaskCoords::new(&m, &view, &dx, &dy);
            assert!(coords.separable(), "case {case}");
            let blank = || Indexed::filled(cw * scale, ch * scale, 0);
            if ragged {
                let mut out = blank();
                paint(&m, &view, &mut out, 7, &dx, &dy);
                assert!(!out.px.contains(&7), "case {case}");
                continue;
            }
            let (mut blocks, mut pixels) = (blank(), blank());
            paint_blocks(&m, &coords, &mut blocks, 7);
            let (inside, spans) = samples(&m, &coords, (pixels.w, pixels.h));
            paint_pixels(&inside, &spans, &mut pixels, 7);
            assert!(blocks.px == pixels.px, "case {case}");
            painted_cases += usize::from(pixels.px.contains(&7));
        }
        assert!(painted_cases > 250, "{painted_cases} cases drew an outline");
    }

    /// A mask column 1e13 mm wide (a step of 2e-14 mask columns per output pixel) still
    /// crosses a column edge inside the crop: both paths see it.
    #[test]
    fn an_absurdly_coarse_mask_is_painted_alike() {
        let image = PlaneGrid {
            origin: [0.0; 3],
            row_dir: [1.0, 0.0, 0.0],
            col_dir: [0.0, 1.0, 0.0],
            spacing: [1.0, 1.0],
            rows: 64,
            cols: 64,
        };
        let view = View::new(&image).unwrap();
        let m = MaskSlice {
            grid: PlaneGrid {
                origin: [0.5e13 + 20.0, 0.0, 0.0],
                spacing: [1.0, 1e13],
                rows: 4,
                cols: 1,
                ..image.clone()
            },
            mask: vec![1; 4],
        };
        let dx = |x: u32| (f64::from(x) + 0.5) / 4.0 - 0.5;
        let dy = dx;
        let coords = MaskCoords::new(&m, &view, &dx, &dy);
        assert!(coords.separable() && coords.cx != 0.0 && coords.cx.abs() < 1e-12);
        let blank = || Indexed::filled(256, 256, 0);
        let (mut blocks, mut pixels) = (blank(), blank());
        paint_blocks(&m, &coords, &mut blocks, 7);
        let (inside, spans) = samples(&m, &coords, (256, 256));
        paint_pixels(&inside, &spans, &mut pixels, 7);
        assert!(pixels.px.contains(&7));
        assert!(blocks.px == pixels.px);
    }
}
