//! Structured Report TID 1500 (Measurement Report) → the readers' own lesion measurements.
//!
//! Each TID 1501/1410/1411 measurement group (CONTAINER "Measurement Group", DCM 125007)
//! is one lesion: tracking identifier/UID, finding, finding site, linear measurements
//! (long axis, short axis, diameter, length) converted to mm from their UCUM unit, the
//! spatial coordinates they were inferred from, and referenced SEG segments. Groups with no
//! linear measurement and no line (e.g. volume-only TID 1411 groups) are kept in
//! [`SrReport::other_groups`] but are not lesions to measure.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::attrs::{Code, code, floats_opt, item, items, str_opt, uint_opt};
use super::error::DicomError;
use super::seg::is_lymph_node;

/// A spatial coordinate content item.
#[derive(Debug, Clone, PartialEq)]
pub enum SrCoord {
    /// SCOORD: (column, row) image coordinates on one referenced image.
    Image {
        graphic_type: String,
        points: Vec<[f64; 2]>,
        sop_instance_uid: Option<String>,
        frame: Option<u32>,
    },
    /// SCOORD3D: patient coordinates in a frame of reference.
    Patient {
        graphic_type: String,
        points: Vec<[f64; 3]>,
        frame_of_reference_uid: Option<String>,
    },
}

/// One linear measurement as the reader wrote it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Linear {
    /// Value converted to mm; `None` when the NUM has no value or an unknown unit.
    pub value_mm: Option<f64>,
    /// The unit as written (UCUM code value).
    pub unit: String,
    /// The line(s) it was inferred from.
    pub coords: Vec<SrCoord>,
}

/// One measurement group = one lesion at this timepoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SrLesion {
    /// 1-based position of the group in document order.
    pub group_index: usize,
    pub tracking_id: Option<String>,
    pub tracking_uid: Option<String>,
    pub finding: Option<Code>,
    pub finding_site: Option<Code>,
    pub long_axis: Option<Linear>,
    pub short_axis: Option<Linear>,
    pub diameter: Option<Linear>,
    pub length: Option<Linear>,
    /// Region / other coordinates directly in the group (TID 1410 image region).
    pub coords: Vec<SrCoord>,
    /// (SEG SOP Instance UID, segment number).
    pub referenced_segments: Vec<(String, u16)>,
    /// Source images named in the group.
    pub source_images: Vec<String>,
    pub is_node: bool,
    pub organ: String,
    /// Problems found while reading (unknown units…), one line each.
    pub warnings: Vec<String>,
}

impl SrLesion {
    /// Tracking UID, else tracking ID, else `group N` (interface §1).
    pub fn lesion_id(&self) -> String {
        self.tracking_uid
            .clone()
            .or_else(|| self.tracking_id.clone())
            .unwrap_or_else(|| format!("group {}", self.group_index))
    }

    /// Label: tracking identifier, else finding meaning, else the lesion id.
    pub fn label(&self) -> String {
        self.tracking_id
            .clone()
            .or_else(|| self.finding.as_ref().map(|c| c.meaning.clone()))
            .unwrap_or_else(|| self.lesion_id())
    }

    /// True when the group carries a linear measurement or a line to measure.
    pub fn is_linear(&self) -> bool {
        self.long_axis.is_some() || self.diameter.is_some() || self.length.is_some()
    }

    /// The measurement used as long axis: long axis, else diameter, else length.
    pub fn primary(&self) -> Option<&Linear> {
        self.long_axis
            .as_ref()
            .or(self.diameter.as_ref())
            .or(self.length.as_ref())
    }
}

/// A parsed TID 1500 report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SrReport {
    /// Groups with a linear measurement.
    pub lesions: Vec<SrLesion>,
    /// Groups without one (volume-only etc.).
    pub other_groups: Vec<SrLesion>,
    /// CurrentRequestedProcedureEvidence (+ PertinentOtherEvidence) series UIDs.
    pub evidence_series: Vec<String>,
    /// Evidence (series UID, SOP Instance UID) pairs.
    pub evidence_instances: Vec<(String, String)>,
    /// True when at least one measurement group was found.
    pub is_measurement_report: bool,
}

const DCM_MEASUREMENT_GROUP: &str = "125007";
const DCM_TRACKING_ID: &str = "112039";
const DCM_TRACKING_UID: &str = "112040";
const DCM_FINDING: &str = "121071";
const SCT_FINDING_SITE: (&str, &str) = ("363698007", "G-C0E3");
const SCT_LONG_AXIS: (&str, &str) = ("103339001", "G-A185");
const SCT_SHORT_AXIS: (&str, &str) = ("103340004", "G-A186");
const SCT_DIAMETER: (&str, &str) = ("81827009", "M-02550");
const SCT_LENGTH: (&str, &str) = ("410668003", "G-A22A");

fn is_sct(c: &Code, (sct, srt): (&str, &str)) -> bool {
    c.is("SCT", sct) || c.is("SRT", srt)
}

/// Length in mm per unit, UCUM.
pub fn ucum_to_mm(unit: &str) -> Option<f64> {
    match unit {
        "mm" => Some(1.0),
        "cm" => Some(10.0),
        "m" => Some(1000.0),
        "um" => Some(1e-3),
        "[in_i]" => Some(25.4),
        _ => None,
    }
}

/// Parse the report. Never fails on an unexpected tree shape: unknown items are skipped.
pub fn read_sr(obj: &InMemDicomObject, file: &str) -> Result<SrReport, DicomError> {
    let mut rep = SrReport::default();
    for seq in [
        tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
        tags::PERTINENT_OTHER_EVIDENCE_SEQUENCE,
    ] {
        for st in items(obj, seq) {
            for se in items(st, tags::REFERENCED_SERIES_SEQUENCE) {
                if let Some(s) = str_opt(se, tags::SERIES_INSTANCE_UID) {
                    for sop in items(se, tags::REFERENCED_SOP_SEQUENCE) {
                        if let Some(u) = str_opt(sop, tags::REFERENCED_SOP_INSTANCE_UID) {
                            rep.evidence_instances.push((s.clone(), u));
                        }
                    }
                    rep.evidence_series.push(s);
                }
            }
        }
    }
    rep.evidence_series.sort();
    rep.evidence_series.dedup();
    let mut groups = Vec::new();
    find_groups(items(obj, tags::CONTENT_SEQUENCE), file, &mut groups)?;
    rep.is_measurement_report = !groups.is_empty();
    for (i, mut g) in groups.into_iter().enumerate() {
        g.group_index = i + 1;
        if g.is_linear() {
            rep.lesions.push(g);
        } else {
            rep.other_groups.push(g);
        }
    }
    Ok(rep)
}

fn value_type(it: &InMemDicomObject) -> String {
    str_opt(it, tags::VALUE_TYPE).unwrap_or_default()
}

fn concept(it: &InMemDicomObject) -> Option<Code> {
    code(it, tags::CONCEPT_NAME_CODE_SEQUENCE)
}

fn find_groups(
    content: &[InMemDicomObject],
    file: &str,
    out: &mut Vec<SrLesion>,
) -> Result<(), DicomError> {
    for it in content {
        if value_type(it) != "CONTAINER" {
            continue;
        }
        if concept(it).is_some_and(|c| c.is("DCM", DCM_MEASUREMENT_GROUP)) {
            out.push(read_group(it, file)?);
        } else {
            find_groups(items(it, tags::CONTENT_SEQUENCE), file, out)?;
        }
    }
    Ok(())
}

fn read_group(group: &InMemDicomObject, file: &str) -> Result<SrLesion, DicomError> {
    let mut l = SrLesion::default();
    for it in items(group, tags::CONTENT_SEQUENCE) {
        let vt = value_type(it);
        let c = concept(it).unwrap_or_default();
        match vt.as_str() {
            "TEXT" if c.is("DCM", DCM_TRACKING_ID) => l.tracking_id = str_opt(it, tags::TEXT_VALUE),
            "UIDREF" if c.is("DCM", DCM_TRACKING_UID) => l.tracking_uid = str_opt(it, tags::UID),
            "CODE" if c.is("DCM", DCM_FINDING) => l.finding = code(it, tags::CONCEPT_CODE_SEQUENCE),
            "CODE" if is_sct(&c, SCT_FINDING_SITE) => {
                l.finding_site = code(it, tags::CONCEPT_CODE_SEQUENCE)
            }
            "NUM" => {
                let slot = if is_sct(&c, SCT_LONG_AXIS) {
                    &mut l.long_axis
                } else if is_sct(&c, SCT_SHORT_AXIS) {
                    &mut l.short_axis
                } else if is_sct(&c, SCT_DIAMETER) {
                    &mut l.diameter
                } else if is_sct(&c, SCT_LENGTH) {
                    &mut l.length
                } else {
                    continue;
                };
                let lin = read_linear(it, file, &c.meaning, &mut l.warnings)?;
                // keep the first measurement of a kind; a second one is noted
                if slot.is_none() {
                    *slot = Some(lin);
                } else {
                    l.warnings.push(format!(
                        "more than one '{}' in the group; first kept",
                        c.meaning
                    ));
                }
            }
            "SCOORD" | "SCOORD3D" => {
                if let Some(sc) = read_coord(it, file)? {
                    l.coords.push(sc);
                }
            }
            "IMAGE" | "COMPOSITE" => {
                if let Some(r) = item(it, tags::REFERENCED_SOP_SEQUENCE) {
                    let uid = str_opt(r, tags::REFERENCED_SOP_INSTANCE_UID);
                    let seg = uint_opt(r, tags::REFERENCED_SEGMENT_NUMBER, file)?;
                    match (uid, seg) {
                        (Some(u), Some(s)) => l
                            .referenced_segments
                            .push((u, s.min(u16::MAX as u64) as u16)),
                        (Some(u), None) if vt == "IMAGE" => l.source_images.push(u),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    l.is_node = l.finding.as_ref().is_some_and(is_lymph_node)
        || l.finding_site.as_ref().is_some_and(is_lymph_node);
    l.organ = l
        .finding_site
        .as_ref()
        .map(|c| c.meaning.clone())
        .unwrap_or_default();
    Ok(l)
}

fn read_linear(
    it: &InMemDicomObject,
    file: &str,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Linear, DicomError> {
    let mut lin = Linear::default();
    if let Some(mv) = item(it, tags::MEASURED_VALUE_SEQUENCE) {
        let v = floats_opt(mv, tags::NUMERIC_VALUE, file)?.and_then(|v| v.first().copied());
        let unit = code(mv, tags::MEASUREMENT_UNITS_CODE_SEQUENCE)
            .map(|c| c.value)
            .unwrap_or_default();
        if let Some(v) = v {
            match ucum_to_mm(&unit) {
                Some(f) => lin.value_mm = Some(v * f),
                None => warnings.push(format!(
                    "'{name}' has unit '{unit}', not a length; value ignored"
                )),
            }
        }
        lin.unit = unit;
    }
    for ch in items(it, tags::CONTENT_SEQUENCE) {
        if matches!(value_type(ch).as_str(), "SCOORD" | "SCOORD3D")
            && let Some(sc) = read_coord(ch, file)?
        {
            lin.coords.push(sc);
        }
    }
    Ok(lin)
}

fn read_coord(it: &InMemDicomObject, file: &str) -> Result<Option<SrCoord>, DicomError> {
    let graphic_type = str_opt(it, tags::GRAPHIC_TYPE).unwrap_or_default();
    let Some(data) = floats_opt(it, tags::GRAPHIC_DATA, file)? else {
        return Ok(None);
    };
    if value_type(it) == "SCOORD3D" {
        if data.len() % 3 != 0 {
            return Ok(None);
        }
        return Ok(Some(SrCoord::Patient {
            graphic_type,
            points: data.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
            frame_of_reference_uid: str_opt(it, tags::REFERENCED_FRAME_OF_REFERENCE_UID),
        }));
    }
    if data.len() % 2 != 0 {
        return Ok(None);
    }
    let mut sop = None;
    let mut frame = None;
    for ch in items(it, tags::CONTENT_SEQUENCE) {
        if value_type(ch) == "IMAGE"
            && let Some(r) = item(ch, tags::REFERENCED_SOP_SEQUENCE)
        {
            sop = str_opt(r, tags::REFERENCED_SOP_INSTANCE_UID);
            frame = uint_opt(r, tags::REFERENCED_FRAME_NUMBER, file)?.map(|f| f as u32);
        }
    }
    Ok(Some(SrCoord::Image {
        graphic_type,
        points: data.chunks_exact(2).map(|p| [p[0], p[1]]).collect(),
        sop_instance_uid: sop,
        frame,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucum_lengths() {
        assert_eq!(ucum_to_mm("cm"), Some(10.0));
        assert_eq!(ucum_to_mm("mm"), Some(1.0));
        assert_eq!(ucum_to_mm("mm3"), None);
        assert_eq!(ucum_to_mm("%"), None);
    }
}
