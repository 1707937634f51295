//! SR TID 1500 (measurement groups, linear measurements, SCOORD/SCOORD3D, UCUM units):
//! `open::open_full` then `sr::read_sr`. Every malformed input must give
//! `Err(DicomError)` or a report with what could be read, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use oncometry::dicom::open::ReadMode;
use oncometry::dicom::sr;

fuzz_target!(|data: &[u8]| {
    let Some(opened) = common::open_bytes(data, ReadMode::Full) else {
        return;
    };
    let _ = sr::read_sr(&opened.obj, common::FILE);
});
