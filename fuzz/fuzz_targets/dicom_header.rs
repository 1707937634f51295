//! Header-only parse (stop before Pixel Data), as `oncometry index` reads every file.
//!
//! TODO(lead, after merging branch `dicom`): also call the indexer's own entry points on the
//! same bytes: `oncometry::dicom::open::sniff(data)` directly, and
//! `oncometry::dicom::open::open(path, "fuzz", ReadMode::Header)` on a temporary file (or a
//! from-bytes variant if the reader grows one).
#![no_main]

mod common;

use dicom_dictionary_std::tags;
use dicom_object::{OpenFileOptions, ReadPreamble};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .read_until(tags::PIXEL_DATA)
        .from_reader(data)
    {
        common::walk(&obj, 0);
    }
});
