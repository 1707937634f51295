//! RTSTRUCT (ROIs, contour data triplets, referenced series): `open::open_full` (which takes
//! bare data sets without file meta, as pydicom's `rtstruct.dcm`) then
//! `rtstruct::read_rtstruct`. Every malformed input must give `Err(DicomError)`, never a
//! panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use oncometry::dicom::open::ReadMode;
use oncometry::dicom::rtstruct;

fuzz_target!(|data: &[u8]| {
    let Some(opened) = common::open_bytes(data, ReadMode::Full) else {
        return;
    };
    let _ = rtstruct::read_rtstruct(&opened.obj, common::FILE);
});
