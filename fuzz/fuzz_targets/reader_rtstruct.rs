//! RTSTRUCT (ROI contours, contour data triplets).
//!
//! TODO(lead, after merging branch `dicom`): this target is a placeholder until the reader
//! lands in main. Replace the walk below with `oncometry::dicom::rtstruct::read_rtstruct(&obj, "fuzz")` (it must return
//! `Err(DicomError)` for every malformed input, never panic). Until then it fuzzes the part of
//! the object the reader will read.
#![no_main]

mod common;

use dicom_dictionary_std::tags;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(obj) = common::open(data) else {
        return;
    };
    if let Ok(seq) = obj.element(tags::ROI_CONTOUR_SEQUENCE) {
        if let Some(items) = seq.items() {
            for item in items {
                common::walk(item, 0);
            }
        }
    }
});
