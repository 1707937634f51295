//! Index a PACS export from headers only: Patient → Study → Series, plus every annotation
//! object (SEG, RTSTRUCT, SR TID 1500) linked to its source series, and an account of every
//! file (interface §1: `files_seen = indexed + ignored + len(quarantined)`).
//!
//! Decisions (documented for users in fixtures/dicom/README.md):
//! * A SEG or RTSTRUCT whose source series is not in the export is **kept with a warning**:
//!   both carry their own geometry, so they can still be measured; the slice thickness then
//!   comes from the SEG itself or stays unknown. An SR is kept too; a lesion that can only be
//!   measured through a missing image is reported at measure time.
//! * DICOMDIR is read (its referenced files are checked for presence) but never needed; it
//!   counts as `ignored` and is listed under `dicomdirs`.
//! * Zero-byte files, DICOM-looking files that fail to parse or are cut short, instances
//!   without PatientID / StudyInstanceUID / SeriesInstanceUID / SOPInstanceUID, and second
//!   copies of an already indexed SOP Instance UID are quarantined.
//! * Files that do not look like DICOM and symbolic links (never followed) are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::attrs::{float_opt, floats_n, iso_date, items, str_opt, str_req, uint_opt};
use super::error::DicomError;
use super::geometry::ImagePlane;
use super::open::{Opened, Probe, ReadMode, open};
use super::{rtstruct, seg, sr};

/// The `index` JSON document (interface §1), plus extra keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportIndex {
    pub files_seen: usize,
    pub ignored: usize,
    pub quarantined: Vec<Quarantined>,
    pub patients: Vec<PatientEntry>,
    pub annotations: Vec<Annotation>,
    /// Files indexed as DICOM instances (= Σ series n_instances).
    pub indexed: usize,
    /// DICOMDIR files found (counted in `ignored`).
    pub dicomdirs: Vec<String>,
    /// Non-fatal findings: absent referenced series, DICOMDIR entries missing, symlinks.
    pub warnings: Vec<Quarantined>,
    /// Per image instance geometry, by SOP Instance UID (for SR SCOORD → patient mm).
    #[serde(skip)]
    pub images: BTreeMap<String, ImageRecord>,
}

/// A file set aside with a one-line reason (also used for warnings).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Quarantined {
    /// Relative to the export folder, `/`-separated.
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientEntry {
    pub patient_id: String,
    pub studies: Vec<StudyEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyEntry {
    pub study_uid: String,
    /// `YYYY-MM-DD`, empty when the StudyDate is absent or malformed.
    pub study_date: String,
    pub series: Vec<SeriesEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesEntry {
    pub series_uid: String,
    pub modality: String,
    pub n_instances: usize,
    /// SliceThickness of the first instance that has one.
    pub slice_thickness_mm: Option<f64>,
    pub frame_of_reference_uid: Option<String>,
}

/// `seg`, `rtstruct` or `sr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationKind {
    Seg,
    Rtstruct,
    Sr,
}

impl AnnotationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationKind::Seg => "seg",
            AnnotationKind::Rtstruct => "rtstruct",
            AnnotationKind::Sr => "sr",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub kind: AnnotationKind,
    pub sop_instance_uid: String,
    pub path: String,
    pub patient_id: String,
    pub study_uid: String,
    /// The source image series (empty when the object names none).
    pub referenced_series_uid: String,
    pub lesions: Vec<LesionEntry>,
    // ---- extra keys ----
    pub study_date: String,
    pub series_uid: String,
    pub frame_of_reference_uid: Option<String>,
    /// True when the referenced series is in this export.
    pub referenced_series_present: bool,
    /// Slice thickness of the source series, else the annotation's own (SEG PixelMeasures).
    pub slice_thickness_mm: Option<f64>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionEntry {
    pub lesion_id: String,
    pub label: String,
    pub is_node: bool,
    pub organ: String,
    /// SEG segment number / RTSTRUCT ROI number / SR group index.
    pub number: i64,
}

/// Geometry and series of one image instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    pub series_uid: String,
    /// The file, relative to the export folder (key images decode it; the manifest maps
    /// files to studies through it).
    pub path: String,
    pub patient_id: String,
    pub study_uid: String,
    pub plane: Option<ImagePlane>,
    pub frame_of_reference_uid: Option<String>,
}

/// What one file turned out to be.
#[derive(Debug)]
enum Outcome {
    Ignored,
    Quarantined(String),
    Symlink,
    DicomDir(Vec<String>),
    Instance(Box<Instance>),
}

#[derive(Debug)]
struct Instance {
    patient_id: String,
    study_uid: String,
    study_date: String,
    series_uid: String,
    modality: String,
    sop_uid: String,
    frame_of_reference: Option<String>,
    slice_thickness: Option<f64>,
    plane: Option<ImagePlane>,
    annotation: Option<Draft>,
    warnings: Vec<String>,
}

#[derive(Debug)]
struct Draft {
    kind: AnnotationKind,
    lesions: Vec<LesionEntry>,
    ref_series: Vec<String>,
    ref_sops: Vec<String>,
    own_thickness: Option<f64>,
}

const SEG_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.66.4";
const LABELMAP_SEG_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.66.7";
const RTSTRUCT_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.481.3";
const SR_SOP_CLASS_PREFIX: &str = "1.2.840.10008.5.1.4.1.1.88.";
const DICOMDIR_SOP_CLASS: &str = "1.2.840.10008.1.3.10";

/// Index `dir` with `jobs` worker threads (0 = one per core).
pub fn index_dir(dir: &Path, jobs: usize) -> Result<ExportIndex, IndexError> {
    let meta = std::fs::metadata(dir).map_err(|source| IndexError::Root {
        dir: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(IndexError::NotADirectory(dir.to_path_buf()));
    }
    let mut walk_warnings = Vec::new();
    let mut files: Vec<(String, PathBuf, bool)> = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        match entry {
            Ok(e) => {
                let ft = e.file_type();
                if ft.is_dir() {
                    continue;
                }
                let rel = rel_path(dir, e.path());
                files.push((rel, e.path().to_path_buf(), ft.is_symlink()));
            }
            Err(err) => {
                let p = err
                    .path()
                    .map(|p| rel_path(dir, p))
                    .unwrap_or_else(|| ".".into());
                walk_warnings.push(Quarantined {
                    path: p,
                    reason: format!("cannot list: {}", super::open::one_line(&err.to_string())),
                });
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| IndexError::Pool(e.to_string()))?;
    let outcomes: Vec<Outcome> = pool.install(|| {
        files
            .par_iter()
            .map(|(rel, path, symlink)| {
                if *symlink {
                    Outcome::Symlink
                } else {
                    classify(path, rel)
                }
            })
            .collect()
    });
    Ok(assemble(dir, files, outcomes, walk_warnings))
}

/// Why the walk itself could not start (everything per-file is quarantined instead).
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}: {source}", dir.display())]
    Root {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot start worker threads: {0}")]
    Pool(String),
}

fn rel_path(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn classify(path: &Path, rel: &str) -> Outcome {
    let opened = match open(path, rel, ReadMode::Header) {
        Ok(Probe::NotDicom(_)) => return Outcome::Ignored,
        Ok(Probe::Dicom(o)) => o,
        Err(e) => return Outcome::Quarantined(e.reason()),
    };
    match instance(&opened, rel) {
        Ok(o) => o,
        Err(e) => Outcome::Quarantined(e.reason()),
    }
}

/// What [`instance`] makes of a file: which branch reads which attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    DicomDir,
    Seg,
    Rtstruct,
    Sr,
    /// Everything else: only the top-level attributes of `lean::INDEX_TAGS` are read.
    Image,
}

/// Sort a file by its SOP Class (from the data set, else the file meta), Modality and
/// Directory Record Sequence. All three are in `lean::INDEX_TAGS`, so a lean object sorts
/// exactly as the full one.
fn kind(obj: &InMemDicomObject, media_sop_class: Option<&str>) -> Kind {
    let sop_class = str_opt(obj, tags::SOP_CLASS_UID)
        .or_else(|| media_sop_class.map(str::to_owned))
        .unwrap_or_default();
    if sop_class == DICOMDIR_SOP_CLASS
        || media_sop_class == Some(DICOMDIR_SOP_CLASS)
        || obj.get(tags::DIRECTORY_RECORD_SEQUENCE).is_some()
    {
        return Kind::DicomDir;
    }
    let modality = str_opt(obj, tags::MODALITY).unwrap_or_default();
    if sop_class == SEG_SOP_CLASS || sop_class == LABELMAP_SEG_SOP_CLASS || modality == "SEG" {
        Kind::Seg
    } else if sop_class == RTSTRUCT_SOP_CLASS || modality == "RTSTRUCT" {
        Kind::Rtstruct
    } else if sop_class.starts_with(SR_SOP_CLASS_PREFIX) || modality == "SR" {
        Kind::Sr
    } else {
        Kind::Image
    }
}

/// True when indexing this object reads nothing but the top-level `lean::INDEX_TAGS`, so a
/// lean header read (`lean::read_index_header`) indexes it exactly as a full read would.
pub(super) fn reads_only_index_tags(obj: &InMemDicomObject, media_sop_class: Option<&str>) -> bool {
    kind(obj, media_sop_class) == Kind::Image
}

/// False when the file meta alone already says the index will read more than
/// `lean::INDEX_TAGS` (a SEG, RTSTRUCT, SR or DICOMDIR), so a lean read would be wasted.
pub(super) fn may_read_only_index_tags(media_sop_class: Option<&str>) -> bool {
    media_sop_class.is_none_or(|m| kind(&InMemDicomObject::new_empty(), Some(m)) == Kind::Image)
}

fn instance(opened: &Opened, rel: &str) -> Result<Outcome, DicomError> {
    let obj = &opened.obj;
    let kind = kind(obj, opened.media_sop_class.as_deref());
    if kind == Kind::DicomDir {
        return Ok(Outcome::DicomDir(dicomdir_refs(obj)));
    }
    let patient_id = str_req(obj, tags::PATIENT_ID, rel)?;
    let study_uid = str_req(obj, tags::STUDY_INSTANCE_UID, rel)?;
    let series_uid = str_req(obj, tags::SERIES_INSTANCE_UID, rel)?;
    let sop_uid = str_req(obj, tags::SOP_INSTANCE_UID, rel)?;
    let modality = str_opt(obj, tags::MODALITY).unwrap_or_default();
    let study_date = str_opt(obj, tags::STUDY_DATE)
        .and_then(|d| iso_date(&d))
        .unwrap_or_default();
    let mut warnings = Vec::new();
    let plane = match image_plane(obj, rel) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(e.reason());
            None
        }
    };
    let annotation = if kind == Kind::Seg {
        let infos = seg::segment_infos(obj, rel)?;
        let frames = seg::frames(obj, rel)?;
        let mut ref_sops: Vec<String> = frames
            .iter()
            .flat_map(|f| f.source_sop_uids.clone())
            .collect();
        ref_sops.sort();
        ref_sops.dedup();
        Some(Draft {
            kind: AnnotationKind::Seg,
            lesions: infos
                .iter()
                .map(|s| LesionEntry {
                    lesion_id: s.lesion_id(),
                    label: s.label.clone(),
                    is_node: s.is_node,
                    organ: s.organ.clone(),
                    number: s.number as i64,
                })
                .collect(),
            ref_series: seg::referenced_series(obj),
            ref_sops,
            own_thickness: seg::shared_slice_thickness(obj, rel),
        })
    } else if kind == Kind::Rtstruct {
        let rt = rtstruct::read_rtstruct(obj, rel)?;
        let mut ref_sops: Vec<String> = rt
            .rois
            .iter()
            .flat_map(|r| r.contour_image_uids.clone())
            .collect();
        ref_sops.sort();
        ref_sops.dedup();
        Some(Draft {
            kind: AnnotationKind::Rtstruct,
            lesions: rt
                .rois
                .iter()
                .map(|r| LesionEntry {
                    lesion_id: r.info.name.clone(),
                    label: r.info.name.clone(),
                    is_node: r.info.is_node,
                    organ: String::new(),
                    number: r.info.number,
                })
                .collect(),
            ref_series: rt.referenced_series,
            ref_sops,
            own_thickness: None,
        })
    } else if kind == Kind::Sr {
        let rep = sr::read_sr(obj, rel)?;
        if rep.is_measurement_report {
            let mut ref_sops: Vec<String> = Vec::new();
            for l in &rep.lesions {
                ref_sops.extend(l.source_images.iter().cloned());
                for lin in [&l.long_axis, &l.short_axis, &l.diameter, &l.length]
                    .into_iter()
                    .flatten()
                {
                    for c in &lin.coords {
                        if let sr::SrCoord::Image {
                            sop_instance_uid: Some(u),
                            ..
                        } = c
                        {
                            ref_sops.push(u.clone());
                        }
                    }
                }
            }
            ref_sops.sort();
            ref_sops.dedup();
            Some(Draft {
                kind: AnnotationKind::Sr,
                lesions: rep
                    .lesions
                    .iter()
                    .map(|l| LesionEntry {
                        lesion_id: l.lesion_id(),
                        label: l.label(),
                        is_node: l.is_node,
                        organ: l.organ.clone(),
                        number: l.group_index as i64,
                    })
                    .collect(),
                ref_series: rep.evidence_series,
                ref_sops,
                own_thickness: None,
            })
        } else {
            None
        }
    } else {
        None
    };
    Ok(Outcome::Instance(Box::new(Instance {
        patient_id,
        study_uid,
        study_date,
        series_uid,
        modality,
        sop_uid,
        frame_of_reference: str_opt(obj, tags::FRAME_OF_REFERENCE_UID),
        slice_thickness: float_opt(obj, tags::SLICE_THICKNESS, rel)
            .ok()
            .flatten()
            .filter(|t| *t > 0.0),
        plane,
        annotation,
        warnings,
    })))
}

/// The plane of a single-frame image (top-level IPP/IOP/PixelSpacing), if it has one.
fn image_plane(obj: &InMemDicomObject, rel: &str) -> Result<Option<ImagePlane>, DicomError> {
    let (Some(ipp), Some(iop), Some(ps)) = (
        floats_n(obj, tags::IMAGE_POSITION_PATIENT, 3, rel)?,
        floats_n(obj, tags::IMAGE_ORIENTATION_PATIENT, 6, rel)?,
        floats_n(obj, tags::PIXEL_SPACING, 2, rel)?,
    ) else {
        return Ok(None);
    };
    let rows = uint_opt(obj, tags::ROWS, rel)?.unwrap_or(0) as usize;
    let cols = uint_opt(obj, tags::COLUMNS, rel)?.unwrap_or(0) as usize;
    ImagePlane::new(&ipp, &iop, &ps, rows, cols)
        .map(Some)
        .map_err(|source| DicomError::Geometry {
            file: rel.to_owned(),
            context: "image plane".into(),
            source,
        })
}

fn dicomdir_refs(obj: &InMemDicomObject) -> Vec<String> {
    items(obj, tags::DIRECTORY_RECORD_SEQUENCE)
        .iter()
        .filter_map(|r| {
            let v = r.get(tags::REFERENCED_FILE_ID)?.to_str().ok()?;
            let parts: Vec<&str> = v
                .split('\\')
                .map(|s| s.trim_matches(|c: char| c.is_whitespace() || c == '\0'))
                .filter(|s| !s.is_empty())
                .collect();
            (!parts.is_empty()).then(|| parts.join("/"))
        })
        .collect()
}

fn is_annotation_modality(m: &str) -> bool {
    matches!(m, "SEG" | "SR" | "RTSTRUCT" | "KO" | "PR")
}

fn assemble(
    root: &Path,
    files: Vec<(String, PathBuf, bool)>,
    outcomes: Vec<Outcome>,
    walk_warnings: Vec<Quarantined>,
) -> ExportIndex {
    let mut idx = ExportIndex {
        files_seen: files.len(),
        warnings: walk_warnings,
        ..Default::default()
    };
    let mut seen_sops: BTreeMap<String, String> = BTreeMap::new();
    let mut series_owner: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut kept: Vec<(String, Instance)> = Vec::new();
    let mut existing: BTreeSet<String> = BTreeSet::new();
    for (rel, _, _) in &files {
        existing.insert(rel.clone());
    }
    for ((rel, _, _), outcome) in files.into_iter().zip(outcomes) {
        match outcome {
            Outcome::Ignored => idx.ignored += 1,
            Outcome::Symlink => {
                idx.ignored += 1;
                idx.warnings.push(Quarantined {
                    path: rel,
                    reason: "symbolic link, not followed".into(),
                });
            }
            Outcome::Quarantined(reason) => idx.quarantined.push(Quarantined { path: rel, reason }),
            Outcome::DicomDir(refs) => {
                idx.ignored += 1;
                let base = match rel.rfind('/') {
                    Some(i) => rel[..i + 1].to_owned(),
                    None => String::new(),
                };
                let missing: Vec<String> = refs
                    .iter()
                    .map(|r| format!("{base}{r}"))
                    .filter(|p| !existing.contains(p) && !existing_case_insensitive(root, p))
                    .collect();
                if let Some(first) = missing.first() {
                    idx.warnings.push(Quarantined {
                        path: rel.clone(),
                        reason: format!(
                            "DICOMDIR lists {} file(s) absent from the export (first: {first})",
                            missing.len()
                        ),
                    });
                }
                idx.dicomdirs.push(rel);
            }
            Outcome::Instance(inst) => {
                let inst = *inst;
                if let Some(first) = seen_sops.get(&inst.sop_uid) {
                    idx.quarantined.push(Quarantined {
                        path: rel,
                        reason: format!(
                            "duplicate SOPInstanceUID {} (already indexed from {first})",
                            inst.sop_uid
                        ),
                    });
                    continue;
                }
                if let Some((p, s)) = series_owner.get(&inst.series_uid)
                    && (p != &inst.patient_id || s != &inst.study_uid)
                {
                    idx.quarantined.push(Quarantined {
                        path: rel,
                        reason: format!(
                            "series {} already belongs to patient {p} study {s}, this file says patient {} study {}",
                            inst.series_uid, inst.patient_id, inst.study_uid
                        ),
                    });
                    continue;
                }
                series_owner.insert(
                    inst.series_uid.clone(),
                    (inst.patient_id.clone(), inst.study_uid.clone()),
                );
                seen_sops.insert(inst.sop_uid.clone(), rel.clone());
                for w in &inst.warnings {
                    idx.warnings.push(Quarantined {
                        path: rel.clone(),
                        reason: w.clone(),
                    });
                }
                kept.push((rel, inst));
            }
        }
    }
    idx.indexed = kept.len();

    // Patient → Study → Series tree
    type SeriesAcc = (String, usize, Option<f64>, Option<String>);
    type StudyAcc = (String, BTreeMap<String, SeriesAcc>);
    let mut tree: BTreeMap<String, BTreeMap<String, StudyAcc>> = BTreeMap::new();
    for (rel, inst) in &kept {
        let study = tree
            .entry(inst.patient_id.clone())
            .or_default()
            .entry(inst.study_uid.clone())
            .or_insert_with(|| (String::new(), BTreeMap::new()));
        if study.0.is_empty() {
            study.0 = inst.study_date.clone();
        }
        let s = study
            .1
            .entry(inst.series_uid.clone())
            .or_insert_with(|| (inst.modality.clone(), 0, None, None));
        s.1 += 1;
        if s.2.is_none() {
            s.2 = inst.slice_thickness;
        }
        if s.3.is_none() {
            s.3 = inst.frame_of_reference.clone();
        }
        if let Some(plane) = &inst.plane {
            idx.images.insert(
                inst.sop_uid.clone(),
                ImageRecord {
                    series_uid: inst.series_uid.clone(),
                    path: rel.clone(),
                    patient_id: inst.patient_id.clone(),
                    study_uid: inst.study_uid.clone(),
                    plane: Some(plane.clone()),
                    frame_of_reference_uid: inst.frame_of_reference.clone(),
                },
            );
        } else {
            idx.images.insert(
                inst.sop_uid.clone(),
                ImageRecord {
                    series_uid: inst.series_uid.clone(),
                    path: rel.clone(),
                    patient_id: inst.patient_id.clone(),
                    study_uid: inst.study_uid.clone(),
                    plane: None,
                    frame_of_reference_uid: inst.frame_of_reference.clone(),
                },
            );
        }
    }
    let mut series_info: BTreeMap<String, SeriesAcc> = BTreeMap::new();
    for (pid, studies) in tree {
        let mut ps = PatientEntry {
            patient_id: pid,
            studies: Vec::new(),
        };
        let mut st: Vec<StudyEntry> = studies
            .into_iter()
            .map(|(uid, (date, series))| StudyEntry {
                study_uid: uid,
                study_date: date,
                series: series
                    .into_iter()
                    .map(|(suid, acc)| {
                        series_info.insert(suid.clone(), acc.clone());
                        SeriesEntry {
                            series_uid: suid,
                            modality: acc.0,
                            n_instances: acc.1,
                            slice_thickness_mm: acc.2,
                            frame_of_reference_uid: acc.3,
                        }
                    })
                    .collect(),
            })
            .collect();
        st.sort_by(|a, b| (&a.study_date, &a.study_uid).cmp(&(&b.study_date, &b.study_uid)));
        ps.studies = st;
        idx.patients.push(ps);
    }

    // Annotations, linked to their source series
    for (rel, inst) in kept {
        let Some(d) = inst.annotation else { continue };
        let mut candidates: Vec<String> = d.ref_series.clone();
        for sop in &d.ref_sops {
            if let Some(img) = idx.images.get(sop) {
                candidates.push(img.series_uid.clone());
            }
        }
        let mut seen = BTreeSet::new();
        candidates.retain(|c| seen.insert(c.clone()));
        let present_image = candidates.iter().find(|c| {
            series_info
                .get(*c)
                .is_some_and(|acc| !is_annotation_modality(&acc.0))
        });
        let mut warnings = Vec::new();
        let (referenced, present) = match present_image {
            Some(s) => (s.clone(), true),
            None => {
                let absent: Vec<&String> = candidates
                    .iter()
                    .filter(|c| !series_info.contains_key(*c))
                    .collect();
                let first = absent.first().map(|s| (*s).clone()).unwrap_or_default();
                if first.is_empty() {
                    warnings.push("names no source image series".to_owned());
                } else {
                    warnings.push(format!(
                        "referenced series {first} is not in the export; {}",
                        match d.kind {
                            AnnotationKind::Sr => "lesions are taken from the report's own values",
                            _ => "measured from the object's own geometry",
                        }
                    ));
                }
                (first, false)
            }
        };
        for w in &warnings {
            idx.warnings.push(Quarantined {
                path: rel.clone(),
                reason: w.clone(),
            });
        }
        let thickness = series_info
            .get(&referenced)
            .and_then(|a| a.2)
            .or(d.own_thickness);
        let study_date = idx
            .patients
            .iter()
            .find(|p| p.patient_id == inst.patient_id)
            .and_then(|p| p.studies.iter().find(|s| s.study_uid == inst.study_uid))
            .map(|s| s.study_date.clone())
            .unwrap_or_default();
        idx.annotations.push(Annotation {
            kind: d.kind,
            sop_instance_uid: inst.sop_uid,
            path: rel,
            patient_id: inst.patient_id,
            study_uid: inst.study_uid,
            referenced_series_uid: referenced,
            lesions: d.lesions,
            study_date,
            series_uid: inst.series_uid,
            frame_of_reference_uid: inst.frame_of_reference,
            referenced_series_present: present,
            slice_thickness_mm: thickness,
            warnings,
        });
    }
    idx.annotations.sort_by(|a, b| {
        (&a.patient_id, &a.study_date, a.kind, &a.sop_instance_uid).cmp(&(
            &b.patient_id,
            &b.study_date,
            b.kind,
            &b.sop_instance_uid,
        ))
    });
    idx.quarantined.sort();
    idx.warnings.sort();
    idx
}

/// DICOMDIR file IDs are upper-case by convention while the files on disk may not be.
fn existing_case_insensitive(root: &Path, rel: &str) -> bool {
    root.join(rel).is_file() || root.join(rel.to_ascii_lowercase()).is_file()
}

#[cfg(test)]
mod lean_tests {
    //! The lean header read (`lean::read_index_header`) against the full read
    //! (`InMemDicomObject::read_dataset_with_ts`) on the same bytes of real files: the kept
    //! attributes, the file's kind, and the record the index makes of an image must be the
    //! same, whole and cut short anywhere; and `lean::read_whole` must give the full read's
    //! object itself.

    use std::path::{Path, PathBuf};

    use dicom_transfer_syntax_registry::entries::{
        EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
    };
    use dicom_transfer_syntax_registry::{
        TransferSyntax, TransferSyntaxIndex, TransferSyntaxRegistry,
    };

    use super::*;
    use crate::dicom::lean::{INDEX_TAGS, read_index_header, read_whole};
    use crate::dicom::open::{Sniff, sniff};

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    /// The data set bytes of a file and how they are encoded (deflated data sets inflated),
    /// with the media SOP class; `None` for files that are not DICOM.
    fn data_set(bytes: &[u8]) -> Option<(Vec<u8>, &'static str, Option<String>)> {
        match sniff(bytes) {
            Sniff::NotDicom => None,
            Sniff::BareDataset { explicit_vr } => Some((
                bytes.to_vec(),
                if explicit_vr {
                    EXPLICIT_VR_LITTLE_ENDIAN.uid()
                } else {
                    IMPLICIT_VR_LITTLE_ENDIAN.uid()
                },
                None,
            )),
            Sniff::Part10 | Sniff::MetaWithoutPreamble => {
                assert_eq!(sniff(bytes), Sniff::Part10, "fixtures have preambles");
                let glen = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
                let start = 132 + 12 + glen;
                let meta =
                    dicom_object::meta::FileMetaTable::from_reader(&bytes[128..start]).unwrap();
                let uid = meta.transfer_syntax().trim_end_matches('\0').to_owned();
                let media = crate::dicom::open::media_sop_class(&meta);
                if uid == "1.2.840.10008.1.2.1.99" {
                    use std::io::Read;
                    let mut out = Vec::new();
                    flate2::read::DeflateDecoder::new(&bytes[start..])
                        .read_to_end(&mut out)
                        .unwrap();
                    return Some((out, EXPLICIT_VR_LITTLE_ENDIAN.uid(), media));
                }
                let ts = TransferSyntaxRegistry.get(&uid).unwrap();
                Some((bytes[start..].to_vec(), ts.uid(), media))
            }
        }
    }

    fn opened(obj: InMemDicomObject, media: &Option<String>) -> Opened {
        Opened {
            obj,
            transfer_syntax: String::new(),
            media_sop_class: media.clone(),
            bare: false,
        }
    }

    /// Lean and full reads of `ds` agree; returns whether the lean object was usable.
    fn agree(ds: &[u8], ts: &TransferSyntax, media: &Option<String>, what: &str) -> bool {
        let full = InMemDicomObject::read_dataset_with_ts(ds, ts);
        match (&full, read_whole(ds, ts)) {
            // (by Debug text: undefined lengths never compare equal)
            (Ok(f), Ok(w)) => assert_eq!(format!("{f:?}"), format!("{w:?}"), "{what}"),
            (Err(_), Err(_)) => {}
            (f, w) => panic!(
                "{what}: full read ok {}, whole read ok {}",
                f.is_ok(),
                w.is_ok()
            ),
        }
        let lean = read_index_header(ds, ts);
        let (full, lean) = match (full, lean) {
            (Ok(f), Ok(l)) => (f, l),
            (Err(_), Err(_)) => return false,
            (f, l) => panic!(
                "{what}: full read ok {}, lean read ok {}",
                f.is_ok(),
                l.is_ok()
            ),
        };
        for tag in INDEX_TAGS {
            if tag == tags::DIRECTORY_RECORD_SEQUENCE {
                assert_eq!(
                    full.get(tag).is_some(),
                    lean.get(tag).is_some(),
                    "{what}: {tag}"
                );
            } else {
                assert_eq!(full.get(tag), lean.get(tag), "{what}: {tag}");
            }
        }
        let m = media.as_deref();
        assert_eq!(kind(&full, m), kind(&lean, m), "{what}");
        if !reads_only_index_tags(&lean, m) {
            return false;
        }
        let f = format!("{:?}", instance(&opened(full, media), "f"));
        let l = format!("{:?}", instance(&opened(lean, media), "f"));
        assert_eq!(f, l, "{what}");
        true
    }

    #[test]
    fn lean_header_read_equals_the_full_read_on_real_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dicom");
        let mut all = Vec::new();
        files(&root.join("pydicom"), &mut all);
        files(&root.join("corpus"), &mut all);
        let (mut dicom, mut images) = (0, 0);
        for path in all {
            let bytes = std::fs::read(&path).unwrap();
            let Some((ds, uid, media)) = data_set(&bytes) else {
                continue;
            };
            let ts = TransferSyntaxRegistry.get(uid).unwrap();
            let what = path.display().to_string();
            dicom += 1;
            if agree(&ds, ts, &media, &what) {
                images += 1;
            }
            // cut short anywhere in the header: both fail, or both give the same
            let n = ds.len().min(4096);
            for cut in (0..n)
                .step_by(97)
                .chain([n.saturating_sub(1), n.saturating_sub(5)])
            {
                agree(&ds[..cut], ts, &media, &format!("{what} cut at {cut}"));
            }
        }
        assert!(dicom >= 60, "{dicom} DICOM files");
        assert!(images >= 50, "{images} image files read lean");
    }
}
