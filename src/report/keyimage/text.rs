//! Overlay text: lines of `FONT_7X13` on a black box, readable over any anatomy.
//!
//! Why not embedded-graphics' `Text` for every label: it walks each glyph's pixels through
//! its bit-packed font image and a chain of draw-target adapters, ~45 instructions a pixel,
//! about 0.19 M per key image for its three or four short lines. The glyphs are instead
//! drawn once, by that same `Text`, into a table of cells, and a label copies cells (the
//! test checks the pixels against `Text` itself).

use std::sync::OnceLock;

use embedded_graphics::mono_font::MonoTextStyleBuilder;
use embedded_graphics::mono_font::ascii::FONT_7X13;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Point, RgbColor, Size};
use embedded_graphics::text::{Baseline, Text};
use embedded_graphics::{Drawable, Pixel};

use super::Indexed;

/// Cell size of `FONT_7X13` (which has no spacing between characters).
const CELL_W: usize = 7;
const CELL_H: usize = 13;
/// The printable ASCII characters the font covers, `' '..='~'`.
const FIRST: u8 = b' ';
const COUNT: usize = 95;

/// Draws `s` with its cells' top left corner at `at`, text pixels in `colour`, the rest of
/// each cell black; pixels off the image are dropped. Characters outside printable ASCII
/// are drawn as `?`. As with `Text`, the colour joins the palette at the first text pixel,
/// whether on the image or not (the palette's order is part of the PNG bytes), and a full
/// palette stops the drawing there.
pub(super) fn label(out: &mut Indexed, s: &str, at: Point, colour: [u8; 3]) {
    let glyphs = glyphs();
    let Some(bg) = out.index_of([0, 0, 0]) else {
        return;
    };
    let mut fg = None;
    for (i, ch) in s.chars().enumerate() {
        let code = if ch.is_ascii_graphic() || ch == ' ' {
            ch as u8
        } else {
            b'?'
        };
        let cell = &glyphs[usize::from(code - FIRST) * CELL_W * CELL_H..][..CELL_W * CELL_H];
        let x0 = i64::from(at.x) + (i * CELL_W) as i64;
        // A palette with no room for the colour: `Text` stops with an error at the first
        // text pixel, after the background pixels before it in this cell.
        let mut upto = cell.len();
        if fg.is_none()
            && let Some(first) = cell.iter().position(|&on| on)
        {
            match out.index_of(colour) {
                Some(i) => fg = Some(i),
                None => upto = first,
            }
        }
        let ink = fg.unwrap_or(bg);
        let mut put = |k: usize, on: bool| {
            let (x, y) = (
                x0 + (k % CELL_W) as i64,
                i64::from(at.y) + (k / CELL_W) as i64,
            );
            if x >= 0 && x < i64::from(out.w) && y >= 0 && y < i64::from(out.h) {
                out.px[y as usize * out.w as usize + x as usize] = if on { ink } else { bg };
            }
        };
        if upto < cell.len() {
            for (k, &on) in cell[..upto].iter().enumerate() {
                put(k, on);
            }
            return;
        }
        for (dy, row) in cell.chunks_exact(CELL_W).enumerate() {
            let y = i64::from(at.y) + dy as i64;
            if y < 0 || y >= i64::from(out.h) {
                continue;
            }
            for (dx, &on) in row.iter().enumerate() {
                let x = x0 + dx as i64;
                if x >= 0 && x < i64::from(out.w) {
                    out.px[y as usize * out.w as usize + x as usize] = if on { ink } else { bg };
                }
            }
        }
    }
}

/// Each printable character's cell as `Text` draws it, row-major, `true` for text pixels.
fn glyphs() -> &'static [bool] {
    static GLYPHS: OnceLock<Vec<bool>> = OnceLock::new();
    GLYPHS.get_or_init(|| {
        let style = MonoTextStyleBuilder::new()
            .font(&FONT_7X13)
            .text_color(Rgb888::WHITE)
            .background_color(Rgb888::BLACK)
            .build();
        let mut cells = Vec::with_capacity(COUNT * CELL_W * CELL_H);
        for code in FIRST..FIRST + COUNT as u8 {
            let mut cell = Cell([false; CELL_W * CELL_H]);
            let s = [code];
            let s = std::str::from_utf8(&s).expect("ASCII");
            let _ = Text::with_baseline(s, Point::zero(), style, Baseline::Top).draw(&mut cell);
            cells.extend_from_slice(&cell.0);
        }
        cells
    })
}

/// One character cell as a draw target.
struct Cell([bool; CELL_W * CELL_H]);

impl OriginDimensions for Cell {
    fn size(&self) -> Size {
        Size::new(CELL_W as u32, CELL_H as u32)
    }
}

impl DrawTarget for Cell {
    type Color = Rgb888;
    type Error = std::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, c) in pixels {
            if (0..CELL_W as i32).contains(&p.x) && (0..CELL_H as i32).contains(&p.y) {
                self.0[p.y as usize * CELL_W + p.x as usize] = c == Rgb888::WHITE;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::keyimage::{Canvas, MAX_COLOURS};

    /// What `Text` draws, pixel for pixel: every printable character and a few that are
    /// not, at positions cut by every border of the image.
    #[test]
    fn labels_are_what_text_draws() {
        let printable: String = (FIRST..FIRST + COUNT as u8).map(char::from).collect();
        let strings = [
            printable.as_str(),
            "",
            "   ",
            "L3 liver — baseline",
            "LA 23.4 mm",
            "SA 9.0 mm",
            "10 mm",
            "tab\there é",
        ];
        let positions = [
            (3, 3),
            (-4, -6),
            (40, 50),
            (-700, 10),
            (10, 58),
            (62, 0),
            (70, 3),
            (3, -20),
        ];
        for s in strings {
            for (x, y) in positions {
                let blank = || Indexed::filled(64, 64, 100);
                // another colour first, so the palette order is tested too
                let mut ours = blank();
                ours.index_of([255, 0, 0]).unwrap();
                label(&mut ours, s, Point::new(x, y), [0, 190, 255]);

                let mut theirs = blank();
                theirs.index_of([255, 0, 0]).unwrap();
                let style = MonoTextStyleBuilder::new()
                    .font(&FONT_7X13)
                    .text_color(Rgb888::new(0, 190, 255))
                    .background_color(Rgb888::BLACK)
                    .build();
                let s2: String = s
                    .chars()
                    .map(|c| {
                        if c.is_ascii_graphic() || c == ' ' {
                            c
                        } else {
                            '?'
                        }
                    })
                    .collect();
                let _ = Text::with_baseline(&s2, Point::new(x, y), style, Baseline::Top)
                    .draw(&mut Canvas(&mut theirs));
                assert!(ours.px == theirs.px, "{s:?} at ({x}, {y})");
                assert_eq!(ours.colours, theirs.colours);

                // a palette with no room left: both stop at the first text pixel
                let full = || {
                    let mut img = blank();
                    for k in 0..MAX_COLOURS as u8 {
                        img.index_of([1, 2, 100 + k]).unwrap();
                    }
                    img
                };
                let mut ours = full();
                label(&mut ours, s, Point::new(x, y), [0, 190, 255]);
                let mut theirs = full();
                let _ = Text::with_baseline(&s2, Point::new(x, y), style, Baseline::Top)
                    .draw(&mut Canvas(&mut theirs));
                assert!(ours.px == theirs.px, "full palette: {s:?} at ({x}, {y})");
            }
        }
    }
}
