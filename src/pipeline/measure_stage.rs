//! The index + measure stages as library calls (`oncometry index`, `oncometry measure` and
//! `oncometry run` all go through here): index an export from headers, then read each
//! annotation object fully — one object per worker at a time, CT pixels never decoded —
//! and turn every lesion into a `lesions.csv` row.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use crate::dicom::geometry::distance;
use crate::dicom::index::{Annotation, AnnotationKind, ExportIndex, IndexError, Quarantined};
use crate::dicom::open::open_full;
use crate::dicom::rtstruct::read_rtstruct;
use crate::dicom::seg::{SegOptions, read_seg};
use crate::dicom::sr::{Linear, SrCoord, SrLesion, read_sr};
use crate::measure::{
    MaskLesion, MeasureOptions, Measurement, measure_contours, measure_mask_spaced,
};
use crate::report::LesionRow;

/// Index `dir` from headers only with `jobs` threads (0 = one per core).
pub fn index_export(dir: &Path, jobs: usize) -> Result<ExportIndex, IndexError> {
    crate::dicom::index::index_dir(dir, jobs)
}

/// Measure every lesion of every indexed annotation object. Returns the rows (sorted by
/// patient, study date, source, SOP Instance UID, lesion id) and what could not be measured
/// (a whole object, or one lesion: `reason` starts with `lesion <id>:`).
pub fn measure_export(
    dir: &Path,
    index: &ExportIndex,
    opts: &MeasureOptions,
    jobs: usize,
) -> Result<(Vec<LesionRow>, Vec<Quarantined>), IndexError> {
    measure_export_with(dir, index, opts, &SegOptions::default(), jobs)
}

/// [`measure_export`] with SEG reader options (fractional threshold).
pub fn measure_export_with(
    dir: &Path,
    index: &ExportIndex,
    opts: &MeasureOptions,
    seg_opts: &SegOptions,
    jobs: usize,
) -> Result<(Vec<LesionRow>, Vec<Quarantined>), IndexError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| IndexError::Pool(e.to_string()))?;
    let results: Vec<(Vec<LesionRow>, Vec<Quarantined>)> = pool.install(|| {
        index
            .annotations
            .par_iter()
            .map(|a| measure_annotation(dir, index, a, opts, seg_opts))
            .collect()
    });
    let mut rows = Vec::new();
    let mut quarantined = Vec::new();
    for (r, q) in results {
        rows.extend(r);
        quarantined.extend(q);
    }
    crate::report::lesions::sort_lesion_rows(&mut rows);
    quarantined.sort();
    Ok((rows, quarantined))
}

/// Read one annotation object fully and measure its lesions.
pub fn measure_annotation(
    dir: &Path,
    index: &ExportIndex,
    a: &Annotation,
    opts: &MeasureOptions,
    seg_opts: &SegOptions,
) -> (Vec<LesionRow>, Vec<Quarantined>) {
    let m = measure_annotation_keeping(dir, index, a, opts, seg_opts, false);
    (m.rows, m.bad)
}

/// What a lesion looked like where it was measured, and the images the object says it was
/// drawn on, kept so that its key image can draw the outline on the right slice without
/// reading and decoding the object a second time.
#[derive(Debug, Clone, PartialEq)]
pub enum LesionShape {
    /// A SEG segment: its mask slices and, for each, the SOP Instance UIDs of the images
    /// its frames were derived from.
    Mask {
        lesion: MaskLesion,
        sources: Vec<Vec<String>>,
    },
    /// RTSTRUCT contours and, for each, the images its ContourImageSequence names.
    Polygons {
        polygons: Vec<Vec<[f64; 3]>>,
        sources: Vec<Vec<String>>,
    },
    /// An SR measurement: no outline; the image its long axis' SCOORD was drawn on, when
    /// it is a 2D one.
    Line { source: Option<String> },
}

/// One annotation object measured: its rows, what could not be measured and, when asked
/// for, each lesion's shape by lesion id (none for SR).
#[derive(Debug, Default)]
pub struct MeasuredAnnotation {
    pub rows: Vec<LesionRow>,
    pub bad: Vec<Quarantined>,
    pub shapes: BTreeMap<String, LesionShape>,
}

/// [`measure_annotation`], optionally keeping the decoded masks / polygons (memory: one
/// object's masks per worker, dropped once its key images are drawn).
pub fn measure_annotation_keeping(
    dir: &Path,
    index: &ExportIndex,
    a: &Annotation,
    opts: &MeasureOptions,
    seg_opts: &SegOptions,
    keep_shapes: bool,
) -> MeasuredAnnotation {
    let mut out = MeasuredAnnotation::default();
    let q = |reason: String| Quarantined {
        path: a.path.clone(),
        reason,
    };
    let opened = match open_full(&dir.join(&a.path), &a.path) {
        Ok(o) => o,
        Err(e) => {
            out.bad.push(q(e.reason()));
            return out;
        }
    };
    let obj = &opened.obj;
    match a.kind {
        AnnotationKind::Seg => match read_seg(obj, &a.path, seg_opts) {
            Err(e) => out.bad.push(q(e.reason())),
            Ok(seg) => {
                for s in seg.segments {
                    let id = s.info.lesion_id();
                    match measure_mask_spaced(&s.lesion, opts, seg.slice_spacing_mm) {
                        Ok(m) => out.rows.push(row(
                            a,
                            &id,
                            s.info.number as i64,
                            &m,
                            a.slice_thickness_mm.or(seg.slice_thickness_mm),
                        )),
                        Err(e) => out.bad.push(q(format!("lesion {id}: {e}"))),
                    }
                    if keep_shapes {
                        out.shapes.insert(
                            id,
                            LesionShape::Mask {
                                lesion: s.lesion,
                                sources: s.sources,
                            },
                        );
                    }
                }
            }
        },
        AnnotationKind::Rtstruct => match read_rtstruct(obj, &a.path) {
            Err(e) => out.bad.push(q(e.reason())),
            Ok(rt) => {
                for r in rt.rois {
                    let id = r.info.name.clone();
                    match measure_contours(&r.lesion, opts) {
                        Ok(m) => {
                            out.rows
                                .push(row(a, &id, r.info.number, &m, a.slice_thickness_mm))
                        }
                        Err(e) => out.bad.push(q(format!("lesion {id}: {e}"))),
                    }
                    if keep_shapes {
                        out.shapes.insert(
                            id,
                            LesionShape::Polygons {
                                polygons: r.lesion.polygons,
                                sources: r.polygon_images,
                            },
                        );
                    }
                }
            }
        },
        AnnotationKind::Sr => match read_sr(obj, &a.path) {
            Err(e) => out.bad.push(q(e.reason())),
            Ok(rep) => {
                for l in &rep.lesions {
                    let id = l.lesion_id();
                    match sr_measurement(index, l) {
                        Ok(m) => out.rows.push(row(
                            a,
                            &id,
                            l.group_index as i64,
                            &m,
                            a.slice_thickness_mm,
                        )),
                        Err(reason) => out.bad.push(q(format!("lesion {id}: {reason}"))),
                    }
                    if keep_shapes {
                        let source = l.primary().and_then(line_image);
                        out.shapes.insert(id, LesionShape::Line { source });
                    }
                }
            }
        },
    }
    out
}

fn row(
    a: &Annotation,
    lesion_id: &str,
    number: i64,
    m: &Measurement,
    thickness: Option<f64>,
) -> LesionRow {
    let entry = a
        .lesions
        .iter()
        .find(|l| l.number == number)
        .or_else(|| a.lesions.iter().find(|l| l.lesion_id == lesion_id));
    let (la1, la2) = split(m.long_axis);
    let (sa1, sa2) = split(m.short_axis);
    LesionRow {
        patient_id: a.patient_id.clone(),
        study_uid: a.study_uid.clone(),
        study_date: a.study_date.clone(),
        source: a.kind.as_str().to_owned(),
        sop_instance_uid: a.sop_instance_uid.clone(),
        lesion_id: lesion_id.to_owned(),
        label: entry
            .map(|e| e.label.clone())
            .unwrap_or_else(|| lesion_id.to_owned()),
        is_node: entry.is_some_and(|e| e.is_node),
        organ: entry.map(|e| e.organ.clone()).unwrap_or_default(),
        long_axis_mm: m.long_axis_mm,
        short_axis_mm: m.short_axis_mm,
        slice_position_mm: m.slice_position_mm,
        n_components: m.n_components,
        la_x1: la1.map(|p| p[0]),
        la_y1: la1.map(|p| p[1]),
        la_z1: la1.map(|p| p[2]),
        la_x2: la2.map(|p| p[0]),
        la_y2: la2.map(|p| p[1]),
        la_z2: la2.map(|p| p[2]),
        slice_thickness_mm: thickness,
        sa_x1: sa1.map(|p| p[0]),
        sa_y1: sa1.map(|p| p[1]),
        sa_z1: sa1.map(|p| p[2]),
        sa_x2: sa2.map(|p| p[0]),
        sa_y2: sa2.map(|p| p[1]),
        sa_z2: sa2.map(|p| p[2]),
        referenced_series_uid: a.referenced_series_uid.clone(),
        path: a.path.clone(),
    }
}

fn split(p: Option<[[f64; 3]; 2]>) -> (Option<[f64; 3]>, Option<[f64; 3]>) {
    match p {
        Some([a, b]) => (Some(a), Some(b)),
        None => (None, None),
    }
}

/// End points in patient mm and, for a 2D SCOORD, its image's position along the normal.
type PlacedLine = ([[f64; 3]; 2], Option<f64>);

/// A line of an SR measurement placed in patient mm: its end points and, for a 2D SCOORD,
/// the position of its image along the image normal.
fn place_line(index: &ExportIndex, lin: &Linear) -> Result<Option<PlacedLine>, String> {
    match line_coord(lin) {
        None => Ok(None),
        Some(SrCoord::Patient { points, .. }) => {
            Ok(Some(([points[0], points[points.len() - 1]], None)))
        }
        Some(SrCoord::Image {
            points,
            sop_instance_uid,
            ..
        }) => {
            let Some(uid) = sop_instance_uid else {
                return Err("SCOORD names no image".into());
            };
            let Some(plane) = index.images.get(uid).and_then(|r| r.plane.as_ref()) else {
                return Err(format!(
                    "SCOORD image {uid} is not in the export (or has no geometry)"
                ));
            };
            let (a, b) = (points[0], points[points.len() - 1]);
            Ok(Some((
                [
                    plane.scoord_to_patient(a[0], a[1]),
                    plane.scoord_to_patient(b[0], b[1]),
                ],
                Some(plane.position_along_normal()),
            )))
        }
    }
}

/// The coordinates a line is placed by: its first SCOORD or SCOORD3D of two points or
/// more (end points: the first and the last).
fn line_coord(lin: &Linear) -> Option<&SrCoord> {
    lin.coords.iter().find(|c| match c {
        SrCoord::Patient { points, .. } => points.len() >= 2,
        SrCoord::Image { points, .. } => points.len() >= 2,
    })
}

/// The image of the coordinates [`place_line`] places a line by, when they are a 2D
/// SCOORD.
fn line_image(lin: &Linear) -> Option<String> {
    match line_coord(lin)? {
        SrCoord::Image {
            sop_instance_uid, ..
        } => sop_instance_uid.clone(),
        SrCoord::Patient { .. } => None,
    }
}

/// The reader's own values (mm). A length is computed from the line's end points only when
/// the NUM carries no value.
pub fn sr_measurement(index: &ExportIndex, l: &SrLesion) -> Result<Measurement, String> {
    let primary = l.primary().ok_or("no linear measurement")?;
    let placed = place_line(index, primary);
    let (long, ends, pos) = match (primary.value_mm, &placed) {
        (Some(v), Ok(Some((e, p)))) => (v, Some(*e), *p),
        (Some(v), _) => (v, None, None),
        (None, Ok(Some((e, p)))) => (distance(e[0], e[1]), Some(*e), *p),
        (None, Ok(None)) => return Err("linear measurement has neither a value nor a line".into()),
        (None, Err(e)) => return Err(e.clone()),
    };
    let short_lin = l.short_axis.as_ref();
    let short_placed = short_lin.and_then(|s| place_line(index, s).ok().flatten());
    let short = match short_lin.and_then(|s| s.value_mm) {
        Some(v) => Some(v),
        None => short_placed.map(|(e, _)| distance(e[0], e[1])),
    };
    if l.is_node && short.is_none() {
        return Err("lymph node without a short axis".into());
    }
    Ok(Measurement {
        long_axis_mm: long,
        short_axis_mm: short.unwrap_or(0.0),
        slice_position_mm: pos,
        n_components: usize::from(long > 0.0),
        dropped_components: 0,
        long_axis: ends,
        short_axis: short_placed.map(|(e, _)| e),
    })
}
