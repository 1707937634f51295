//! Key images in the run: for every measured lesion, the source slice of its long axis is
//! found (referenced series, nearest slice through the long axis' end point), decoded alone,
//! and drawn with the outline and both axes. A slice that cannot be found or decoded only
//! costs the picture: the lesion keeps its numbers and the reason goes to the log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::measure_stage::LesionShape;
use crate::dicom::geometry::ImagePlane;
use crate::dicom::index::{Annotation, ExportIndex};
use crate::dicom::pixels::{
    CandidateImage, SliceRef, decode_candidate, recycle, select_source_image,
};
use crate::report::keyimage::{
    KeyImageOptions, Outline, Overlay, SliceImage, Window, render_key_image,
};
use crate::report::{ImageSource, KeyImage, LesionRow};

/// A rendered key image as kept in the manifest with its study's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredImage {
    pub patient_id: String,
    pub study_date: String,
    pub lesion_id: String,
    pub caption: String,
    /// The key image's PNG: the crop above the whole-slice thumbnail
    /// (`keyimage::Sheet`).
    pub png: Vec<u8>,
    /// The image it was drawn on (SOP Instance UID), and how that image was found; empty
    /// and `None` for an image merged from a shard folder written before they were kept.
    pub source_sop_instance_uid: String,
    pub source_by: Option<SourceBy>,
}

/// How the image a key image is drawn on was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceBy {
    /// The annotation object names it: a SEG frame's derivation source image, an RTSTRUCT
    /// contour's ContourImageSequence, an SR SCOORD's image.
    Reference,
    /// The object names none in the export (or none at all): the nearest slice of the
    /// referenced series along the plane normal, within half the slice spacing.
    Position,
}

impl SourceBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceBy::Reference => "reference",
            SourceBy::Position => "position",
        }
    }

    /// The inverse of [`SourceBy::as_str`].
    pub fn parse(s: &str) -> Option<SourceBy> {
        match s {
            "reference" => Some(SourceBy::Reference),
            "position" => Some(SourceBy::Position),
            _ => None,
        }
    }
}

/// The images of each series that a key image can be drawn from, by Series Instance UID:
/// built once per run, so each lesion looks up its series instead of scanning the index.
/// It borrows the index: making each image's path and UID its own (three allocations an
/// image, 8-10 ms for the 14,400 images of the 200 × 3 bench, on the main thread before
/// any worker starts) waits until an annotation object asks for its series, on a worker.
#[derive(Debug)]
pub struct SeriesImages<'a> {
    export: &'a Path,
    /// (SOP Instance UID, path in the export, plane) of each image placed in space.
    by_series: HashMap<&'a str, Vec<(&'a str, &'a str, &'a ImagePlane)>>,
}

impl<'a> SeriesImages<'a> {
    pub fn new(export: &'a Path, index: &'a ExportIndex) -> Self {
        let mut by_series: HashMap<&str, Vec<(&str, &str, &ImagePlane)>> = HashMap::new();
        for (uid, r) in &index.images {
            if let Some(p) = r.plane.as_ref() {
                by_series.entry(r.series_uid.as_str()).or_default().push((
                    uid.as_str(),
                    r.path.as_str(),
                    p,
                ));
            }
        }
        SeriesImages { export, by_series }
    }

    /// The series' images as `select_source_image` takes them, their UIDs borrowed and
    /// their paths left empty: only the chosen one's is made ([`SeriesImages::with_path`]),
    /// as joining every image's path to the export (and copying every UID) cost more than
    /// choosing among them.
    fn of(&self, series_uid: &str) -> Vec<CandidateImage<'a>> {
        let Some(images) = self.by_series.get(series_uid) else {
            return Vec::new();
        };
        images
            .iter()
            .map(|&(uid, _, p)| CandidateImage {
                path: PathBuf::new(),
                sop_instance_uid: uid.into(),
                position: p.origin,
                orientation: [
                    p.row_dir[0],
                    p.row_dir[1],
                    p.row_dir[2],
                    p.col_dir[0],
                    p.col_dir[1],
                    p.col_dir[2],
                ],
                frame: 0,
            })
            .collect()
    }

    /// `chosen` (one of `candidates`, which [`SeriesImages::of`] made for `series_uid`)
    /// with its path in the export.
    fn with_path(
        &self,
        series_uid: &str,
        candidates: &[CandidateImage<'a>],
        chosen: &CandidateImage<'a>,
    ) -> CandidateImage<'a> {
        let i = candidates.iter().position(|c| std::ptr::eq(c, chosen));
        let rel = i.and_then(|i| self.by_series.get(series_uid)?.get(i));
        CandidateImage {
            path: rel.map_or_else(PathBuf::new, |&(_, path, _)| self.export.join(path)),
            ..chosen.clone()
        }
    }
}

/// Renders the key images of one annotation object's measured rows, outlining each lesion
/// with the shape measurement decoded (`shapes`, by lesion id; none for SR). Returns the
/// images and one line per lesion that got none, with why.
pub fn render_annotation(
    series: &SeriesImages<'_>,
    a: &Annotation,
    rows: &[LesionRow],
    shapes: &BTreeMap<String, LesionShape>,
    opts: &KeyImageOptions,
) -> (Vec<StoredImage>, Vec<String>) {
    let mut images = Vec::new();
    let mut missing = Vec::new();
    let rows: Vec<&LesionRow> = rows
        .iter()
        .filter(|r| r.sop_instance_uid == a.sop_instance_uid && r.long_axis_mm > 0.0)
        .collect();
    if rows.is_empty() {
        return (images, missing);
    }
    let candidates = series.of(&a.referenced_series_uid);
    if candidates.is_empty() {
        missing.push(format!(
            "{}: no image of the referenced series in the export",
            a.path
        ));
        return (images, missing);
    }
    let mut decoded = LastSlice::default();
    for row in rows {
        let (Some(x1), Some(y1), Some(z1), Some(x2), Some(y2), Some(z2)) = (
            row.la_x1, row.la_y1, row.la_z1, row.la_x2, row.la_y2, row.la_z2,
        ) else {
            continue;
        };
        let la = [[x1, y1, z1], [x2, y2, z2]];
        let sa = match (
            row.sa_x1, row.sa_y1, row.sa_z1, row.sa_x2, row.sa_y2, row.sa_z2,
        ) {
            (Some(a1), Some(b1), Some(c1), Some(a2), Some(b2), Some(c2)) => {
                Some([[a1, b1, c1], [a2, b2, c2]])
            }
            _ => None,
        };
        let o = &candidates[0].orientation;
        let normal = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
        let (outline, named) = drawn_on(shapes.get(&row.lesion_id), la[0], normal);
        let slice = SliceRef::through_point(named, la[0], normal);
        let result = select_source_image(&candidates, &slice)
            .map_err(|e| e.to_string())
            .and_then(|c| {
                let by = if slice
                    .sop_instance_uids
                    .iter()
                    .any(|u| *u == c.sop_instance_uid)
                {
                    SourceBy::Reference
                } else {
                    SourceBy::Position
                };
                let c = series.with_path(&a.referenced_series_uid, &candidates, c);
                let img = decoded.get(&c)?;
                let overlay = Overlay {
                    label: row.label.clone(),
                    long_axis: Some(la),
                    long_axis_mm: row.long_axis_mm,
                    short_axis: sa,
                    short_axis_mm: row.short_axis_mm,
                    outline,
                };
                let png = render_key_image(img, &overlay, opts).map_err(|e| e.to_string())?;
                Ok((png, c.sop_instance_uid.into_owned(), by))
            });
        match result {
            Ok((png, source_sop_instance_uid, source_by)) => images.push(StoredImage {
                patient_id: row.patient_id.clone(),
                study_date: row.study_date.clone(),
                lesion_id: row.lesion_id.clone(),
                caption: format!(
                    "{} — LA {:.1} mm, SA {:.1} mm",
                    row.label, row.long_axis_mm, row.short_axis_mm
                ),
                png,
                source_sop_instance_uid,
                source_by: Some(source_by),
            }),
            Err(e) => missing.push(format!(
                "{} lesion {}: no key image: {e}",
                a.path, row.lesion_id
            )),
        }
    }
    (images, missing)
}

/// The slice decoded last for an annotation object, so lesions whose long axes lie on one
/// slice decode it once (on the 200 × 3 bench, 242 of 884 key images share their slice
/// with another lesion of the same SEG). Memory stays at one decoded slice per worker: the
/// previous one goes back to the thread's spare buffer before the next is decoded.
#[derive(Default)]
struct LastSlice(Option<(String, u32, SliceImage)>);

impl LastSlice {
    fn get(&mut self, c: &CandidateImage<'_>) -> Result<&SliceImage, String> {
        let hit = matches!(&self.0, Some((uid, frame, _))
            if *uid == c.sop_instance_uid && *frame == c.frame);
        if !hit {
            if let Some((_, _, old)) = self.0.take() {
                recycle(old.values);
            }
            let img = decode_slice_image(c)?;
            return Ok(&self
                .0
                .insert((c.sop_instance_uid.to_string(), c.frame, img))
                .2);
        }
        match &self.0 {
            Some((_, _, img)) => Ok(img),
            None => Err("no decoded slice".into()),
        }
    }
}

impl Drop for LastSlice {
    fn drop(&mut self) {
        if let Some((_, _, img)) = self.0.take() {
            recycle(img.values);
        }
    }
}

fn decode_slice_image(c: &CandidateImage<'_>) -> Result<SliceImage, String> {
    let d = decode_candidate(c).map_err(|e| e.to_string())?;
    let grid = d
        .grid
        .ok_or_else(|| "source image has no geometry".to_string())?;
    SliceImage::new(
        grid,
        d.values,
        d.modality,
        d.window.map(|(center, width)| Window { center, width }),
        d.photometric_interpretation == "MONOCHROME1",
    )
    .map_err(|e| e.to_string())
}

/// Distance (mm) within which a mask slice or a contour lies on the long axis' plane.
const ON_PLANE_MM: f64 = 0.5;

/// The outline to draw on the long axis' slice (through `point`, along `normal`), and the
/// images the annotation object says that slice was drawn on.
fn drawn_on(
    shape: Option<&LesionShape>,
    point: [f64; 3],
    normal: [f64; 3],
) -> (Outline, Vec<String>) {
    let off_plane = |p: [f64; 3]| dot(sub(p, point), normal).abs();
    match shape {
        Some(LesionShape::Mask { lesion, sources }) => {
            let nearest =
                lesion.slices.iter().enumerate().min_by(|a, b| {
                    off_plane(a.1.grid.origin).total_cmp(&off_plane(b.1.grid.origin))
                });
            match nearest {
                Some((i, m)) => {
                    let named = if off_plane(m.grid.origin) < ON_PLANE_MM {
                        sources.get(i).cloned().unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    (Outline::Mask(m.clone()), named)
                }
                None => (Outline::None, Vec::new()),
            }
        }
        Some(LesionShape::Polygons { polygons, sources }) => {
            let mut on = Vec::new();
            let mut named: Vec<String> = Vec::new();
            for (i, p) in polygons.iter().enumerate() {
                if p.first().is_some_and(|v| off_plane(*v) < ON_PLANE_MM) {
                    on.push(p.clone());
                    for u in sources.get(i).into_iter().flatten() {
                        if !named.contains(u) {
                            named.push(u.clone());
                        }
                    }
                }
            }
            (Outline::Polygons(on), named)
        }
        Some(LesionShape::Line { source }) => (Outline::None, source.iter().cloned().collect()),
        None => (Outline::None, Vec::new()),
    }
}

/// A key image as the run writes it: its file (relative to the output folder), what the
/// report shows, and the image it was drawn on (`images/index.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedImage {
    pub file: String,
    pub image: KeyImage,
    pub source_sop_instance_uid: String,
    pub source_by: Option<SourceBy>,
}

/// Key images for the report and the files under `images/`, named by timepoint index so the
/// names carry no date or name: `images/<patient>/<timepoint>_<lesion>.png`.
pub fn finish_images(
    stored: Vec<StoredImage>,
    timepoint_of: &BTreeMap<(String, String), usize>,
) -> Vec<FinishedImage> {
    use crate::report::keyimage::safe_file_stem;
    let mut out = Vec::new();
    // Two images can want one name (two annotation objects of one day naming a lesion
    // alike, or IDs that differ only in characters a file name cannot hold): the later
    // ones get `_2`, `_3`, ... in the order stored, instead of failing the output set.
    let mut taken: HashSet<String> = HashSet::new();
    for s in stored {
        let Some(&tp) = timepoint_of.get(&(s.patient_id.clone(), s.study_date.clone())) else {
            continue;
        };
        let stem = format!(
            "images/{}/{}_{}",
            safe_file_stem(&s.patient_id),
            tp,
            safe_file_stem(&s.lesion_id)
        );
        let mut rel = format!("{stem}.png");
        let mut n = 1;
        while taken.contains(&rel) {
            n += 1;
            rel = format!("{stem}_{n}.png");
        }
        taken.insert(rel.clone());
        out.push(FinishedImage {
            file: rel,
            image: KeyImage {
                patient_id: s.patient_id,
                lesion_id: s.lesion_id,
                timepoint: tp,
                study_date: s.study_date,
                caption: s.caption,
                source: ImageSource::Png(s.png),
            },
            source_sop_instance_uid: s.source_sop_instance_uid,
            source_by: s.source_by,
        });
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second lesion on the slice decoded last uses it without reading the file again;
    /// another slice is decoded anew (here it fails: its file is gone).
    #[test]
    fn lesions_on_one_slice_decode_it_once() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("ct.dcm");
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/pydicom/CT_small.dcm");
        std::fs::copy(fixture, &path).unwrap();
        let c = CandidateImage {
            path: path.clone(),
            sop_instance_uid: "1.2.3".into(),
            position: [0.0; 3],
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            frame: 0,
        };
        let mut last = LastSlice::default();
        let first = last.get(&c).unwrap().clone();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(last.get(&c).unwrap(), &first);
        let other = CandidateImage {
            sop_instance_uid: "1.2.4".into(),
            ..c.clone()
        };
        assert!(last.get(&other).is_err());
        assert!(
            last.get(&c).is_err(),
            "the failed decode replaced the cached slice"
        );
    }

    /// Images that would share a file name (same patient, day and lesion ID, or IDs alike
    /// once made safe, or an ID ending like another's `_2` suffix) all get one of their own.
    #[test]
    fn every_key_image_gets_its_own_file_names() {
        let image = |lesion: &str| StoredImage {
            patient_id: "P/1".into(),
            study_date: "20240101".into(),
            lesion_id: lesion.into(),
            caption: String::new(),
            png: vec![1],
            source_sop_instance_uid: "1.2.3".into(),
            source_by: Some(SourceBy::Reference),
        };
        let stored = ["L1", "L1", "L?1", "L1_2", "L1_2", "L2"]
            .map(image)
            .to_vec();
        let timepoint_of = BTreeMap::from([(("P/1".to_string(), "20240101".to_string()), 0)]);
        let finished = finish_images(stored, &timepoint_of);
        assert_eq!(finished.len(), 6);
        let mut names = HashSet::new();
        for f in &finished {
            let rel = &f.file;
            assert!(rel.starts_with("images/P_1/0_"), "{rel}");
            assert!(names.insert(rel.clone()), "{rel} twice");
        }
    }
}
