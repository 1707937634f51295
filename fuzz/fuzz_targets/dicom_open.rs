//! Whole-file parse of arbitrary bytes with dicom-object (what `oncometry measure` does to
//! every annotation object). Must return an error, never panic, hang or blow up memory.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(obj) = common::open(data) {
        common::walk(&obj, 0);
    }
});
