//! Header read, as `oncometry index` reads every file of an export: `open::sniff` on the
//! first bytes, then `open::open(.., ReadMode::Header)` (stops before Pixel Data, checks the
//! declared pixel data fits the file) and `open::expected_native_len` on what it returns.
//! Bad input must come back as `Probe::NotDicom` or `Err(DicomError)`, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use oncometry::dicom::open::{self, ReadMode};

fuzz_target!(|data: &[u8]| {
    let _ = open::sniff(&data[..data.len().min(132)]);
    if let Some(opened) = common::open_bytes(data, ReadMode::Header) {
        let _ = open::expected_native_len(&opened.obj, common::FILE);
        common::walk(&opened.obj, 0);
    }
});
