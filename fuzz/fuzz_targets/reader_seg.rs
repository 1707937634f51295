//! DICOM SEG (segments, per-frame functional groups, frame → plane mapping, BINARY bit
//! unpacking, FRACTIONAL thresholds): `open::open_full` then `seg::read_seg`. Every malformed
//! input must give `Err(DicomError)`, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use oncometry::dicom::open::ReadMode;
use oncometry::dicom::seg::{self, SegOptions};

fuzz_target!(|data: &[u8]| {
    let Some(opened) = common::open_bytes(data, ReadMode::Full) else {
        return;
    };
    let _ = seg::read_seg(&opened.obj, common::FILE, &SegOptions::default());
});
