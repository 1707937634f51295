//! Shared by the targets: open a byte buffer the way the readers open a file.

use dicom_object::{DefaultDicomObject, OpenFileOptions, ReadPreamble};

/// A whole DICOM file (128-byte preamble + `DICM` + meta + data set, or meta without the
/// preamble), with the standard dictionary and transfer-syntax registry.
#[allow(dead_code)]
pub fn open(data: &[u8]) -> Option<DefaultDicomObject> {
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .from_reader(data)
        .ok()
}

/// Touches every element of `obj` and its nested items as a reader would (string and number
/// conversions), so value decoding is fuzzed too, not only the parser.
#[allow(dead_code)]
pub fn walk(obj: &dicom_object::InMemDicomObject, depth: usize) {
    if depth > 16 {
        return;
    }
    for elem in obj {
        let _ = elem.to_str();
        let _ = elem.to_multi_float64();
        let _ = elem.to_int::<i64>();
        if let Some(items) = elem.items() {
            for item in items {
                walk(item, depth + 1);
            }
        }
    }
}
