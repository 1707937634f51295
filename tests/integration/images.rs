//! Integration tests: images (issue 8). Decoding is checked value for value against
//! pydicom's arrays (fixtures/images/ref, made by scripts/export_pydicom_arrays.py);
//! rendering against analytic geometry, committed golden PNGs and itself (determinism).

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
    // 11 pydicom files + 2 generated ones; a shrinking index would weaken the test.
    assert!(checked >= 13, "only {checked} files checked");
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
