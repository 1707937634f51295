//! Decoding one source image for a key image: pick the slice a measurement was made on, then
//! decode just that image to rescaled `f32` values with its plane geometry.
//!
//! Key images are a courtesy on top of the numbers, so every failure here is a typed error
//! with a reason the pipeline can log while the lesion row keeps its measurement.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use dicom_core::header::HasLength;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_pixeldata::{PixelDecoder, PixelRepresentation};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use super::attrs::str_opt;
use crate::measure::types::PlaneGrid;

/// One image of the referenced series, as much as slice selection needs. The DICOM index
/// already holds these fields; `frame` is 0 for classic single-frame images.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateImage<'a> {
    pub path: PathBuf,
    /// Borrowed from the index when the run makes candidates (one per image of a series,
    /// for every annotation object), owned where a test or a caller builds one.
    pub sop_instance_uid: std::borrow::Cow<'a, str>,
    /// ImagePositionPatient (centre of the first pixel), patient mm.
    pub position: [f64; 3],
    /// ImageOrientationPatient: row direction then column direction.
    pub orientation: [f64; 6],
    /// Frame number (0-based) inside a multi-frame file.
    pub frame: u32,
}

/// How a measurement names the slice it was made on.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceRef {
    /// The images the measurement names as its own (a SEG frame's derivation source images,
    /// an RTSTRUCT contour's ContourImageSequence, an SR SCOORD's image), tried first:
    /// usually one; a frame derived from several images names them all.
    pub sop_instance_uids: Vec<String>,
    /// The slice position along `normal` (`Measurement::slice_position_mm`), used when there
    /// is no UID or it is not among the candidates.
    pub position_mm: Option<f64>,
    /// Unit normal of the measured plane (row_dir × col_dir of the mask grid). Positions of
    /// candidates are `dot(ImagePositionPatient, normal)`; only candidates whose own normal
    /// is parallel to it are considered, so a localizer in the series is never picked.
    pub normal: [f64; 3],
}

impl SliceRef {
    /// The slice through a point of the measurement (e.g. a long-axis end point), whatever
    /// sign convention produced `Measurement::slice_position_mm`: mask measurements use
    /// row_dir × col_dir, contour measurements a Newell normal with its largest component
    /// positive. Using a point avoids mixing the two.
    pub fn through_point(
        sop_instance_uids: Vec<String>,
        point: [f64; 3],
        normal: [f64; 3],
    ) -> SliceRef {
        let position_mm = unit(normal).map(|n| dot(point, n));
        SliceRef {
            sop_instance_uids,
            position_mm,
            normal,
        }
    }
}

/// Why no source image could be chosen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    #[error("no candidate images in the referenced series")]
    NoCandidates,
    #[error(
        "referenced SOP instance {} is not in the series and no slice position is known",
        uids.join(", ")
    )]
    UidNotFound { uids: Vec<String> },
    #[error("no slice reference: neither a SOP instance UID nor a slice position")]
    NoReference,
    #[error("the plane normal is not a finite non-zero vector")]
    InvalidNormal,
    #[error("no image of the series is parallel to the measured plane")]
    NoParallelImage,
    #[error(
        "nearest image is {distance_mm:.3} mm from slice position {position_mm:.3} mm \
         (tolerance: half the slice spacing, {tolerance_mm:.3} mm)"
    )]
    TooFar {
        position_mm: f64,
        distance_mm: f64,
        tolerance_mm: f64,
    },
}

/// Cosine above which two plane normals count as parallel (about 0.8°).
const PARALLEL_COS: f64 = 0.9999;
/// Tolerance when the series has a single parallel image and so no slice spacing.
const SINGLE_IMAGE_TOLERANCE_MM: f64 = 0.5;

/// Chooses the source image of a long-axis slice: the image the measurement names when it
/// is one of the candidates (of several named, the one nearest the slice position), else
/// the nearest parallel candidate along the normal, accepted only within half the series'
/// slice spacing (the median gap between distinct positions).
///
/// A named image is taken as it is, as a workstation does: the reference is how the reader
/// (or the segmentation tool) recorded the slice, and it tells apart images at one position
/// (a repeated acquisition kept in the series), which geometry cannot.
pub fn select_source_image<'a>(
    candidates: &'a [CandidateImage<'_>],
    slice: &SliceRef,
) -> Result<&'a CandidateImage<'a>, SelectError> {
    if candidates.is_empty() {
        return Err(SelectError::NoCandidates);
    }
    let named: Vec<&CandidateImage<'_>> = slice
        .sop_instance_uids
        .iter()
        .filter_map(|uid| candidates.iter().find(|c| c.sop_instance_uid == *uid))
        .collect();
    let along = |c: &CandidateImage<'_>| {
        let p = slice.position_mm?;
        let n = unit(slice.normal)?;
        let d = (dot(c.position, n) - p).abs();
        d.is_finite().then_some(d)
    };
    if let Some(&first) = named.first() {
        // Ties, and images without a usable position, keep the order the reference names.
        let nearest = named
            .iter()
            .filter_map(|&c| along(c).map(|d| (c, d)))
            .reduce(|best, x| if x.1 < best.1 { x } else { best });
        return Ok(nearest.map_or(first, |(c, _)| c));
    }
    let Some(position_mm) = slice.position_mm.filter(|p| p.is_finite()) else {
        return Err(if slice.sop_instance_uids.is_empty() {
            SelectError::NoReference
        } else {
            SelectError::UidNotFound {
                uids: slice.sop_instance_uids.clone(),
            }
        });
    };
    let normal = unit(slice.normal).ok_or(SelectError::InvalidNormal)?;
    let parallel: Vec<(&CandidateImage<'_>, f64)> = candidates
        .iter()
        .filter(|c| {
            candidate_normal(c).is_some_and(|n| dot(n, normal).abs() >= PARALLEL_COS)
                && c.position.iter().all(|v| v.is_finite())
        })
        .map(|c| (c, dot(c.position, normal)))
        .collect();
    if parallel.is_empty() {
        return Err(SelectError::NoParallelImage);
    }
    let tolerance_mm = slice_spacing(parallel.iter().map(|(_, p)| *p))
        .map_or(SINGLE_IMAGE_TOLERANCE_MM, |s| s / 2.0);
    // Ties (duplicate positions) go to the first candidate so the choice is reproducible.
    let mut best = parallel[0];
    for &(c, p) in &parallel[1..] {
        if (p - position_mm).abs() < (best.1 - position_mm).abs() {
            best = (c, p);
        }
    }
    let distance_mm = (best.1 - position_mm).abs();
    if distance_mm > tolerance_mm + 1e-6 {
        return Err(SelectError::TooFar {
            position_mm,
            distance_mm,
            tolerance_mm,
        });
    }
    Ok(best.0)
}

/// Median gap between distinct sorted positions; `None` with fewer than two positions.
fn slice_spacing(positions: impl Iterator<Item = f64>) -> Option<f64> {
    let mut p: Vec<f64> = positions.collect();
    p.sort_by(f64::total_cmp);
    p.dedup_by(|a, b| (*a - *b).abs() < 1e-4);
    let mut gaps: Vec<f64> = p.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    Some(gaps[gaps.len() / 2])
}

fn candidate_normal(c: &CandidateImage<'_>) -> Option<[f64; 3]> {
    let o = c.orientation;
    unit(cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]))
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn unit(v: [f64; 3]) -> Option<[f64; 3]> {
    let n = dot(v, v).sqrt();
    (n.is_finite() && n > 1e-9).then(|| [v[0] / n, v[1] / n, v[2] / n])
}

/// One decoded greyscale image, free of DICOM types.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSlice {
    pub rows: usize,
    pub cols: usize,
    /// Modality values (stored value × RescaleSlope + RescaleIntercept, computed in f64 and
    /// rounded once to f32, as pydicom's `apply_modality_lut` then `astype(float32)`),
    /// row-major.
    pub values: Vec<f32>,
    /// Plane geometry from ImagePositionPatient / ImageOrientationPatient / PixelSpacing
    /// (top level, else the enhanced multi-frame functional groups). `None` when the file
    /// does not place the image in patient space (e.g. secondary capture, NM projection).
    pub grid: Option<PlaneGrid>,
    pub modality: Option<String>,
    /// First WindowCenter / WindowWidth pair, when present and usable (width > 0).
    pub window: Option<(f64, f64)>,
    pub photometric_interpretation: String,
    pub sop_instance_uid: Option<String>,
    pub transfer_syntax: String,
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
}

/// Why an image could not be decoded. `UnsupportedTransferSyntax` and `UnsupportedImage`
/// are the expected, benign cases (the key image is simply missing).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PixelError {
    #[error("{path}: cannot read as DICOM: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path}: transfer syntax {uid} ({name}) is not decodable here: {reason}")]
    UnsupportedTransferSyntax {
        path: PathBuf,
        uid: String,
        name: String,
        reason: String,
    },
    #[error("{path}: unsupported image: {reason}")]
    UnsupportedImage { path: PathBuf, reason: String },
    #[error("{path}: invalid {attribute}: {reason}")]
    InvalidHeader {
        path: PathBuf,
        attribute: &'static str,
        reason: String,
    },
    #[error("{path}: frame {frame} out of range (the file has {frames} frames)")]
    FrameOutOfRange {
        path: PathBuf,
        frame: u32,
        frames: u32,
    },
    #[error("{path}: could not decode pixel data: {reason}")]
    Decode { path: PathBuf, reason: String },
}

impl PixelError {
    /// True when the codec or image kind is not supported (as opposed to a broken file).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            PixelError::UnsupportedTransferSyntax { .. } | PixelError::UnsupportedImage { .. }
        )
    }
}

const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";

/// Reads one file and decodes one frame of it (0 for single-frame images).
///
/// The whole file is read (dicom-object has no lazy pixel access) but only the requested
/// frame is decoded, and nothing else is kept: one image in memory per caller. Any panic in
/// a third-party codec is caught and reported as `Decode`, so a hostile file cannot stop a
/// batch.
pub fn decode_slice(path: &Path, frame: u32) -> Result<DecodedSlice, PixelError> {
    match catch_unwind(AssertUnwindSafe(|| {
        decode_slice_inner(path, frame, Route::Native)
    })) {
        Ok(result) => result,
        Err(panic) => Err(PixelError::Decode {
            path: path.to_path_buf(),
            reason: format!("decoder panicked: {}", panic_message(&panic)),
        }),
    }
}

/// Decodes the image a `CandidateImage` points to.
pub fn decode_candidate(candidate: &CandidateImage<'_>) -> Result<DecodedSlice, PixelError> {
    decode_slice(&candidate.path, candidate.frame)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Opens an image file whole through `open::open_full`, which checks declared lengths
/// first (dicom-object reserves them up front) and inflates a deflated file once, in one
/// call (dicom-object's own `open_file` inflated it a few bytes at a time, after the length
/// check had inflated it once already). The pixel decoder reads the transfer syntax from a
/// file meta table, so one is rebuilt around the data set.
fn open_image(path: &Path) -> Result<DefaultDicomObject, PixelError> {
    let open_err = |reason: String| PixelError::Open {
        path: path.to_path_buf(),
        reason,
    };
    let opened = super::open::open_full(path, &path.display().to_string())
        .map_err(|e| open_err(e.reason()))?;
    if opened.bare {
        return Err(open_err(
            "no file meta group (no transfer syntax to decode the pixels with)".into(),
        ));
    }
    let sop_class = opened
        .media_sop_class
        .clone()
        .or_else(|| str_opt(&opened.obj, tags::SOP_CLASS_UID))
        .unwrap_or_default();
    let sop_instance = str_opt(&opened.obj, tags::SOP_INSTANCE_UID).unwrap_or_default();
    let meta = dicom_object::meta::FileMetaTableBuilder::new()
        .transfer_syntax(opened.transfer_syntax.as_str())
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .build()
        .map_err(|e| open_err(format!("file meta: {e}")))?;
    Ok(opened.obj.with_exact_meta(meta))
}

/// How `decode_slice_inner` gets to the pixels. Tests compare the three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `open::open_native_image` when it takes the file (explicit VR little endian,
    /// deflated or not), else as `Object`.
    Native,
    /// The whole file parsed into an object; native pixel data read in place from it
    /// (what `Native` falls back to; tests take it directly).
    #[cfg(test)]
    Object,
    /// As `Object`, with native pixel data too through dicom-pixeldata.
    Codec,
}

fn decode_slice_inner(path: &Path, frame: u32, route: Route) -> Result<DecodedSlice, PixelError> {
    if route == Route::Native {
        let native =
            super::open::open_native_image(path, &path.display().to_string()).map_err(|e| {
                PixelError::Open {
                    path: path.to_path_buf(),
                    reason: e.reason(),
                }
            })?;
        if let Some(img) = native {
            let h = Header {
                obj: &img.opened.obj,
                path,
            };
            let ts = &img.opened.transfer_syntax;
            // a frame it cannot read in place goes the general way below
            if let Some(samples) = native_frame(&h, ts, frame, Some(img.pixel_bytes())) {
                return decode_with(&h, ts, frame, Pixels::InPlace(samples));
            }
        }
    }
    let obj = open_image(path)?;
    let h = Header { obj: &obj, path };
    let ts_uid = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_string();
    let pixels = Pixels::Object {
        obj: &obj,
        via_codec: route == Route::Codec,
    };
    decode_with(&h, &ts_uid, frame, pixels)
}

/// Where a frame's stored samples come from.
enum Pixels<'o> {
    /// Already read in place from the file (`native_frame`).
    InPlace(Samples<'o>),
    /// The object's PixelData: in place when native (unless `via_codec`), else through
    /// dicom-pixeldata.
    Object {
        obj: &'o DefaultDicomObject,
        via_codec: bool,
    },
}

/// Decodes `frame` of the image `h` describes.
fn decode_with(
    h: &Header<'_>,
    ts_uid: &str,
    frame: u32,
    pixels: Pixels<'_>,
) -> Result<DecodedSlice, PixelError> {
    let path = h.path;
    check_transfer_syntax(h, ts_uid)?;

    let samples = h
        .int("SamplesPerPixel", tags::SAMPLES_PER_PIXEL)?
        .unwrap_or(1);
    if samples != 1 {
        return Err(h.unsupported(format!(
            "{samples} samples per pixel: key images are drawn from greyscale CT/MR only"
        )));
    }
    let photometric = h
        .string(tags::PHOTOMETRIC_INTERPRETATION)
        .unwrap_or_else(|| "MONOCHROME2".to_string());
    if photometric != "MONOCHROME1" && photometric != "MONOCHROME2" {
        return Err(h.unsupported(format!(
            "photometric interpretation {photometric} is not greyscale"
        )));
    }
    let frames = h
        .int("NumberOfFrames", tags::NUMBER_OF_FRAMES)?
        .unwrap_or(1)
        .max(1);
    if i64::from(frame) >= frames {
        return Err(PixelError::FrameOutOfRange {
            path: path.to_path_buf(),
            frame,
            frames: u32::try_from(frames).unwrap_or(u32::MAX),
        });
    }
    let (slope, intercept) = rescale(h, frame)?;
    let grid = plane_grid(h, frame)?;

    let decoded;
    let samples = match pixels {
        Pixels::InPlace(s) => s,
        Pixels::Object { obj, via_codec } => {
            match (!via_codec)
                .then(|| native_frame(h, ts_uid, frame, None))
                .flatten()
            {
                Some(s) => s,
                None => {
                    decoded = obj
                        .decode_pixel_data_frame(frame)
                        .map_err(|e| decode_error(path, ts_uid, &e))?;
                    Samples {
                        data: decoded.data(),
                        rows: decoded.rows() as usize,
                        cols: decoded.columns() as usize,
                        bits_allocated: decoded.bits_allocated(),
                        bits_stored: decoded.bits_stored(),
                        signed: decoded.pixel_representation() == PixelRepresentation::Signed,
                    }
                }
            }
        }
    };
    let (rows, cols) = (samples.rows, samples.cols);
    if rows == 0 || cols == 0 {
        return Err(h.invalid("Rows/Columns", "zero image size".to_string()));
    }
    let values = modality_values(
        h,
        samples.data,
        rows * cols,
        samples.bits_allocated,
        samples.bits_stored,
        samples.signed,
        (slope, intercept),
    )?;
    let grid = grid.map(|mut g| {
        g.rows = rows;
        g.cols = cols;
        g
    });
    Ok(DecodedSlice {
        rows,
        cols,
        values,
        grid,
        modality: h.string(tags::MODALITY),
        window: window(h),
        photometric_interpretation: photometric,
        sop_instance_uid: h.string(tags::SOP_INSTANCE_UID),
        transfer_syntax: ts_uid.to_string(),
        rescale_slope: slope,
        rescale_intercept: intercept,
    })
}

/// One frame's stored samples as the value's `to_bytes` gives them (native byte order for
/// the usual 8-bit OB and 16-bit OW data, exactly what dicom-pixeldata copies out in every
/// case), and how to read them.
struct Samples<'a> {
    data: &'a [u8],
    rows: usize,
    cols: usize,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
}

/// The frame's samples straight from a native (not encapsulated) Pixel Data value: the
/// bytes dicom-pixeldata's `decode_pixel_data_frame` would copy out, without the copy and
/// without its dozen attribute reads, each absent optional one of which builds an error
/// (with a backtrace when `RUST_BACKTRACE` is set: 0.3 M instructions per key image).
/// `None` for anything else (encapsulated data, 1-bit or odd sample sizes, missing or odd
/// attributes, short data), which then goes through dicom-pixeldata as before.
fn native_frame<'o>(
    h: &Header<'o>,
    ts_uid: &str,
    frame: u32,
    value: Option<&'o [u8]>,
) -> Option<Samples<'o>> {
    let ts = TransferSyntaxRegistry.get(ts_uid)?;
    if ts.is_encapsulated_pixel_data() || !ts.can_decode_all() {
        return None;
    }
    // What dicom-pixeldata requires before it decodes, so that a file it refuses (as
    // pydicom does: no HighBit, PhotometricInterpretation or SamplesPerPixel) is still
    // refused with its reason rather than decoded here.
    let present = |tag| h.obj.get(tag).is_some();
    if !present(tags::SAMPLES_PER_PIXEL)
        || !present(tags::PHOTOMETRIC_INTERPRETATION)
        || !present(tags::HIGH_BIT)
    {
        return None;
    }
    let int = |tag| h.int("", tag).ok().flatten();
    let dim = |tag| usize::try_from(int(tag)?).ok().filter(|&n| n > 0);
    let (rows, cols) = (dim(tags::ROWS)?, dim(tags::COLUMNS)?);
    let bits_allocated = u16::try_from(int(tags::BITS_ALLOCATED)?).ok()?;
    let bits_stored = u16::try_from(int(tags::BITS_STORED)?).ok()?;
    let signed = match int(tags::PIXEL_REPRESENTATION)? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let bytes = match bits_allocated {
        8 => 1,
        16 => 2,
        32 => 4,
        _ => return None,
    };
    let data = match value {
        // the value as stored: little endian, which is native order only on such a CPU
        Some(v) if cfg!(target_endian = "little") => v,
        Some(_) => return None,
        None => {
            let dicom_core::DicomValue::Primitive(p) = h.obj.get(tags::PIXEL_DATA)?.value() else {
                return None;
            };
            // OB and OW values as the readers give them; `to_bytes` borrows both in native
            // order.
            let (dicom_core::PrimitiveValue::U8(_) | dicom_core::PrimitiveValue::U16(_)) = p else {
                return None;
            };
            let std::borrow::Cow::Borrowed(data) = p.to_bytes() else {
                return None;
            };
            data
        }
    };
    let size = rows.checked_mul(cols)?.checked_mul(bytes)?;
    let start = size.checked_mul(frame as usize)?;
    let data = data.get(start..start.checked_add(size)?)?;
    Some(Samples {
        data,
        rows,
        cols,
        bits_allocated,
        bits_stored,
        signed,
    })
}

/// Rejects, before any decoding, the transfer syntaxes this build cannot decode, so the
/// error says why instead of a generic codec failure.
fn check_transfer_syntax(h: &Header<'_>, ts_uid: &str) -> Result<(), PixelError> {
    let unsupported = |name: &str, reason: &str| PixelError::UnsupportedTransferSyntax {
        path: h.path.to_path_buf(),
        uid: ts_uid.to_string(),
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let Some(ts) = TransferSyntaxRegistry.get(ts_uid) else {
        return Err(unsupported(
            "unknown",
            "not a transfer syntax this build knows",
        ));
    };
    if !ts.can_decode_all() {
        return Err(unsupported(
            ts.name(),
            "no pixel data decoder in this build (JPEG-LS needs the `charls` feature, \
             i.e. the CharLS C++ library)",
        ));
    }
    if ts_uid == JPEG_EXTENDED {
        let bits = h.int("BitsStored", tags::BITS_STORED)?.unwrap_or(8);
        if bits > 8 {
            return Err(unsupported(
                ts.name(),
                "12-bit JPEG extended: the pure-Rust jpeg-decoder reads 8-bit JPEG only",
            ));
        }
    }
    Ok(())
}

fn decode_error(path: &Path, ts_uid: &str, e: &dicom_pixeldata::Error) -> PixelError {
    let reason = e.to_string();
    if reason.starts_with("Unsupported TransferSyntax") {
        PixelError::UnsupportedTransferSyntax {
            path: path.to_path_buf(),
            uid: ts_uid.to_string(),
            name: ts_name(ts_uid),
            reason,
        }
    } else {
        let detail = std::error::Error::source(e)
            .map(|s| format!("{reason}: {s}"))
            .unwrap_or(reason);
        PixelError::Decode {
            path: path.to_path_buf(),
            reason: detail,
        }
    }
}

fn ts_name(uid: &str) -> String {
    TransferSyntaxRegistry
        .get(uid)
        .map_or_else(|| "unknown".to_string(), |t| t.name().to_string())
}

/// Modality values of one frame: the stored values as pydicom's `pixel_array` gives them
/// (unsigned data masked to BitsStored, signed data sign-extended from BitsStored), times
/// the slope plus the intercept in f64, rounded once to f32. One pass, no temporary.
fn modality_values(
    h: &Header<'_>,
    data: &[u8],
    n: usize,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    (slope, intercept): (f64, f64),
) -> Result<Vec<f32>, PixelError> {
    let bytes = match bits_allocated {
        8 => 1,
        16 => 2,
        32 => 4,
        other => {
            return Err(h.unsupported(format!("BitsAllocated {other} (expected 8, 16 or 32)")));
        }
    };
    let bits_stored = if bits_stored == 0 || bits_stored > bits_allocated {
        bits_allocated
    } else {
        bits_stored
    };
    let need = n * bytes;
    let Some(data) = data.get(..need) else {
        return Err(PixelError::Decode {
            path: h.path.to_path_buf(),
            reason: format!(
                "pixel data has {} bytes, the frame needs {need}",
                data.len()
            ),
        });
    };
    let shift = 64 - u32::from(bits_stored);
    let mask: u64 = if bits_stored >= 64 {
        u64::MAX
    } else {
        (1u64 << bits_stored) - 1
    };
    // dicom-pixeldata hands decoded samples over in native byte order. One loop per sample
    // width and signedness, so the per-pixel work is a load, a mask or sign extension and a
    // multiply-add, without branches (28 M -> 24 M instructions on 86 bench slices).
    let to_f32 = |stored: i64| (stored as f64 * slope + intercept) as f32;
    let unsigned = |raw: u64| to_f32((raw & mask) as i64);
    let signed_ = |raw: u64| to_f32(((raw << shift) as i64) >> shift);
    // 8- and 16-bit samples go through i32, whose conversion to f64 vectorises (i64's does
    // not without AVX-512): the same exact integers, so the same values (24 M -> 6 M
    // instructions on 86 bench slices).
    let (shift32, mask32) = (shift - 32, mask as u32);
    let u32_at = |c: &[u8]| u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
    // Written as loops over a filled output: LLVM vectorises these, not the collects.
    let mut out = spare_values(n);
    if bytes <= 2 {
        // The usual CT header (slope 1, an integer intercept): the modality value is an
        // integer below 2^24 in magnitude, so i32 arithmetic and one rounding to f32 give
        // exactly what the f64 multiply-add gives, in fewer instructions a pixel (16 k
        // pixels: 0.14 M -> 0.10 M).
        if slope == 1.0 && intercept.fract() == 0.0 && intercept.abs() <= 1e6 {
            let b = intercept as i32;
            fill_stored32(&mut out, data, bytes, signed, (mask32, shift32), |s| {
                (s + b) as f32
            });
        } else {
            fill_stored32(&mut out, data, bytes, signed, (mask32, shift32), |s| {
                (f64::from(s) * slope + intercept) as f32
            });
        }
        return Ok(out);
    }
    if signed {
        fill(&mut out, data, |b: [u8; 4]| signed_(u32_at(&b)));
    } else {
        fill(&mut out, data, |b: [u8; 4]| unsigned(u32_at(&b)));
    }
    Ok(out)
}

thread_local! {
    /// The values of the last slice this thread decoded, once given back ([`recycle`]).
    static SPARE: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A buffer of `n` values, all overwritten by the caller: the thread's spare one when
/// there is one. A fresh 1 MB buffer per 512 × 512 slice came zeroed by calloc or as new
/// pages, and that took as long as decoding the slice; key images decode one slice per
/// worker at a time, so one spare per thread is enough.
fn spare_values(n: usize) -> Vec<f32> {
    let mut v = SPARE.take();
    if v.len() != n {
        v.clear();
        v.resize(n, 0.0);
    }
    v
}

/// Gives a decoded slice's values back once drawn, for the next slice this thread decodes.
pub fn recycle(values: Vec<f32>) {
    SPARE.set(values);
}

/// 8- or 16-bit samples (`bytes`), masked to BitsStored or sign-extended from it
/// (`mask32`, `shift32`), as i32 through `value`.
#[inline(always)]
fn fill_stored32(
    out: &mut [f32],
    data: &[u8],
    bytes: usize,
    signed: bool,
    (mask32, shift32): (u32, u32),
    value: impl Fn(i32) -> f32,
) {
    let unsigned = |raw: u32| value((raw & mask32) as i32);
    let signed_ = |raw: u32| value(((raw << shift32) as i32) >> shift32);
    match (bytes, signed) {
        (1, false) => fill(out, data, |[b]| unsigned(u32::from(b))),
        (1, true) => fill(out, data, |[b]| signed_(u32::from(b))),
        (_, false) => fill(out, data, |b| unsigned(u32::from(u16::from_ne_bytes(b)))),
        (_, true) => fill(out, data, |b| signed_(u32::from(u16::from_ne_bytes(b)))),
    }
}

/// `out[i] = f(sample i)` for samples of `N` bytes.
#[inline(always)]
fn fill<const N: usize>(out: &mut [f32], data: &[u8], f: impl Fn([u8; N]) -> f32) {
    for (o, c) in out.iter_mut().zip(data.chunks_exact(N)) {
        *o = f(c.try_into().expect("chunks of N bytes"));
    }
}

/// RescaleSlope / Intercept from the top level, else the frame's (or shared) Pixel Value
/// Transformation functional group; identity when absent, as PS3.3 C.11.1 says.
fn rescale(h: &Header<'_>, frame: u32) -> Result<(f64, f64), PixelError> {
    let slope = h.float_in_groups(
        frame,
        tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
        tags::RESCALE_SLOPE,
    )?;
    let intercept = h.float_in_groups(
        frame,
        tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
        tags::RESCALE_INTERCEPT,
    )?;
    let slope = slope.and_then(|v| v.first().copied()).unwrap_or(1.0);
    let intercept = intercept.and_then(|v| v.first().copied()).unwrap_or(0.0);
    if !slope.is_finite() || slope == 0.0 {
        return Err(h.invalid("RescaleSlope", format!("{slope} is not a usable slope")));
    }
    if !intercept.is_finite() {
        return Err(h.invalid("RescaleIntercept", format!("{intercept} is not finite")));
    }
    Ok((slope, intercept))
}

fn window(h: &Header<'_>) -> Option<(f64, f64)> {
    let c = h.floats(h.obj, tags::WINDOW_CENTER).ok().flatten()?;
    let w = h.floats(h.obj, tags::WINDOW_WIDTH).ok().flatten()?;
    let (c, w) = (*c.first()?, *w.first()?);
    (c.is_finite() && w.is_finite() && w > 0.0).then_some((c, w))
}

/// The plane of one frame, or `None` when the file has no patient geometry at all.
/// Geometry that is present but broken is an error rather than a silent `None`, because
/// drawing on a wrong grid would put the measurement in the wrong place.
fn plane_grid(h: &Header<'_>, frame: u32) -> Result<Option<PlaneGrid>, PixelError> {
    let ipp = h.float_in_groups(
        frame,
        tags::PLANE_POSITION_SEQUENCE,
        tags::IMAGE_POSITION_PATIENT,
    )?;
    let iop = h.float_in_groups(
        frame,
        tags::PLANE_ORIENTATION_SEQUENCE,
        tags::IMAGE_ORIENTATION_PATIENT,
    )?;
    let ps = h.float_in_groups(frame, tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING)?;
    let (Some(ipp), Some(iop), Some(ps)) = (ipp, iop, ps) else {
        return Ok(None);
    };
    if ipp.len() != 3 || ipp.iter().any(|v| !v.is_finite()) {
        return Err(h.invalid("ImagePositionPatient", format!("{ipp:?}")));
    }
    if ps.len() != 2 || ps.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return Err(h.invalid("PixelSpacing", format!("{ps:?}")));
    }
    let bad_iop = || h.invalid("ImageOrientationPatient", format!("{iop:?}"));
    if iop.len() != 6 {
        return Err(bad_iop());
    }
    let row_dir = unit([iop[0], iop[1], iop[2]]).ok_or_else(bad_iop)?;
    let col_dir = unit([iop[3], iop[4], iop[5]]).ok_or_else(bad_iop)?;
    if dot(row_dir, col_dir).abs() > 1e-3 {
        return Err(bad_iop());
    }
    Ok(Some(PlaneGrid {
        origin: [ipp[0], ipp[1], ipp[2]],
        row_dir,
        col_dir,
        spacing: [ps[0], ps[1]],
        rows: 0,
        cols: 0,
    }))
}

/// Header access with the file path attached to every error.
struct Header<'a> {
    obj: &'a InMemDicomObject,
    path: &'a Path,
}

impl Header<'_> {
    fn invalid(&self, attribute: &'static str, reason: String) -> PixelError {
        PixelError::InvalidHeader {
            path: self.path.to_path_buf(),
            attribute,
            reason,
        }
    }

    fn unsupported(&self, reason: String) -> PixelError {
        PixelError::UnsupportedImage {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn string(&self, tag: dicom_core::Tag) -> Option<String> {
        let e = self.obj.get(tag)?;
        let s = e.to_str().ok()?;
        let s = s.trim_matches(['\0', ' ']).to_string();
        (!s.is_empty()).then_some(s)
    }

    fn int(
        &self,
        attribute: &'static str,
        tag: dicom_core::Tag,
    ) -> Result<Option<i64>, PixelError> {
        let Some(e) = self.obj.get(tag) else {
            return Ok(None);
        };
        if e.value().primitive().is_some_and(|p| p.is_empty()) {
            return Ok(None);
        }
        e.to_int::<i64>()
            .map(Some)
            .map_err(|err| self.invalid(attribute, err.to_string()))
    }

    /// A multi-valued number; `Ok(None)` when absent or empty.
    fn floats(
        &self,
        obj: &InMemDicomObject,
        tag: dicom_core::Tag,
    ) -> Result<Option<Vec<f64>>, PixelError> {
        let Some(e) = obj.get(tag) else {
            return Ok(None);
        };
        if e.value().primitive().is_some_and(|p| p.is_empty()) {
            return Ok(None);
        }
        e.to_multi_float64()
            .map(Some)
            .map_err(|err| self.invalid(tag_name(tag), err.to_string()))
    }

    /// `tag` at the top level, else inside `group` of the frame's Per-Frame Functional
    /// Groups item, else of the Shared Functional Groups (enhanced multi-frame objects).
    fn float_in_groups(
        &self,
        frame: u32,
        group: dicom_core::Tag,
        tag: dicom_core::Tag,
    ) -> Result<Option<Vec<f64>>, PixelError> {
        if let Some(v) = self.floats(self.obj, tag)? {
            return Ok(Some(v));
        }
        let per_frame = self
            .items(self.obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .and_then(|items| items.get(frame as usize));
        let shared = self
            .items(self.obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
            .and_then(|items| items.first());
        for fg in [per_frame, shared].into_iter().flatten() {
            if let Some(inner) = self.items(fg, group).and_then(|items| items.first())
                && let Some(v) = self.floats(inner, tag)?
            {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn items<'o>(
        &self,
        obj: &'o InMemDicomObject,
        tag: dicom_core::Tag,
    ) -> Option<&'o [InMemDicomObject]> {
        obj.get(tag)?.items()
    }
}

fn tag_name(tag: dicom_core::Tag) -> &'static str {
    match tag {
        tags::IMAGE_POSITION_PATIENT => "ImagePositionPatient",
        tags::IMAGE_ORIENTATION_PATIENT => "ImageOrientationPatient",
        tags::PIXEL_SPACING => "PixelSpacing",
        tags::RESCALE_SLOPE => "RescaleSlope",
        tags::RESCALE_INTERCEPT => "RescaleIntercept",
        tags::WINDOW_CENTER => "WindowCenter",
        tags::WINDOW_WIDTH => "WindowWidth",
        _ => "attribute",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axial(uid: &str, z: f64) -> CandidateImage<'static> {
        CandidateImage {
            path: PathBuf::from(format!("{uid}.dcm")),
            sop_instance_uid: uid.to_string().into(),
            position: [-100.0, -100.0, z],
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            frame: 0,
        }
    }

    fn series() -> Vec<CandidateImage<'static>> {
        (0..10)
            .map(|i| axial(&format!("1.2.{i}"), 2.5 * i as f64))
            .collect()
    }

    fn by_position(p: f64) -> SliceRef {
        SliceRef {
            sop_instance_uids: Vec::new(),
            position_mm: Some(p),
            normal: [0.0, 0.0, 1.0],
        }
    }

    /// The integer path (slope 1, integer intercept) gives exactly the f64 multiply-add's
    /// values, for 8 and 16 bits allocated, every BitsStored, signed and unsigned, with
    /// intercepts around the usual CT ones and at the path's bounds.
    #[test]
    fn integer_modality_values_equal_the_multiply_add() {
        let obj = InMemDicomObject::new_empty();
        let h = Header {
            obj: &obj,
            path: Path::new("x.dcm"),
        };
        let mut next = crate::testutil::xorshift(0x0123_4567_89ab_cdef);
        let data: Vec<u8> = (0..4096).map(|_| next() as u8).collect();
        for bits_allocated in [8u16, 16] {
            let n = data.len() / usize::from(bits_allocated / 8);
            for bits_stored in 1..=bits_allocated {
                for signed in [false, true] {
                    for intercept in [0.0, -1024.0, -1000.0, 1.0, -0.0, 1e6, -1e6] {
                        let got = modality_values(
                            &h,
                            &data,
                            n,
                            bits_allocated,
                            bits_stored,
                            signed,
                            (1.0, intercept),
                        )
                        .unwrap();
                        let shift = 64 - u32::from(bits_stored);
                        let mask = (1u64 << bits_stored) - 1;
                        for (i, g) in got.iter().enumerate() {
                            let raw = if bits_allocated == 8 {
                                u64::from(data[i])
                            } else {
                                u64::from(u16::from_ne_bytes([data[2 * i], data[2 * i + 1]]))
                            };
                            let stored = if signed {
                                ((raw << shift) as i64) >> shift
                            } else {
                                (raw & mask) as i64
                            };
                            let want = (stored as f64 * 1.0 + intercept) as f32;
                            assert_eq!(
                                g.to_bits(),
                                want.to_bits(),
                                "{bits_allocated}/{bits_stored} {signed} {intercept} #{i}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn uid_wins_over_position() {
        let s = series();
        let r = SliceRef {
            sop_instance_uids: vec!["1.2.7".into()],
            position_mm: Some(0.0),
            normal: [0.0, 0.0, 1.0],
        };
        assert_eq!(
            select_source_image(&s, &r).unwrap().sop_instance_uid,
            "1.2.7"
        );
    }

    #[test]
    fn unknown_uid_falls_back_to_position() {
        let s = series();
        let mut r = by_position(5.1);
        r.sop_instance_uids = vec!["9.9".into()];
        assert_eq!(
            select_source_image(&s, &r).unwrap().sop_instance_uid,
            "1.2.2"
        );
        r.position_mm = None;
        assert!(matches!(
            select_source_image(&s, &r),
            Err(SelectError::UidNotFound { .. })
        ));
    }

    /// Of several named images the one nearest the slice position is drawn on (a SEG frame
    /// derived from three thin slices); named images the series lacks are passed over; with
    /// no position, the first named image the series has.
    #[test]
    fn of_several_named_images_the_nearest() {
        let s = series();
        let mut r = by_position(6.0);
        r.sop_instance_uids = vec!["9.9".into(), "1.2.1".into(), "1.2.3".into(), "1.2.2".into()];
        assert_eq!(
            select_source_image(&s, &r).unwrap().sop_instance_uid,
            "1.2.2"
        );
        r.position_mm = None;
        assert_eq!(
            select_source_image(&s, &r).unwrap().sop_instance_uid,
            "1.2.1"
        );
    }

    /// Two images at one position (a repeated acquisition kept in the series): geometry
    /// takes the first, the reference the one it names.
    #[test]
    fn a_reference_tells_apart_images_at_one_position() {
        let mut s = series();
        s.insert(5, axial("repeat", 12.5));
        let by_pos = by_position(12.5);
        assert_eq!(
            select_source_image(&s, &by_pos).unwrap().sop_instance_uid,
            "repeat"
        );
        let named = SliceRef {
            sop_instance_uids: vec!["1.2.5".into()],
            ..by_pos
        };
        assert_eq!(
            select_source_image(&s, &named).unwrap().sop_instance_uid,
            "1.2.5"
        );
    }

    #[test]
    fn nearest_within_half_spacing_only() {
        let s = series();
        assert_eq!(
            select_source_image(&s, &by_position(6.2))
                .unwrap()
                .sop_instance_uid,
            "1.2.2"
        );
        assert_eq!(
            select_source_image(&s, &by_position(6.3))
                .unwrap()
                .sop_instance_uid,
            "1.2.3"
        );
        // 1.3 mm beyond the last slice: more than half of 2.5 mm.
        match select_source_image(&s, &by_position(23.8)) {
            Err(SelectError::TooFar {
                distance_mm,
                tolerance_mm,
                ..
            }) => {
                assert!((distance_mm - 1.3).abs() < 1e-9);
                assert!((tolerance_mm - 1.25).abs() < 1e-9);
            }
            other => panic!("expected TooFar, got {other:?}"),
        }
    }

    #[test]
    fn through_point_works_with_either_normal_sign() {
        let s = series();
        for n in [[0.0, 0.0, 1.0], [0.0, 0.0, -2.0]] {
            let r = SliceRef::through_point(Vec::new(), [3.0, -7.0, 12.4], n);
            assert_eq!(
                select_source_image(&s, &r).unwrap().sop_instance_uid,
                "1.2.5"
            );
        }
    }

    #[test]
    fn reversed_normal_uses_signed_positions() {
        let s = series();
        let mut r = by_position(-5.0);
        r.normal = [0.0, 0.0, -1.0];
        assert_eq!(
            select_source_image(&s, &r).unwrap().sop_instance_uid,
            "1.2.2"
        );
    }

    #[test]
    fn non_parallel_images_are_ignored() {
        let mut s = series();
        // A sagittal localizer whose position along z would match exactly.
        s.push(CandidateImage {
            path: PathBuf::from("loc.dcm"),
            sop_instance_uid: "loc".into(),
            position: [0.0, -100.0, 11.0],
            orientation: [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
            frame: 0,
        });
        assert_eq!(
            select_source_image(&s, &by_position(11.0))
                .unwrap()
                .sop_instance_uid,
            "1.2.4"
        );
        assert_eq!(
            select_source_image(&s[10..], &by_position(11.0)),
            Err(SelectError::NoParallelImage)
        );
    }

    #[test]
    fn empty_and_missing_references() {
        assert_eq!(
            select_source_image(&[], &by_position(0.0)),
            Err(SelectError::NoCandidates)
        );
        let r = SliceRef {
            sop_instance_uids: Vec::new(),
            position_mm: None,
            normal: [0.0, 0.0, 1.0],
        };
        assert_eq!(
            select_source_image(&series(), &r),
            Err(SelectError::NoReference)
        );
        let mut r = by_position(0.0);
        r.normal = [0.0, 0.0, 0.0];
        assert_eq!(
            select_source_image(&series(), &r),
            Err(SelectError::InvalidNormal)
        );
    }

    #[test]
    fn decoding_garbage_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.dcm");
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend_from_slice(&[0xff; 300]);
        std::fs::write(&p, bytes).unwrap();
        assert!(matches!(decode_slice(&p, 0), Err(PixelError::Open { .. })));
        let missing = dir.path().join("missing.dcm");
        assert!(matches!(
            decode_slice(&missing, 0),
            Err(PixelError::Open { .. })
        ));
    }

    /// The fuzz input whose last element declares 3.5 GB: refused by the length guard
    /// before dicom-object would zero-fill that much.
    #[test]
    fn a_declared_length_past_the_end_is_refused_before_decoding() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/dicom_open-rss-3.5gb-9kb-input.dcm");
        match decode_slice(&p, 0) {
            Err(PixelError::Open { reason, .. }) => {
                assert!(
                    reason.contains("(A306,B106) declares 3540379654 bytes"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    /// Native pixel data read in place decodes to exactly what dicom-pixeldata gives, on
    /// every image of the fixtures written by others (pydicom's files in each transfer
    /// syntax, the generated multi-frame and rescaled ones, the demo and corpus CTs); and
    /// read from the file without parsing it into an object (`open_native_image`, taken
    /// by the explicit VR little endian and deflated ones) to exactly that too.
    #[test]
    fn native_frames_equal_the_codec_path() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let (mut native, mut lean, mut compared) = (0, 0, 0);
        for e in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let e = e.unwrap();
            if !e.file_type().is_file() || e.path().extension().is_some_and(|x| x != "dcm") {
                continue;
            }
            let p = e.path();
            for frame in [0, 1] {
                let Ok(codec) = decode_slice_inner(p, frame, Route::Codec) else {
                    continue;
                };
                for route in [Route::Object, Route::Native] {
                    let fast = decode_slice_inner(p, frame, route)
                        .unwrap_or_else(|err| panic!("{} {route:?}: {err}", p.display()));
                    assert_eq!(fast, codec, "{} frame {frame} {route:?}", p.display());
                }
                compared += 1;
                let obj = open_image(p).unwrap();
                let h = Header { obj: &obj, path: p };
                let ts = obj.meta().transfer_syntax();
                native += usize::from(native_frame(&h, ts, frame, None).is_some());
                let img = crate::dicom::open::open_native_image(p, "x").unwrap();
                lean += usize::from(img.is_some());
                let ts = ts.trim_end_matches('\0');
                if ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"].contains(&ts)
                    && native_frame(&h, ts, frame, None).is_some()
                {
                    assert!(img.is_some(), "{} not read the native way", p.display());
                }
            }
        }
        assert!(
            native >= 20 && compared > native && lean >= 20,
            "{native} native, {lean} without an object, of {compared} compared"
        );
    }

    /// A file dicom-pixeldata refuses for a missing required attribute (as pydicom does) is
    /// refused on the native path too, not decoded with a default.
    #[test]
    fn native_frames_are_refused_where_the_codec_refuses() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/images/pydicom/CT_small.dcm");
        let dir = tempfile::tempdir().unwrap();
        assert!(decode_slice(&src, 0).is_ok());
        for tag in [
            tags::HIGH_BIT,
            tags::PHOTOMETRIC_INTERPRETATION,
            tags::SAMPLES_PER_PIXEL,
        ] {
            let mut obj = dicom_object::open_file(&src).unwrap();
            assert!(obj.remove_element(tag), "{tag}");
            let p = dir
                .path()
                .join(format!("{:04X}{:04X}.dcm", tag.group(), tag.element()));
            obj.write_to_file(&p).unwrap();
            assert!(
                decode_slice_inner(&p, 0, Route::Codec).is_err(),
                "codec decoded without {tag}"
            );
            assert!(decode_slice(&p, 0).is_err(), "native decoded without {tag}");
        }
    }
}
