//! Pixel data decoding (native, RLE, JPEG, JPEG 2000, deflate) of arbitrary files.
//!
//! The guard on the declared frame size mirrors what a reader must check before decoding
//! (the file's declared Rows × Columns × frames decides the allocation); without it the
//! fuzzer only finds "allocates what the header says".
//!
//! TODO(lead, after merging branch `dicom`): replace the body with the series/frame reader in
//! `oncometry::dicom::pixels` so its own size checks (`open::expected_native_len`) are fuzzed.
#![no_main]

mod common;

use dicom_dictionary_std::tags;
use dicom_pixeldata::PixelDecoder;
use libfuzzer_sys::fuzz_target;

const MAX_BYTES: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let Some(obj) = common::open(data) else {
        return;
    };
    let num = |tag| {
        obj.element(tag)
            .ok()
            .and_then(|e| e.to_int::<u64>().ok())
            .unwrap_or(1)
    };
    let declared = num(tags::ROWS)
        .saturating_mul(num(tags::COLUMNS))
        .saturating_mul(num(tags::NUMBER_OF_FRAMES))
        .saturating_mul(num(tags::SAMPLES_PER_PIXEL))
        .saturating_mul(num(tags::BITS_ALLOCATED).div_ceil(8).max(1));
    if declared > MAX_BYTES {
        return;
    }
    if let Ok(decoded) = obj.decode_pixel_data() {
        let _ = decoded.to_vec::<f32>();
    }
});
