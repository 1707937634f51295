//! Integration tests: images (issue 8). Decoding is checked value for value against
//! pydicom's arrays (fixtures/images/ref, made by scripts/export_pydicom_arrays.py);
//! rendering against analytic geometry, committed golden PNGs and itself (determinism).

use std::collections::BTreeMap;
use std::path::PathBuf;

use oncometry::dicom::pixels::{PixelError, decode_slice};
use serde::Deserialize;

use crate::util::fixture;

#[derive(Debug, Deserialize)]
struct RefEntry {
    file: String,
    frame: u32,
    rows: usize,
    cols: usize,
    slope: f64,
    intercept: f64,
    png_offset: i64,
    has_hu: bool,
    transfer_syntax: String,
    outcome: String,
    ipp: Option<Vec<f64>>,
    iop: Option<Vec<f64>>,
    pixel_spacing: Option<Vec<f64>>,
    window: Option<Vec<f64>>,
    modality: Option<String>,
    /// Lossy codecs only: largest allowed |difference| (0, i.e. exact, when absent).
    #[serde(default)]
    tolerance: u32,
}

fn ref_entries() -> Vec<RefEntry> {
    let text = std::fs::read_to_string(fixture("images/ref/index.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ref_stem(e: &RefEntry) -> PathBuf {
    let name = e.file.rsplit('/').next().unwrap();
    fixture(&format!("images/ref/{name}"))
}

/// pydicom's stored values, from the 16-bit PNG the export script wrote.
fn ref_stored(e: &RefEntry) -> Vec<i64> {
    let mut p = ref_stem(e).into_os_string();
    p.push(".stored.png");
    let img = image::open(PathBuf::from(p)).unwrap().into_luma16();
    assert_eq!(
        (img.width() as usize, img.height() as usize),
        (e.cols, e.rows)
    );
    img.into_raw()
        .into_iter()
        .map(|v| i64::from(v) - e.png_offset)
        .collect()
}

/// pydicom's `apply_modality_lut` result as f32 (the stored values when it is the identity).
fn ref_values(e: &RefEntry) -> Vec<f32> {
    if !e.has_hu {
        return ref_stored(e).into_iter().map(|v| v as f32).collect();
    }
    let mut p = ref_stem(e).into_os_string();
    p.push(".hu.f32");
    std::fs::read(PathBuf::from(p))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn every_supported_transfer_syntax_decodes_to_pydicoms_values() {
    let entries = ref_entries();
    let mut checked = 0;
    for e in entries.iter().filter(|e| e.outcome == "ok") {
        let path = fixture(&format!("images/{}", e.file));
        let d = decode_slice(&path, e.frame)
            .unwrap_or_else(|err| panic!("{} ({}): {err}", e.file, e.transfer_syntax));
        assert_eq!((d.rows, d.cols), (e.rows, e.cols), "{}", e.file);
        assert_eq!(d.transfer_syntax, e.transfer_syntax, "{}", e.file);
        assert_eq!(
            (d.rescale_slope, d.rescale_intercept),
            (e.slope, e.intercept)
        );
        let want = ref_values(e);
        assert_eq!(d.values.len(), want.len(), "{}", e.file);
        let mismatches = d
            .values
            .iter()
            .zip(&want)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        if e.tolerance == 0 {
            assert_eq!(
                mismatches, 0,
                "{}: {mismatches} values differ from pydicom",
                e.file
            );
        } else {
            let worst = d
                .values
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= e.tolerance as f32,
                "{}: differs by {worst}",
                e.file
            );
            // IDCT rounding touches a few pixels, not the image.
            assert!(
                mismatches * 10 < want.len(),
                "{}: {mismatches} differ",
                e.file
            );
        }
        assert_eq!(d.modality, e.modality, "{}", e.file);
        assert_eq!(
            d.window,
            e.window.as_ref().map(|w| (w[0], w[1])),
            "{}",
            e.file
        );
        match (&d.grid, &e.ipp, &e.iop, &e.pixel_spacing) {
            (Some(g), Some(ipp), Some(iop), Some(ps)) => {
                assert_eq!(g.origin.to_vec(), *ipp, "{}", e.file);
                for k in 0..3 {
                    assert!((g.row_dir[k] - iop[k]).abs() < 1e-6, "{}", e.file);
                    assert!((g.col_dir[k] - iop[k + 3]).abs() < 1e-6, "{}", e.file);
                }
                assert_eq!(g.spacing.to_vec(), *ps, "{}", e.file);
                assert_eq!((g.rows, g.cols), (e.rows, e.cols));
            }
            (None, None, _, _) | (None, _, None, _) | (None, _, _, None) => {}
            _ => panic!(
                "{}: grid {:?} but pydicom header {:?}",
                e.file, d.grid, e.ipp
            ),
        }
        checked += 1;
    }
    // 11 pydicom files + 3 generated ones; a shrinking index would weaken the test.
    assert!(checked >= 14, "only {checked} files checked");
    let tss: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.outcome == "ok")
        .map(|e| e.transfer_syntax.as_str())
        .collect();
    for ts in [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.90",
    ] {
        assert!(tss.contains(ts), "no fixture covers {ts}");
    }
}

#[test]
fn undecodable_transfer_syntaxes_give_the_typed_unsupported_error() {
    let entries = ref_entries();
    let unsupported: Vec<&RefEntry> = entries
        .iter()
        .filter(|e| e.outcome == "unsupported")
        .collect();
    assert_eq!(unsupported.len(), 2);
    for e in unsupported {
        let path = fixture(&format!("images/{}", e.file));
        match decode_slice(&path, e.frame) {
            Err(err @ PixelError::UnsupportedTransferSyntax { .. }) => {
                assert!(err.is_unsupported());
                let msg = err.to_string();
                assert!(msg.contains(&e.transfer_syntax), "{msg}");
                assert!(msg.contains("JPEG"), "{msg}");
            }
            other => panic!(
                "{}: expected UnsupportedTransferSyntax, got {other:?}",
                e.file
            ),
        }
    }
}

#[test]
fn frame_out_of_range_and_truncated_files_are_errors() {
    let p = fixture("images/pydicom/emri_small_RLE.dcm");
    assert!(matches!(
        decode_slice(&p, 10),
        Err(PixelError::FrameOutOfRange { frames: 10, .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "CT_small.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
    ] {
        let bytes = std::fs::read(fixture(&format!("images/pydicom/{name}"))).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 100, bytes.len() - 1] {
            let t = dir.path().join(format!("{cut}_{name}"));
            std::fs::write(&t, &bytes[..cut]).unwrap();
            assert!(decode_slice(&t, 0).is_err(), "{name} cut at {cut} decoded");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rendering

use oncometry::measure::types::{MaskSlice, PlaneGrid};
use oncometry::report::keyimage::{
    KeyImageError, KeyImageOptions, KeyImageRgb, Outline, Overlay, SliceImage, Window,
    WindowChoice, render_key_image, render_key_image_rgb,
};

const LA: [u8; 3] = [255, 176, 0];
const SA: [u8; 3] = [0, 190, 255];

fn add(a: [f64; 3], b: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Patient point at in-plane offsets (u along rows, v down columns) from pixel (0, 0).
fn plane_point(g: &PlaneGrid, u: f64, v: f64) -> [f64; 3] {
    add(add(g.origin, g.row_dir, u), g.col_dir, v)
}

/// An elliptical lesion (semi-axes a along `angle`, b across it) centred at in-plane (cu,
/// cv) mm: its mask on the grid, and its exact axes in patient mm.
struct Ellipse {
    cu: f64,
    cv: f64,
    a: f64,
    b: f64,
    angle: f64,
}

impl Ellipse {
    fn inside(&self, u: f64, v: f64) -> bool {
        let (du, dv) = (u - self.cu, v - self.cv);
        let (c, s) = (self.angle.cos(), self.angle.sin());
        let p = du * c + dv * s;
        let q = -du * s + dv * c;
        (p / self.a).powi(2) + (q / self.b).powi(2) <= 1.0
    }

    fn mask(&self, g: &PlaneGrid) -> MaskSlice {
        let mut mask = vec![0u8; g.rows * g.cols];
        for r in 0..g.rows {
            for c in 0..g.cols {
                let (u, v) = (c as f64 * g.spacing[1], r as f64 * g.spacing[0]);
                mask[r * g.cols + c] = u8::from(self.inside(u, v));
            }
        }
        MaskSlice {
            grid: g.clone(),
            mask,
        }
    }

    fn axes(&self, g: &PlaneGrid) -> ([[f64; 3]; 2], [[f64; 3]; 2]) {
        let (c, s) = (self.angle.cos(), self.angle.sin());
        let p = |t: f64, n: f64| plane_point(g, self.cu + t * c - n * s, self.cv + t * s + n * c);
        (
            [p(-self.a, 0.0), p(self.a, 0.0)],
            [p(0.0, -self.b), p(0.0, self.b)],
        )
    }

    fn polygon(&self, g: &PlaneGrid, n: usize) -> Vec<[f64; 3]> {
        let (c, s) = (self.angle.cos(), self.angle.sin());
        (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                let (p, q) = (self.a * t.cos(), self.b * t.sin());
                plane_point(g, self.cu + p * c - q * s, self.cv + p * s + q * c)
            })
            .collect()
    }

    fn overlay(&self, g: &PlaneGrid, outline: Outline, label: &str) -> Overlay {
        let (la, sa) = self.axes(g);
        Overlay {
            label: label.to_string(),
            long_axis: Some(la),
            long_axis_mm: 2.0 * self.a,
            short_axis: Some(sa),
            short_axis_mm: 2.0 * self.b,
            outline,
        }
    }
}

/// A smooth synthetic "CT": a body-sized disc of 40 HU in -1000 HU air, the lesion at
/// 90 HU, with a gentle gradient so the resampling is visible.
fn phantom(g: &PlaneGrid, e: &Ellipse) -> SliceImage {
    let (w, h) = (g.cols as f64 * g.spacing[1], g.rows as f64 * g.spacing[0]);
    let mut values = Vec::with_capacity(g.rows * g.cols);
    for r in 0..g.rows {
        for c in 0..g.cols {
            let (u, v) = (c as f64 * g.spacing[1], r as f64 * g.spacing[0]);
            let body = ((u - w / 2.0) / (0.45 * w)).powi(2) + ((v - h / 2.0) / (0.4 * h)).powi(2);
            let hu = if e.inside(u, v) {
                90.0
            } else if body <= 1.0 {
                40.0 + 60.0 * (u / w - 0.5)
            } else {
                -1000.0
            };
            values.push(hu as f32);
        }
    }
    SliceImage::new(g.clone(), values, Some("CT".into()), None, false).unwrap()
}

fn axial(rows: usize, cols: usize, spacing: [f64; 2]) -> PlaneGrid {
    PlaneGrid {
        origin: [-120.0, -110.0, 37.5],
        row_dir: [1.0, 0.0, 0.0],
        col_dir: [0.0, 1.0, 0.0],
        spacing,
        rows,
        cols,
    }
}

/// An oblique plane: rotated 30° about z then tilted 20° about the new row direction.
fn oblique(rows: usize, cols: usize, spacing: [f64; 2]) -> PlaneGrid {
    let (a, b) = (30f64.to_radians(), 20f64.to_radians());
    let row_dir = [a.cos(), a.sin(), 0.0];
    let col0 = [-a.sin(), a.cos(), 0.0];
    let col_dir = [col0[0] * b.cos(), col0[1] * b.cos(), b.sin()];
    PlaneGrid {
        origin: [-80.0, -95.0, 12.25],
        row_dir,
        col_dir,
        spacing,
        rows,
        cols,
    }
}

/// Output pixel of a patient point in the crop, computed from the documented layout
/// (independently of the renderer's own code path).
fn predicted_crop_pixel(g: &PlaneGrid, k: &KeyImageRgb, p: [f64; 3]) -> (i64, i64) {
    let l = &k.layout;
    let d = [p[0] - g.origin[0], p[1] - g.origin[1], p[2] - g.origin[2]];
    let (u, v) = (dot(d, g.row_dir), dot(d, g.col_dir));
    let xd = (u + 0.5 * g.spacing[1]) / l.display_mm - 0.5;
    let yd = (v + 0.5 * g.spacing[0]) / l.display_mm - 0.5;
    let s = f64::from(l.scale);
    (
        ((xd - f64::from(l.crop_x0) + 0.5) * s - 0.5).round() as i64,
        ((yd - f64::from(l.crop_y0) + 0.5) * s - 0.5).round() as i64,
    )
}

fn px(img: &image::RgbImage, (x, y): (i64, i64)) -> [u8; 3] {
    img.get_pixel(x as u32, y as u32).0
}

fn cases() -> Vec<(&'static str, PlaneGrid, Ellipse)> {
    vec![
        (
            "axial",
            axial(160, 180, [0.78125, 0.78125]),
            Ellipse {
                cu: 70.0,
                cv: 55.0,
                a: 21.0,
                b: 12.5,
                angle: 0.35,
            },
        ),
        (
            "anisotropic",
            // 2 mm rows, 0.5 mm columns: a 0.5 mm display pixel, rows shown 4x taller.
            axial(60, 240, [2.0, 0.5]),
            Ellipse {
                cu: 60.0,
                cv: 62.0,
                a: 18.0,
                b: 9.0,
                angle: -0.6,
            },
        ),
        (
            "oblique",
            oblique(128, 128, [0.9, 0.9]),
            Ellipse {
                cu: 50.0,
                cv: 66.0,
                a: 16.0,
                b: 11.0,
                angle: 1.1,
            },
        ),
    ]
}

#[test]
fn axis_end_points_land_on_the_predicted_pixels() {
    for (name, g, e) in cases() {
        let img = phantom(&g, &e);
        let ov = e.overlay(&g, Outline::Mask(e.mask(&g)), name);
        let k = render_key_image_rgb(&img, &ov, &KeyImageOptions::default()).unwrap();
        assert!(k.layout.scale >= 2, "{name}: scale {}", k.layout.scale);
        assert_eq!(
            (k.crop.width(), k.crop.height()),
            (
                k.layout.crop_width * k.layout.scale,
                k.layout.crop_height * k.layout.scale
            )
        );
        let (la, sa) = e.axes(&g);
        for (i, p) in la.iter().enumerate() {
            let at = predicted_crop_pixel(&g, &k, *p);
            assert_eq!(px(&k.crop, at), LA, "{name}: long axis end {p:?} at {at:?}");
            // And the line stops there: 3 px further out along the axis is not drawn.
            let other = predicted_crop_pixel(&g, &k, la[1 - i]);
            let (dx, dy) = ((at.0 - other.0) as f64, (at.1 - other.1) as f64);
            let n = (dx * dx + dy * dy).sqrt();
            let beyond = (
                at.0 + (3.0 * dx / n).round() as i64,
                at.1 + (3.0 * dy / n).round() as i64,
            );
            assert_ne!(px(&k.crop, beyond), LA, "{name}: axis drawn past its end");
        }
        for p in sa {
            let at = predicted_crop_pixel(&g, &k, p);
            assert_eq!(
                px(&k.crop, at),
                SA,
                "{name}: short axis end {p:?} at {at:?}"
            );
        }
        // The drawn long axis is as long on screen as in the patient: display pixels are
        // display_mm square whatever the acquisition spacing.
        let (a, b) = (
            predicted_crop_pixel(&g, &k, la[0]),
            predicted_crop_pixel(&g, &k, la[1]),
        );
        let len_px = (((a.0 - b.0).pow(2) + (a.1 - b.1).pow(2)) as f64).sqrt();
        let mm_per_px = k.layout.display_mm / f64::from(k.layout.scale);
        assert!(
            (len_px * mm_per_px - 2.0 * e.a).abs() < 2.0 * mm_per_px,
            "{name}"
        );
        // Far from the overlay, the crop shows grey only.
        let corner = px(&k.crop, (k.crop.width() as i64 - 2, 40));
        assert_eq!(corner[0], corner[1], "{name}");
    }
}

#[test]
fn anisotropic_pixels_become_square_blocks_of_the_right_size() {
    // One bright pixel on a 2 mm x 0.5 mm grid: it must show as a block 4x taller than wide.
    let g = axial(40, 160, [2.0, 0.5]);
    let mut values = vec![0f32; 40 * 160];
    values[20 * 160 + 80] = 1000.0;
    let img = SliceImage::new(g.clone(), values, Some("MR".into()), None, false).unwrap();
    let centre = plane_point(&g, 80.0 * 0.5, 20.0 * 2.0);
    let ov = Overlay {
        long_axis: Some([add(centre, g.row_dir, -10.0), add(centre, g.row_dir, -8.0)]),
        long_axis_mm: 2.0,
        ..Overlay::default()
    };
    let opts = KeyImageOptions {
        window: WindowChoice::Fixed(Window {
            center: 500.0,
            width: 1000.0,
        }),
        ..KeyImageOptions::default()
    };
    // Text and scale bar in a colour of their own, so white means "the bright pixel".
    let mut opts = opts;
    opts.colours.text = [200, 0, 200];
    let k = render_key_image_rgb(&img, &ov, &opts).unwrap();
    assert_eq!(k.layout.display_mm, 0.5);
    assert_eq!(
        (k.layout.display_width, k.layout.display_height),
        (160, 160)
    );
    let white: Vec<(u32, u32)> = k
        .crop
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 == [255, 255, 255])
        .map(|(x, y, _)| (x, y))
        .collect();
    let (xs, ys): (Vec<u32>, Vec<u32>) = white.iter().copied().unzip();
    let bw = xs.iter().max().unwrap() - xs.iter().min().unwrap() + 1;
    let bh = ys.iter().max().unwrap() - ys.iter().min().unwrap() + 1;
    let s = k.layout.scale;
    assert_eq!((bw, bh), (s, 4 * s), "block of the bright pixel");
    assert_eq!(white.len() as u32, 4 * s * s);
    let (cx, cy) = predicted_crop_pixel(&g, &k, centre);
    assert!(xs.contains(&(cx as u32)) && ys.contains(&(cy as u32)));
}

#[test]
fn window_defaults_follow_the_header_then_ct_soft_tissue_then_min_max() {
    let g = axial(8, 8, [1.0, 1.0]);
    let values: Vec<f32> = (0..64).map(|i| i as f32 * 10.0 - 200.0).collect();
    let ov = Overlay {
        long_axis: Some([plane_point(&g, 2.0, 4.0), plane_point(&g, 5.0, 4.0)]),
        long_axis_mm: 3.0,
        ..Overlay::default()
    };
    let opts = KeyImageOptions {
        min_crop_display_px: 8,
        ..KeyImageOptions::default()
    };
    let grey_of = |img: &SliceImage, idx: usize| {
        let k = render_key_image_rgb(img, &ov, &opts).unwrap();
        let s = k.layout.scale;
        let (r, c) = (idx / 8, idx % 8);
        k.crop
            .get_pixel(c as u32 * s + s / 2, r as u32 * s + s / 2)
            .0[0]
    };
    // CT without a header window: 40/400. Value -200 + 10*i; i = 24 -> 40 HU (mid grey).
    let ct = SliceImage::new(g.clone(), values.clone(), Some("CT".into()), None, false).unwrap();
    assert_eq!(grey_of(&ct, 0), 0); // -200 HU < -160
    assert_eq!(grey_of(&ct, 24), 128); // 40 HU: ((40 - 39.5) / 399 + 0.5) * 255 = 127.8
    assert_eq!(grey_of(&ct, 63), 255); // 430 HU > 240
    // MR without a window: min..max.
    let mr = SliceImage::new(g.clone(), values.clone(), Some("MR".into()), None, false).unwrap();
    assert_eq!(grey_of(&mr, 0), 0);
    assert_eq!(grey_of(&mr, 63), 255);
    // The header window wins; MONOCHROME1 inverts.
    let w = Some(Window {
        center: 0.5,
        width: 2.0,
    });
    let hdr = SliceImage::new(g.clone(), values.clone(), Some("CT".into()), w, false).unwrap();
    assert_eq!(grey_of(&hdr, 19), 0); // -10
    assert_eq!(grey_of(&hdr, 21), 255); // 10
    let inv = SliceImage::new(g.clone(), values, Some("CT".into()), w, true).unwrap();
    assert_eq!(grey_of(&inv, 21), 0);
}

#[test]
fn rendering_is_deterministic_and_png_has_no_varying_chunks() {
    let (_, g, e) = cases().remove(2);
    let img = phantom(&g, &e);
    let ov = e.overlay(&g, Outline::Polygons(vec![e.polygon(&g, 90)]), "L1");
    let a = render_key_image(&img, &ov, &KeyImageOptions::default()).unwrap();
    let b = render_key_image(&img.clone(), &ov.clone(), &KeyImageOptions::default()).unwrap();
    assert_eq!(a, b);
    let png = &a;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let mut chunks = vec![];
    let mut i = 8;
    while i + 8 <= png.len() {
        let len = u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]) as usize;
        chunks.push(String::from_utf8_lossy(&png[i + 4..i + 8]).to_string());
        i += 12 + len;
    }
    assert!(
        chunks
            .iter()
            .all(|c| ["IHDR", "PLTE", "IDAT", "IEND"].contains(&c.as_str())),
        "{chunks:?}"
    );
}

/// The key image PNG holds the crop on top and the whole-slice thumbnail under it, each
/// centred, pixel for pixel as rendered apart, on black; whichever of the two is wider
/// sets the width.
#[test]
fn the_key_image_is_the_crop_above_the_thumbnail() {
    use oncometry::report::keyimage::SHEET_GAP;
    let (_, g, e) = cases().remove(2);
    let img = phantom(&g, &e);
    let ov = e.overlay(&g, Outline::Mask(e.mask(&g)), "L1");
    // Default: a crop wider than the thumbnail. crop_px 96: a crop narrower than the
    // 256 px thumbnail cap lets the thumbnail set the width instead.
    for crop_px in [320, 96] {
        let opts = KeyImageOptions {
            crop_px,
            ..KeyImageOptions::default()
        };
        let k = render_key_image_rgb(&img, &ov, &opts).unwrap();
        let s = k.layout.sheet;
        let (crop, thumb) = (&k.crop, &k.thumbnail);
        assert_eq!(
            s.width,
            crop.width().max(thumb.width()),
            "crop_px {crop_px}"
        );
        assert_eq!(s.height, crop.height() + SHEET_GAP + thumb.height());
        assert_eq!(s.crop_x0, (s.width - crop.width()) / 2);
        assert_eq!(s.thumbnail_x0, (s.width - thumb.width()) / 2);
        assert_eq!(s.thumbnail_y0, crop.height() + SHEET_GAP);
        // What the file holds, decoded.
        let png = render_key_image(&img, &ov, &opts).unwrap();
        let got = image::load_from_memory(&png).unwrap().into_rgb8();
        assert_eq!(
            got, k.key_image,
            "crop_px {crop_px}: PNG and RGB key image differ"
        );
        let mut placed = 0;
        for (x, y, p) in got.enumerate_pixels() {
            let in_crop = x >= s.crop_x0 && x < s.crop_x0 + crop.width() && y < crop.height();
            let (tx, ty) = (
                x.wrapping_sub(s.thumbnail_x0),
                y.wrapping_sub(s.thumbnail_y0),
            );
            let want = if in_crop {
                placed += 1;
                *crop.get_pixel(x - s.crop_x0, y)
            } else if tx < thumb.width() && ty < thumb.height() {
                placed += 1;
                *thumb.get_pixel(tx, ty)
            } else {
                image::Rgb([0, 0, 0])
            };
            assert_eq!(*p, want, "crop_px {crop_px}: pixel ({x}, {y})");
        }
        let area = |i: &image::RgbImage| i.width() * i.height();
        assert_eq!(placed, area(crop) + area(thumb));
    }
    let narrow = render_key_image_rgb(
        &img,
        &ov,
        &KeyImageOptions {
            crop_px: 96,
            ..KeyImageOptions::default()
        },
    )
    .unwrap();
    assert!(
        narrow.crop.width() < narrow.thumbnail.width(),
        "the second case must have the thumbnail wider: {} vs {}",
        narrow.crop.width(),
        narrow.thumbnail.width()
    );
}

#[test]
fn bad_inputs_are_typed_errors() {
    let g = axial(32, 32, [1.0, 1.0]);
    assert!(matches!(
        SliceImage::new(g.clone(), vec![0.0; 10], None, None, false),
        Err(KeyImageError::InvalidImage(_))
    ));
    let mut bad = g.clone();
    bad.spacing = [0.0, 1.0];
    assert!(SliceImage::new(bad, vec![0.0; 1024], None, None, false).is_err());
    let img = SliceImage::new(g.clone(), vec![0.0; 1024], None, None, false).unwrap();
    let opts = KeyImageOptions::default();
    assert_eq!(
        render_key_image(&img, &Overlay::default(), &opts),
        Err(KeyImageError::NothingToDraw)
    );
    let far = Overlay {
        long_axis: Some([plane_point(&g, 500.0, 5.0), plane_point(&g, 510.0, 5.0)]),
        long_axis_mm: 10.0,
        ..Overlay::default()
    };
    assert_eq!(
        render_key_image(&img, &far, &opts),
        Err(KeyImageError::OutsideSlice)
    );
    let nan = Overlay {
        long_axis: Some([[f64::NAN; 3], [f64::NAN; 3]]),
        ..Overlay::default()
    };
    assert_eq!(
        render_key_image(&img, &nan, &opts),
        Err(KeyImageError::NothingToDraw)
    );
    // A mask whose size does not match its grid is ignored, not indexed out of bounds.
    let broken = Overlay {
        outline: Outline::Mask(MaskSlice {
            grid: g.clone(),
            mask: vec![1; 3],
        }),
        long_axis: Some([plane_point(&g, 5.0, 5.0), plane_point(&g, 9.0, 5.0)]),
        long_axis_mm: 4.0,
        ..Overlay::default()
    };
    assert!(render_key_image(&img, &broken, &opts).is_ok());
}

/// The committed golden key images. Set ONCOMETRY_BLESS=1 to rewrite them (then look at
/// them before committing).
fn golden_inputs() -> Vec<(String, SliceImage, Overlay)> {
    let mut out = vec![];
    for (name, g, e) in cases() {
        let img = phantom(&g, &e);
        out.push((
            format!("{name}_mask"),
            img.clone(),
            e.overlay(&g, Outline::Mask(e.mask(&g)), &format!("{name} mask")),
        ));
        let poly = Outline::Polygons(vec![e.polygon(&g, 72)]);
        out.push((
            format!("{name}_polygon"),
            img,
            e.overlay(&g, poly, &format!("{name} contour")),
        ));
    }
    // A real CT slice (pydicom CT_small, header window absent: soft tissue 40/400), with a
    // synthetic lesion outline placed on it.
    let d = decode_slice(&fixture("images/pydicom/CT_small.dcm"), 0).unwrap();
    let g = d.grid.clone().unwrap();
    let img = SliceImage::new(g.clone(), d.values, d.modality, None, false).unwrap();
    let e = Ellipse {
        cu: 45.0,
        cv: 40.0,
        a: 9.0,
        b: 6.0,
        angle: 0.5,
    };
    out.push((
        "ct_small".to_string(),
        img,
        e.overlay(&g, Outline::Mask(e.mask(&g)), "L1 TP0"),
    ));
    out
}

#[test]
fn golden_key_images_match_pixel_for_pixel() {
    let bless = std::env::var_os("ONCOMETRY_BLESS").is_some();
    let dir = fixture("images/golden");
    for (name, img, ov) in golden_inputs() {
        let k = render_key_image_rgb(&img, &ov, &KeyImageOptions::default()).unwrap();
        for (kind, rgb) in [
            ("crop", &k.crop),
            ("thumb", &k.thumbnail),
            ("key", &k.key_image),
        ] {
            let path = dir.join(format!("{name}_{kind}.png"));
            // What a reader sees: the encoded PNG (palette greys), decoded.
            let png = oncometry::report::keyimage::encode_png(rgb).unwrap();
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &png).unwrap();
                continue;
            }
            let rgb = &image::load_from_memory(&png).unwrap().into_rgb8();
            let want = image::open(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .into_rgb8();
            assert_eq!(want.dimensions(), rgb.dimensions(), "{name}_{kind}");
            let diff = want
                .pixels()
                .zip(rgb.pixels())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                diff, 0,
                "{name}_{kind}: {diff} pixels differ from the golden"
            );
        }
    }
}

#[test]
fn the_source_image_is_chosen_then_decoded_from_index_data() {
    use oncometry::dicom::pixels::{
        CandidateImage, SliceRef, decode_candidate, select_source_image,
    };
    // Index data as the DICOM index would give it (values from pydicom, see ref/*.json).
    let ct = ref_entries()
        .into_iter()
        .find(|e| e.file.ends_with("CT_small.dcm"))
        .unwrap();
    let ipp = ct.ipp.clone().unwrap();
    let iop = ct.iop.clone().unwrap();
    let cand = |uid: &str, dz: f64| CandidateImage {
        path: fixture("images/pydicom/CT_small.dcm"),
        sop_instance_uid: uid.to_string().into(),
        position: [ipp[0], ipp[1], ipp[2] + dz],
        orientation: [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]],
        frame: 0,
    };
    let series = vec![cand("a", -5.0), cand("b", 0.0), cand("c", 5.0)];
    let by_pos = SliceRef {
        sop_instance_uids: Vec::new(),
        position_mm: Some(ipp[2] + 1.9),
        normal: [0.0, 0.0, 1.0],
    };
    let chosen = select_source_image(&series, &by_pos).unwrap();
    assert_eq!(chosen.sop_instance_uid, "b");
    let d = decode_candidate(chosen).unwrap();
    assert_eq!((d.rows, d.cols), (ct.rows, ct.cols));
    assert_eq!(d.values, ref_values(&ct));
    let too_far = SliceRef {
        position_mm: Some(ipp[2] + 7.6),
        ..by_pos
    };
    assert!(select_source_image(&series, &too_far).is_err());
}

/// Key images of the corpus objects (SEG by highdicom and dcmqi, RTSTRUCT by rt-utils, SR
/// TID 1500 by highdicom and dcmqi) are drawn on the CT slice the writer recorded as the
/// lesion's longest (ground_truth.json), found through the object's own reference. A
/// decoy image, placed in the series at that slice's position and listed before it, is
/// what position alone would pick.
#[test]
fn key_images_are_drawn_on_the_image_the_object_names() {
    use oncometry::dicom::seg::SegOptions;
    use oncometry::measure::MeasureOptions;
    use oncometry::pipeline::keyimages::{SeriesImages, SourceBy, render_annotation};
    use oncometry::pipeline::measure_stage::{index_export, measure_annotation_keeping};
    use oncometry::report::keyimage::KeyImageOptions;

    let dir = fixture("dicom/corpus");
    let gt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap())
            .unwrap();
    let mut index = index_export(&dir, 1).unwrap();
    // The decoys sort first by UID, so they come first among their series' images.
    let mut decoys = Vec::new();
    for (i, g) in gt["lesions"].as_array().unwrap().iter().enumerate() {
        let uid = g["voxelised_longest_slice_sop_instance_uid"]
            .as_str()
            .unwrap();
        let mut decoy = index.images[uid].clone();
        // another CT file of the series, so that drawing on the decoy works
        decoy.path = index
            .images
            .values()
            .find(|r| r.series_uid == decoy.series_uid && r.path != decoy.path)
            .unwrap()
            .path
            .clone();
        let decoy_uid = format!("0.{i}");
        index.images.insert(decoy_uid.clone(), decoy);
        decoys.push(decoy_uid);
    }
    let series = SeriesImages::new(&dir, &index);
    let lesion_of = |id: &str| {
        gt["lesions"].as_array().unwrap().iter().find(|g| {
            [
                "label",
                "seg_tracking_uid",
                "sr_tracking_uid",
                "dcmqi_seg_tracking_uid",
                "dcmqi_sr_tracking_uid",
            ]
            .iter()
            .any(|k| g[*k].as_str() == Some(id))
        })
    };
    let measure = |a, keep_shapes| {
        measure_annotation_keeping(
            &dir,
            &index,
            a,
            &MeasureOptions::default(),
            &SegOptions::default(),
            keep_shapes,
        )
    };
    let mut checked = BTreeMap::new();
    for a in index
        .annotations
        .iter()
        .filter(|a| a.patient_id == "SYN0001")
    {
        let m = measure(a, true);
        let (images, missing) =
            render_annotation(&series, a, &m.rows, &m.shapes, &KeyImageOptions::default());
        assert!(missing.is_empty(), "{}: {missing:?}", a.path);
        for im in images {
            let Some(g) = lesion_of(&im.lesion_id) else {
                continue;
            };
            let want = g["voxelised_longest_slice_sop_instance_uid"]
                .as_str()
                .unwrap();
            assert_eq!(
                (im.source_sop_instance_uid.as_str(), im.source_by),
                (want, Some(SourceBy::Reference)),
                "{} {}",
                a.path,
                im.lesion_id
            );
            *checked.entry(a.path.clone()).or_insert(0) += 1;
        }
    }
    let lesions = gt["lesions"].as_array().unwrap().len();
    for file in [
        "seg_binary_highdicom.dcm",
        "seg_dcmqi.dcm",
        "seg_fractional_highdicom.dcm",
        "rtstruct_rtutils.dcm",
        "sr_tid1500_highdicom.dcm",
    ] {
        assert_eq!(checked.get(file), Some(&lesions), "{file}: {checked:?}");
    }
    // dcmqi's SR carries the lengths without their lines: nothing to draw.
    assert_eq!(checked.get("sr_tid1500_dcmqi.dcm"), None);
    // Without the object's reference the decoy is what the series offers at that position.
    let a = index
        .annotations
        .iter()
        .find(|a| a.path == "seg_binary_highdicom.dcm")
        .unwrap();
    let m = measure(a, false);
    let (images, missing) = render_annotation(
        &series,
        a,
        &m.rows,
        &Default::default(),
        &KeyImageOptions::default(),
    );
    assert_eq!(images.len(), lesions, "{missing:?}");
    for im in images {
        assert_eq!(im.source_by, Some(SourceBy::Position));
        assert!(
            decoys.contains(&im.source_sop_instance_uid),
            "{}",
            im.source_sop_instance_uid
        );
    }
}
