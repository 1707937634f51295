//! Shared by the targets: hand the fuzz input to the project's own readers.
//!
//! `oncometry::dicom::open::open` and `pixels::decode_slice` take a path (the batch reads
//! files, and the header read reuses the file handle to check that the declared pixel data
//! fits the file size), so each input is written to one scratch file per fuzzing process and
//! opened from there. That keeps the sniffing, the no-meta fallback and the size checks in
//! the fuzzed path instead of a parallel in-memory copy of them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dicom_object::InMemDicomObject;
use oncometry::dicom::open::{self, Opened, Probe, ReadMode};

/// Name used in the readers' error messages.
pub const FILE: &str = "fuzz-input";

/// The scratch file of this process (pid in the name, so parallel `-jobs`/`-fork` workers
/// never share one). Prefers /dev/shm to keep the per-iteration write off the disk.
fn scratch() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("oncometry-fuzz-{}.dcm", std::process::id()))
    })
}

/// Writes `data` to the scratch file; `None` only if the file system refuses (not a finding).
#[allow(dead_code)]
pub fn to_file(data: &[u8]) -> Option<&'static Path> {
    let path = scratch();
    std::fs::write(path, data).ok()?;
    Some(path)
}

/// `open::open` on the bytes: `Some` when the project accepts them as DICOM.
#[allow(dead_code)]
pub fn open_bytes(data: &[u8], mode: ReadMode) -> Option<Opened> {
    let path = to_file(data)?;
    match open::open(path, FILE, mode) {
        Ok(Probe::Dicom(opened)) => Some(*opened),
        Ok(Probe::NotDicom(_)) | Err(_) => None,
    }
}

/// Touches every element of `obj` and its nested items as a reader would (string and number
/// conversions), so value decoding is fuzzed too, not only the parser.
#[allow(dead_code)]
pub fn walk(obj: &InMemDicomObject, depth: usize) {
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
