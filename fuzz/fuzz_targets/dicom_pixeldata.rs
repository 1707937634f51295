//! Pixel data decoding (native, RLE, JPEG, JPEG-LS, JPEG 2000, deflate) through the key-image
//! reader `oncometry::dicom::pixels::decode_slice`, so its own header checks (samples,
//! photometric interpretation, frame range, rescale, plane geometry) are fuzzed with it.
//!
//! The frame number comes from the first byte of the input: in a Part 10 file that is the
//! preamble, which the parser ignores, so the fuzzer can vary the frame without changing the
//! object. `decode_slice` turns a codec panic into `PixelError::Decode`, but libFuzzer's
//! panic hook aborts first, so a panic still shows up here as a crash: triage its backtrace
//! (third-party codec, caught in production, or our code).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use oncometry::dicom::pixels;

fuzz_target!(|data: &[u8]| {
    let frame = u32::from(data.first().copied().unwrap_or(0) & 3);
    let Some(path) = common::to_file(data) else {
        return;
    };
    if let Ok(slice) = pixels::decode_slice(path, frame) {
        std::hint::black_box(&slice);
    }
});
