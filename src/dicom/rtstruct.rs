//! RT Structure Set → closed planar polygons per ROI, in patient mm (no image needed: the
//! contour points already are patient coordinates).
//!
//! Node rule (RTSTRUCT has no coded "lymph node" field in practice): an ROI is a node when
//! its RTROIInterpretedType, ROI name or ROI observation label contains the word
//! "node"/"nodes"/"lymph" (any case, also inside "LymphNode"), or a token "LN" optionally
//! followed by digits ("LN", "LN3", "ln_2"). Anything else is not a node.
//!
//! Not lesions (left out of `rois`, listed in `excluded`): ROIs whose RTROIInterpretedType
//! is a planning/treatment structure (EXTERNAL body outline, ISOCENTER, MARKER,
//! REGISTRATION, BOLUS, SUPPORT, FIXATION, DOSE_REGION, CONTROL, BRACHY_*), and ROIs that
//! only have non-closed contours (points, open lines). An ROI with no contour at all is
//! kept: it is a lesion that has disappeared.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::measure::ContourLesion;

use super::attrs::{floats_opt, items, str_opt};
use super::error::DicomError;

/// (3006,0085) ROIObservationLabel: retired in the standard but still written by TPS exports.
const ROI_OBSERVATION_LABEL: dicom_core::Tag = dicom_core::Tag(0x3006, 0x0085);

/// What the index reports for one ROI.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiInfo {
    pub number: i64,
    /// ROI name (the lesion id and label, interface §1).
    pub name: String,
    pub interpreted_type: Option<String>,
    pub observation_label: Option<String>,
    pub frame_of_reference_uid: Option<String>,
    pub is_node: bool,
}

/// One ROI's polygons.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiContours {
    pub info: RoiInfo,
    pub lesion: ContourLesion,
    /// Contours that are not CLOSED_PLANAR (POINT, OPEN_PLANAR, OPEN_NONPLANAR): skipped.
    pub skipped_contours: usize,
    /// SOP Instance UIDs of the images the contours were drawn on (ContourImageSequence).
    pub contour_image_uids: Vec<String>,
    /// For each of `lesion.polygons`, the images its contour names (usually one).
    pub polygon_images: Vec<Vec<String>>,
}

/// A parsed structure set.
#[derive(Debug, Clone, PartialEq)]
pub struct RtStruct {
    pub rois: Vec<RoiContours>,
    /// ROIs that are not lesions: (ROI number, name, why).
    pub excluded: Vec<(i64, String, String)>,
    /// Series named in ReferencedFrameOfReference → RTReferencedStudy → RTReferencedSeries.
    pub referenced_series: Vec<String>,
    pub frame_of_reference_uids: Vec<String>,
}

/// The node rule of this module (see the module doc).
pub fn name_says_node(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if lower.contains("lymph") || lower.contains("node") {
        return true;
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|tok| {
            tok.strip_prefix("ln")
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
        })
}

/// RT planning structures that are never tumour lesions.
pub fn is_planning_type(t: &str) -> bool {
    matches!(
        t,
        "EXTERNAL"
            | "ISOCENTER"
            | "MARKER"
            | "REGISTRATION"
            | "BOLUS"
            | "SUPPORT"
            | "FIXATION"
            | "DOSE_REGION"
            | "CONTROL"
    ) || t.starts_with("BRACHY_")
}

/// ROI descriptions (no contour data needed).
pub fn roi_infos(obj: &InMemDicomObject, file: &str) -> Result<Vec<RoiInfo>, DicomError> {
    let observations = items(obj, tags::RTROI_OBSERVATIONS_SEQUENCE);
    let mut out = Vec::new();
    for it in items(obj, tags::STRUCTURE_SET_ROI_SEQUENCE) {
        let number = roi_number(it, tags::ROI_NUMBER, file)?;
        let name = str_opt(it, tags::ROI_NAME).unwrap_or_else(|| format!("ROI {number}"));
        let obs = observations
            .iter()
            .find(|o| roi_number(o, tags::REFERENCED_ROI_NUMBER, file).ok() == Some(number));
        let interpreted_type = obs.and_then(|o| str_opt(o, tags::RTROI_INTERPRETED_TYPE));
        let observation_label = obs.and_then(|o| str_opt(o, ROI_OBSERVATION_LABEL));
        let is_node = name_says_node(&name)
            || interpreted_type.as_deref().is_some_and(name_says_node)
            || observation_label.as_deref().is_some_and(name_says_node);
        out.push(RoiInfo {
            number,
            name,
            interpreted_type,
            observation_label,
            frame_of_reference_uid: str_opt(it, tags::REFERENCED_FRAME_OF_REFERENCE_UID),
            is_node,
        });
    }
    out.sort_by_key(|r| r.number);
    Ok(out)
}

/// Referenced image series and frames of reference.
pub fn references(obj: &InMemDicomObject) -> (Vec<String>, Vec<String>) {
    let mut series = Vec::new();
    let mut fors = Vec::new();
    for f in items(obj, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE) {
        if let Some(u) = str_opt(f, tags::FRAME_OF_REFERENCE_UID) {
            fors.push(u);
        }
        for st in items(f, tags::RT_REFERENCED_STUDY_SEQUENCE) {
            for se in items(st, tags::RT_REFERENCED_SERIES_SEQUENCE) {
                if let Some(u) = str_opt(se, tags::SERIES_INSTANCE_UID) {
                    series.push(u);
                }
            }
        }
    }
    (series, fors)
}

/// Read all ROIs with their CLOSED_PLANAR contours.
pub fn read_rtstruct(obj: &InMemDicomObject, file: &str) -> Result<RtStruct, DicomError> {
    let infos = roi_infos(obj, file)?;
    let contours = items(obj, tags::ROI_CONTOUR_SEQUENCE);
    let mut rois = Vec::with_capacity(infos.len());
    let mut excluded = Vec::new();
    for info in infos {
        if let Some(t) = info
            .interpreted_type
            .as_deref()
            .filter(|t| is_planning_type(t))
        {
            excluded.push((
                info.number,
                info.name.clone(),
                format!("RTROIInterpretedType {t}"),
            ));
            continue;
        }
        let mut polygons = Vec::new();
        let mut skipped = 0;
        let mut images = Vec::new();
        let mut polygon_images = Vec::new();
        for rc in contours.iter().filter(|rc| {
            roi_number(rc, tags::REFERENCED_ROI_NUMBER, file).ok() == Some(info.number)
        }) {
            for c in items(rc, tags::CONTOUR_SEQUENCE) {
                let kind = str_opt(c, tags::CONTOUR_GEOMETRIC_TYPE);
                if kind.as_deref().is_some_and(|k| k != "CLOSED_PLANAR") {
                    skipped += 1;
                    continue;
                }
                let named: Vec<String> = items(c, tags::CONTOUR_IMAGE_SEQUENCE)
                    .iter()
                    .filter_map(|ci| str_opt(ci, tags::REFERENCED_SOP_INSTANCE_UID))
                    .collect();
                images.extend(named.iter().cloned());
                let Some(data) = floats_opt(c, tags::CONTOUR_DATA, file)? else {
                    skipped += 1;
                    continue;
                };
                if data.len() % 3 != 0 {
                    return Err(DicomError::BadValue {
                        file: file.to_owned(),
                        tag: super::error::TagName(tags::CONTOUR_DATA),
                        name: "ContourData",
                        reason: format!(
                            "ROI {} ({}): {} values is not a multiple of 3",
                            info.number,
                            info.name,
                            data.len()
                        ),
                    });
                }
                polygons.push(data.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect());
                polygon_images.push(named);
            }
        }
        images.sort();
        images.dedup();
        if polygons.is_empty() && skipped > 0 {
            excluded.push((
                info.number,
                info.name.clone(),
                "no closed planar contour".into(),
            ));
            continue;
        }
        rois.push(RoiContours {
            info,
            lesion: ContourLesion { polygons },
            skipped_contours: skipped,
            contour_image_uids: images,
            polygon_images,
        });
    }
    let (referenced_series, frame_of_reference_uids) = references(obj);
    Ok(RtStruct {
        rois,
        excluded,
        referenced_series,
        frame_of_reference_uids,
    })
}

fn roi_number(obj: &InMemDicomObject, tag: dicom_core::Tag, file: &str) -> Result<i64, DicomError> {
    let e = obj.get(tag).ok_or_else(|| DicomError::MissingTag {
        file: file.to_owned(),
        tag: super::error::TagName(tag),
        name: super::attrs::tag_name(tag),
    })?;
    e.to_int::<i64>().map_err(|err| DicomError::BadValue {
        file: file.to_owned(),
        tag: super::error::TagName(tag),
        name: super::attrs::tag_name(tag),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        for yes in [
            "Node 1",
            "LN3",
            "ln_2",
            "Lymph",
            "LymphNode R",
            "paraaortic nodes",
            "LN",
        ] {
            assert!(name_says_node(yes), "{yes}");
        }
        for no in ["Lesion 1", "GTV", "Liver met", "LNX", "Kiln"] {
            assert!(!name_says_node(no), "{no}");
        }
    }
}
