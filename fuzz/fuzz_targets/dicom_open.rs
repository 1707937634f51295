//! Whole-file read, `open::open_full` (what `oncometry measure` does to every annotation
//! object): Part 10, meta without preamble, and the bare-data-set fallback. Must return an
//! error, never panic, hang or blow up memory.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use oncometry::dicom::open;

fuzz_target!(|data: &[u8]| {
    let Some(path) = common::to_file(data) else {
        return;
    };
    if let Ok(opened) = open::open_full(path, common::FILE) {
        common::walk(&opened.obj, 0);
    }
});
