//! DICOM Segmentation (SEG) → one binary mask per segment, each frame placed by its own
//! ImagePositionPatient. Frame order is never trusted: highdicom writes frames in
//! descending slice position, dcmqi ascending, and both are valid.
//!
//! 1-bit frames are unpacked here from the raw PixelData bytes because dicom-pixeldata
//! 0.10.1 assumes every frame starts on a byte boundary, which is false when
//! Rows × Columns is not a multiple of 8 (PS3.5 §8.1.1: frames are packed back to back).

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::measure::{MaskLesion, MaskSlice};

use super::attrs::{Code, code, float_opt, floats_n, item, items, str_opt, uint_opt, uint_req};
use super::error::{DicomError, TagName};
use super::geometry::{ImagePlane, check_consistent};

/// SNOMED CT "Lymph node".
pub const SCT_LYMPH_NODE: &str = "59441001";

/// Segment description (SegmentSequence item) — what the index reports per lesion.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentInfo {
    pub number: u16,
    pub label: String,
    pub tracking_id: Option<String>,
    pub tracking_uid: Option<String>,
    pub property_category: Option<Code>,
    pub property_type: Option<Code>,
    pub anatomic_region: Option<Code>,
    /// SegmentedPropertyType or AnatomicRegion is lymph node (SCT 59441001, or a code
    /// meaning that says "lymph node").
    pub is_node: bool,
    /// AnatomicRegionSequence code meaning (empty when absent).
    pub organ: String,
}

impl SegmentInfo {
    /// TrackingUID, else TrackingID, else the label, else `segment N` (interface §1).
    pub fn lesion_id(&self) -> String {
        self.tracking_uid
            .clone()
            .or_else(|| self.tracking_id.clone())
            .or_else(|| (!self.label.is_empty()).then(|| self.label.clone()))
            .unwrap_or_else(|| format!("segment {}", self.number))
    }
}

/// True for the lymph node concept, by code or by meaning.
pub fn is_lymph_node(c: &Code) -> bool {
    c.is("SCT", SCT_LYMPH_NODE) || c.meaning.to_ascii_lowercase().contains("lymph node")
}

/// Segment descriptions, in SegmentNumber order. Works on a header-only read.
pub fn segment_infos(obj: &InMemDicomObject, file: &str) -> Result<Vec<SegmentInfo>, DicomError> {
    let mut out = Vec::new();
    for it in items(obj, tags::SEGMENT_SEQUENCE) {
        let number = uint_req(it, tags::SEGMENT_NUMBER, file)?;
        let number = u16::try_from(number).map_err(|_| DicomError::BadValue {
            file: file.to_owned(),
            tag: TagName(tags::SEGMENT_NUMBER),
            name: "SegmentNumber",
            reason: format!("{number} out of range"),
        })?;
        let property_type = code(it, tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE);
        let anatomic_region = code(it, tags::ANATOMIC_REGION_SEQUENCE)
            .or_else(|| code(it, tags::PRIMARY_ANATOMIC_STRUCTURE_SEQUENCE));
        let is_node = property_type.as_ref().is_some_and(is_lymph_node)
            || anatomic_region.as_ref().is_some_and(is_lymph_node);
        out.push(SegmentInfo {
            number,
            label: str_opt(it, tags::SEGMENT_LABEL).unwrap_or_default(),
            tracking_id: str_opt(it, tags::TRACKING_ID),
            tracking_uid: str_opt(it, tags::TRACKING_UID),
            property_category: code(it, tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE),
            organ: anatomic_region
                .as_ref()
                .map(|c| c.meaning.clone())
                .unwrap_or_default(),
            property_type,
            anatomic_region,
            is_node,
        });
    }
    out.sort_by_key(|s| s.number);
    Ok(out)
}

/// Where one frame sits and what it holds. Works on a header-only read.
#[derive(Debug, Clone, PartialEq)]
pub struct SegFrame {
    pub plane: ImagePlane,
    /// ReferencedSegmentNumber; `None` for LABELMAP frames (pixel value = segment).
    pub segment: Option<u16>,
    /// DerivationImage → SourceImage SOP Instance UIDs (the CT slices it came from).
    pub source_sop_uids: Vec<String>,
}

/// Per-frame geometry from the functional groups (per-frame item first, then shared).
pub fn frames(obj: &InMemDicomObject, file: &str) -> Result<Vec<SegFrame>, DicomError> {
    let rows = uint_req(obj, tags::ROWS, file)? as usize;
    let cols = uint_req(obj, tags::COLUMNS, file)? as usize;
    let n = uint_opt(obj, tags::NUMBER_OF_FRAMES, file)?.unwrap_or(1) as usize;
    let shared = item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    // More per-frame items than frames happens in the wild (pydicom's liver_1frame.dcm was
    // cut from a 3-frame file); the first n items describe the n frames. Fewer is an error.
    if per_frame.len() < n && !(per_frame.is_empty() && n == 1) {
        return Err(DicomError::Inconsistent {
            file: file.to_owned(),
            reason: format!(
                "NumberOfFrames is {n} but PerFrameFunctionalGroupsSequence has {} items",
                per_frame.len()
            ),
        });
    }
    let labelmap = str_opt(obj, tags::SEGMENTATION_TYPE).as_deref() == Some("LABELMAP");
    // Look an attribute up in the frame's macro, then the shared macro, then (single-frame
    // legacy encodings) the top level.
    let lookup = |frame: Option<&InMemDicomObject>,
                  seq,
                  tag,
                  k: usize|
     -> Result<Option<Vec<f64>>, DicomError> {
        for src in [frame, shared].into_iter().flatten() {
            if let Some(m) = item(src, seq)
                && let Some(v) = floats_n(m, tag, k, file)?
            {
                return Ok(Some(v));
            }
        }
        floats_n(obj, tag, k, file)
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let f = per_frame.get(i);
        let missing = |tag, name: &'static str| DicomError::Inconsistent {
            file: file.to_owned(),
            reason: format!(
                "frame {}: no {name} {} in per-frame or shared functional groups",
                i + 1,
                TagName(tag)
            ),
        };
        let ipp = lookup(
            f,
            tags::PLANE_POSITION_SEQUENCE,
            tags::IMAGE_POSITION_PATIENT,
            3,
        )?
        .ok_or_else(|| missing(tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient"))?;
        let iop = lookup(
            f,
            tags::PLANE_ORIENTATION_SEQUENCE,
            tags::IMAGE_ORIENTATION_PATIENT,
            6,
        )?
        .ok_or_else(|| missing(tags::IMAGE_ORIENTATION_PATIENT, "ImageOrientationPatient"))?;
        let ps = lookup(f, tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING, 2)?
            .ok_or_else(|| missing(tags::PIXEL_SPACING, "PixelSpacing"))?;
        let plane = ImagePlane::new(&ipp, &iop, &ps, rows, cols).map_err(|source| {
            DicomError::Geometry {
                file: file.to_owned(),
                context: format!("frame {}", i + 1),
                source,
            }
        })?;
        let segment = if labelmap {
            None
        } else {
            let seg_item = f
                .and_then(|f| item(f, tags::SEGMENT_IDENTIFICATION_SEQUENCE))
                .or_else(|| shared.and_then(|s| item(s, tags::SEGMENT_IDENTIFICATION_SEQUENCE)))
                .ok_or_else(|| {
                    missing(tags::REFERENCED_SEGMENT_NUMBER, "ReferencedSegmentNumber")
                })?;
            let s = uint_req(seg_item, tags::REFERENCED_SEGMENT_NUMBER, file)?;
            Some(u16::try_from(s).map_err(|_| DicomError::BadValue {
                file: file.to_owned(),
                tag: TagName(tags::REFERENCED_SEGMENT_NUMBER),
                name: "ReferencedSegmentNumber",
                reason: format!("{s} out of range"),
            })?)
        };
        let mut source_sop_uids = Vec::new();
        if let Some(f) = f {
            for d in items(f, tags::DERIVATION_IMAGE_SEQUENCE) {
                for s in items(d, tags::SOURCE_IMAGE_SEQUENCE) {
                    if let Some(u) = str_opt(s, tags::REFERENCED_SOP_INSTANCE_UID) {
                        source_sop_uids.push(u);
                    }
                }
            }
        }
        out.push(SegFrame {
            plane,
            segment,
            source_sop_uids,
        });
    }
    let planes: Vec<ImagePlane> = out.iter().map(|f| f.plane.clone()).collect();
    check_consistent(&planes).map_err(|source| DicomError::Geometry {
        file: file.to_owned(),
        context: "SEG frames".into(),
        source,
    })?;
    Ok(out)
}

/// SEG-level slice thickness (shared PixelMeasures SliceThickness, else
/// SpacingBetweenSlices) — used when the source series is not in the export.
pub fn shared_slice_thickness(obj: &InMemDicomObject, file: &str) -> Option<f64> {
    let pm = item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|s| item(s, tags::PIXEL_MEASURES_SEQUENCE));
    let get = |tag| {
        pm.and_then(|m| float_opt(m, tag, file).ok().flatten())
            .filter(|v| *v > 0.0)
    };
    get(tags::SLICE_THICKNESS).or_else(|| get(tags::SPACING_BETWEEN_SLICES))
}

/// Shared PixelMeasures SpacingBetweenSlices (decides which frames are adjacent when
/// measuring; thickness is not spacing, so no fallback to SliceThickness here).
pub fn shared_slice_spacing(obj: &InMemDicomObject, file: &str) -> Option<f64> {
    item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|s| item(s, tags::PIXEL_MEASURES_SEQUENCE))
        .and_then(|m| {
            float_opt(m, tags::SPACING_BETWEEN_SLICES, file)
                .ok()
                .flatten()
        })
        .filter(|v| *v > 0.0)
}

/// ReferencedSeriesSequence series UIDs (the source image series).
pub fn referenced_series(obj: &InMemDicomObject) -> Vec<String> {
    items(obj, tags::REFERENCED_SERIES_SEQUENCE)
        .iter()
        .filter_map(|it| str_opt(it, tags::SERIES_INSTANCE_UID))
        .collect()
}

/// Options of the SEG reader.
#[derive(Debug, Clone, PartialEq)]
pub struct SegOptions {
    /// FRACTIONAL segments: a pixel is inside when its value ≥ this fraction of
    /// MaximumFractionalValue (0.5: half, as highdicom and most viewers do).
    pub fractional_threshold: f64,
}

impl Default for SegOptions {
    fn default() -> Self {
        SegOptions {
            fractional_threshold: 0.5,
        }
    }
}

/// One segment's mask.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentMask {
    pub info: SegmentInfo,
    pub lesion: MaskLesion,
    /// For each of `lesion.slices`, the source images of the frames merged into it
    /// (DerivationImage → SourceImage SOP Instance UIDs, in frame order, without repeats):
    /// the slice a key image is drawn on.
    pub sources: Vec<Vec<String>>,
}

/// A fully decoded SEG.
#[derive(Debug, Clone, PartialEq)]
pub struct SegObject {
    pub segments: Vec<SegmentMask>,
    /// `BINARY`, `FRACTIONAL` or `LABELMAP`.
    pub segmentation_type: String,
    pub slice_thickness_mm: Option<f64>,
    /// Shared SpacingBetweenSlices, when the SEG states it.
    pub slice_spacing_mm: Option<f64>,
}

/// Decode every segment into slices of 0/1 masks (slices sorted along the plane normal;
/// frames of one segment at the same position are merged with OR).
pub fn read_seg(
    obj: &InMemDicomObject,
    file: &str,
    opts: &SegOptions,
) -> Result<SegObject, DicomError> {
    let infos = segment_infos(obj, file)?;
    let frames = frames(obj, file)?;
    let seg_type = str_opt(obj, tags::SEGMENTATION_TYPE).unwrap_or_else(|| "BINARY".into());
    let rows = uint_req(obj, tags::ROWS, file)? as usize;
    let cols = uint_req(obj, tags::COLUMNS, file)? as usize;
    let bits = uint_req(obj, tags::BITS_ALLOCATED, file)?;
    let pd = obj
        .get(tags::PIXEL_DATA)
        .ok_or_else(|| DicomError::MissingTag {
            file: file.to_owned(),
            tag: TagName(tags::PIXEL_DATA),
            name: "PixelData",
        })?;
    if pd.value().fragments().is_some() {
        return Err(DicomError::Unsupported {
            file: file.to_owned(),
            reason: "encapsulated (compressed) SEG pixel data".into(),
        });
    }
    let raw = pd.to_bytes().map_err(|e| DicomError::Parse {
        file: file.to_owned(),
        reason: format!("PixelData: {e}"),
    })?;
    let px = rows * cols;
    let n = frames.len();
    let need = match bits {
        1 => (n * px).div_ceil(8),
        8 => n * px,
        16 => n * px * 2,
        other => {
            return Err(DicomError::Unsupported {
                file: file.to_owned(),
                reason: format!("SEG with BitsAllocated {other}"),
            });
        }
    };
    if raw.len() < need {
        return Err(DicomError::Truncated {
            file: file.to_owned(),
            reason: format!(
                "PixelData has {} bytes, {n} frames of {rows}×{cols} at {bits} bit need {need}",
                raw.len()
            ),
        });
    }
    let threshold = match seg_type.as_str() {
        "FRACTIONAL" => {
            let max = uint_opt(obj, tags::MAXIMUM_FRACTIONAL_VALUE, file)?.unwrap_or(255) as f64;
            Some(opts.fractional_threshold * max)
        }
        _ => None,
    };
    let labelmap = seg_type == "LABELMAP";
    // value of pixel k of frame f
    let value = |f: usize, k: usize| -> u32 {
        match bits {
            1 => {
                let b = f * px + k;
                ((raw[b / 8] >> (b % 8)) & 1) as u32
            }
            8 => raw[f * px + k] as u32,
            _ => u16::from_le_bytes([raw[2 * (f * px + k)], raw[2 * (f * px + k) + 1]]) as u32,
        }
    };
    let binary_1bit = bits == 1 && !labelmap && threshold.is_none();
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        let mut slices: Vec<(f64, MaskSlice, Vec<String>)> = Vec::new();
        for (fi, fr) in frames.iter().enumerate() {
            if !labelmap && fr.segment != Some(info.number) {
                continue;
            }
            let mut mask = vec![0u8; px];
            let mut any = false;
            if binary_1bit {
                // BINARY, the usual SEG: unpack whole bytes (LSB first) when the frame starts
                // on a byte boundary; this loop touches every pixel of every frame.
                let start = fi * px;
                if start.is_multiple_of(8) {
                    for (chunk, &byte) in mask.chunks_mut(8).zip(&raw[start / 8..]) {
                        for (i, m) in chunk.iter_mut().enumerate() {
                            *m = (byte >> i) & 1;
                        }
                    }
                } else {
                    for (k, m) in mask.iter_mut().enumerate() {
                        let b = start + k;
                        *m = (raw[b / 8] >> (b % 8)) & 1;
                    }
                }
                any = mask.contains(&1);
            } else {
                for (k, m) in mask.iter_mut().enumerate() {
                    let v = value(fi, k);
                    let inside = if labelmap {
                        v == info.number as u32
                    } else if let Some(t) = threshold {
                        v as f64 >= t && v > 0
                    } else {
                        v != 0
                    };
                    if inside {
                        *m = 1;
                        any = true;
                    }
                }
            }
            if labelmap && !any {
                continue;
            }
            let pos = fr.plane.position_along_normal();
            let grid = fr.plane.to_grid();
            let at = slices.iter().position(|(p, s, _)| {
                (p - pos).abs() < 1e-3 && same_origin(&s.grid.origin, &grid.origin)
            });
            let i = match at {
                Some(i) => {
                    for (a, b) in slices[i].1.mask.iter_mut().zip(&mask) {
                        *a |= *b;
                    }
                    i
                }
                None => {
                    slices.push((pos, MaskSlice { grid, mask }, Vec::new()));
                    slices.len() - 1
                }
            };
            let sources = &mut slices[i].2;
            for u in &fr.source_sop_uids {
                if !sources.contains(u) {
                    sources.push(u.clone());
                }
            }
        }
        slices.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (slices, sources) = slices.into_iter().map(|(_, m, s)| (m, s)).unzip();
        out.push(SegmentMask {
            info,
            lesion: MaskLesion { slices },
            sources,
        });
    }
    Ok(SegObject {
        segments: out,
        segmentation_type: seg_type,
        slice_thickness_mm: shared_slice_thickness(obj, file),
        slice_spacing_mm: shared_slice_spacing(obj, file),
    })
}

fn same_origin(a: &[f64; 3], b: &[f64; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-3)
}

/// Unpack `n_frames` 1-bit frames of `rows × cols` packed back to back, LSB first
/// (bit n = frame·rows·cols + r·cols + c). Exposed for tests and benchmarks.
pub fn unpack_bits(raw: &[u8], rows: usize, cols: usize, n_frames: usize) -> Option<Vec<Vec<u8>>> {
    let px = rows * cols;
    if raw.len() < (px * n_frames).div_ceil(8) {
        return None;
    }
    Some(
        (0..n_frames)
            .map(|f| {
                (0..px)
                    .map(|k| {
                        let b = f * px + k;
                        (raw[b / 8] >> (b % 8)) & 1
                    })
                    .collect()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_frames_that_share_a_byte() {
        // 2 frames of 3×3 = 18 bits: frame 0 has only its last pixel set (bit 8), frame 1
        // only its first (bit 9) — both live in byte 1.
        let raw = [0u8, 0b0000_0011, 0];
        let f = unpack_bits(&raw, 3, 3, 2).unwrap();
        assert_eq!(f[0], vec![0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(f[1], vec![1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(unpack_bits(&raw[..2], 3, 3, 2).is_none());
    }

    #[test]
    fn lesion_id_precedence() {
        let mut s = SegmentInfo {
            number: 3,
            label: "L".into(),
            tracking_id: Some("T".into()),
            tracking_uid: Some("1.2.3".into()),
            property_category: None,
            property_type: None,
            anatomic_region: None,
            is_node: false,
            organ: String::new(),
        };
        assert_eq!(s.lesion_id(), "1.2.3");
        s.tracking_uid = None;
        assert_eq!(s.lesion_id(), "T");
        s.tracking_id = None;
        assert_eq!(s.lesion_id(), "L");
        s.label.clear();
        assert_eq!(s.lesion_id(), "segment 3");
    }
}
