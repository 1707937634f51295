//! Integration tests: dicom. Every expectation comes from the writer side (make_corpus.py's
//! ground_truth.json, pydicom's own reading in pydicom_reference.json / seg_11x13_reference.json,
//! bad/expected.json), never from our own output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use oncometry::dicom::open::open_full;
use oncometry::dicom::rtstruct::read_rtstruct;
use oncometry::dicom::seg::{SegOptions, frames, read_seg};
use oncometry::dicom::sr::read_sr;
use serde_json::Value;

use crate::util::{fixture, oncometry};

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run_index(dir: &Path) -> (Value, i32) {
    let out = oncometry().arg("index").arg(dir).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += count_files(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

fn check_accounting(v: &Value, dir: &Path) {
    let seen = v["files_seen"].as_u64().unwrap() as usize;
    assert_eq!(seen, count_files(dir), "files_seen counts every file");
    let instances: u64 = v["patients"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["studies"].as_array().unwrap())
        .flat_map(|s| s["series"].as_array().unwrap())
        .map(|s| s["n_instances"].as_u64().unwrap())
        .sum();
    let ignored = v["ignored"].as_u64().unwrap() as usize;
    let quarantined = v["quarantined"].as_array().unwrap().len();
    assert_eq!(seen, instances as usize + ignored + quarantined);
}

fn gt() -> Value {
    json(&fixture("dicom/corpus/ground_truth.json"))
}

#[test]
fn index_corpus_finds_patients_series_annotations_and_lesions() {
    let dir = fixture("dicom/corpus");
    let (v, code) = run_index(&dir);
    let gt = gt();
    assert_eq!(code, 0);
    check_accounting(&v, &dir);
    assert_eq!(v["ignored"], 2, "the two JSON reference files");
    assert!(v["quarantined"].as_array().unwrap().is_empty());
    let patients: Vec<&str> = v["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["patient_id"].as_str().unwrap())
        .collect();
    assert_eq!(patients, ["SYN0001", "SYN0002"]);
    let study = &v["patients"][0]["studies"][0];
    assert_eq!(study["study_uid"], gt["study_instance_uid"]);
    assert_eq!(study["study_date"], "2024-06-01");
    let series = study["series"].as_array().unwrap();
    let ct = series
        .iter()
        .find(|s| s["series_uid"] == gt["series_instance_uid"])
        .unwrap();
    assert_eq!(ct["modality"], "CT");
    assert_eq!(ct["n_instances"], 20);
    let modalities: BTreeMap<String, usize> = series.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s["modality"].as_str().unwrap().to_owned())
            .or_default() += 1;
        m
    });
    assert_eq!(modalities["SEG"], 3);
    assert_eq!(modalities["SR"], 2);
    assert_eq!(modalities["RTSTRUCT"], 1);

    let anns = v["annotations"].as_array().unwrap();
    let by_path: BTreeMap<&str, &Value> = anns
        .iter()
        .map(|a| (a["path"].as_str().unwrap(), a))
        .collect();
    let expect_kind = [
        ("seg_binary_highdicom.dcm", "seg"),
        ("seg_fractional_highdicom.dcm", "seg"),
        ("seg_dcmqi.dcm", "seg"),
        ("seg_11x13_highdicom.dcm", "seg"),
        ("rtstruct_rtutils.dcm", "rtstruct"),
        ("sr_tid1500_highdicom.dcm", "sr"),
        ("sr_tid1500_dcmqi.dcm", "sr"),
    ];
    assert_eq!(anns.len(), expect_kind.len());
    for (p, kind) in expect_kind {
        let a = by_path[p];
        assert_eq!(a["kind"], kind, "{p}");
        if p != "seg_11x13_highdicom.dcm" {
            assert_eq!(a["patient_id"], "SYN0001");
            assert_eq!(a["study_uid"], gt["study_instance_uid"]);
            assert_eq!(a["referenced_series_uid"], gt["series_instance_uid"], "{p}");
            assert_eq!(a["slice_thickness_mm"], 2.5);
            let lesions = a["lesions"].as_array().unwrap();
            assert_eq!(lesions.len(), 4, "{p}");
            for (l, g) in lesions.iter().zip(gt["lesions"].as_array().unwrap()) {
                assert_eq!(l["label"], g["label"], "{p}");
                assert_eq!(l["is_node"], g["is_node"], "{p} {}", g["label"]);
                let want_id = match p {
                    "seg_binary_highdicom.dcm" | "seg_fractional_highdicom.dcm" => {
                        &g["seg_tracking_uid"]
                    }
                    "seg_dcmqi.dcm" => &g["dcmqi_seg_tracking_uid"],
                    "sr_tid1500_highdicom.dcm" => &g["sr_tracking_uid"],
                    "sr_tid1500_dcmqi.dcm" => &g["dcmqi_sr_tracking_uid"],
                    _ => &g["label"], // RTSTRUCT: ROI name
                };
                assert_eq!(&l["lesion_id"], want_id, "{p}");
                if kind != "rtstruct" {
                    assert_eq!(l["organ"], g["organ"], "{p} {}", g["label"]);
                }
            }
        }
    }
    let odd = by_path["seg_11x13_highdicom.dcm"];
    assert_eq!(odd["patient_id"], "SYN0002");
    assert_eq!(
        odd["lesions"][1]["lesion_id"], "Odd node",
        "no tracking → label"
    );
    assert_eq!(odd["lesions"][1]["is_node"], true);
    assert_eq!(odd["slice_thickness_mm"], 3.0);
}

#[test]
fn index_with_one_job_equals_index_with_many() {
    let dir = fixture("dicom/corpus");
    let a = oncometry()
        .args(["index", "--jobs", "1"])
        .arg(&dir)
        .output()
        .unwrap();
    let b = oncometry()
        .args(["index", "--jobs", "3"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn seg_masks_equal_ground_truth_for_descending_and_ascending_writers() {
    let gt = gt();
    for (file, descending) in [("seg_binary_highdicom.dcm", true), ("seg_dcmqi.dcm", false)] {
        let path = fixture("dicom/corpus").join(file);
        let o = open_full(&path, file).unwrap();
        // the file really stores frames in the order we claim (so both orders are covered)
        let fr = frames(&o.obj, file).unwrap();
        let z: Vec<f64> = fr
            .iter()
            .filter(|f| f.segment == Some(1))
            .map(|f| f.plane.origin[2])
            .collect();
        assert!(z.len() > 2);
        let sorted_desc = z.windows(2).all(|w| w[0] > w[1]);
        let sorted_asc = z.windows(2).all(|w| w[0] < w[1]);
        assert!(
            if descending { sorted_desc } else { sorted_asc },
            "{file}: {z:?}"
        );

        let seg = read_seg(&o.obj, file, &SegOptions::default()).unwrap();
        assert_eq!(seg.segments.len(), 4);
        for (s, g) in seg.segments.iter().zip(gt["lesions"].as_array().unwrap()) {
            let total: usize = s
                .lesion
                .slices
                .iter()
                .map(|sl| sl.mask.iter().filter(|&&v| v != 0).count())
                .sum();
            assert_eq!(
                total as u64,
                g["voxel_count"].as_u64().unwrap(),
                "{file} {}",
                g["label"]
            );
            let mut per_z = BTreeMap::new();
            let mut centroid = [0.0; 3];
            for sl in &s.lesion.slices {
                let n = sl.mask.iter().filter(|&&v| v != 0).count();
                if n > 0 {
                    per_z.insert(format!("{:.1}", sl.grid.origin[2]), n as u64);
                }
                for r in 0..sl.grid.rows {
                    for c in 0..sl.grid.cols {
                        if sl.mask[r * sl.grid.cols + c] != 0 {
                            for (k, v) in centroid.iter_mut().enumerate() {
                                *v += sl.grid.origin[k]
                                    + c as f64 * sl.grid.spacing[1] * sl.grid.row_dir[k]
                                    + r as f64 * sl.grid.spacing[0] * sl.grid.col_dir[k];
                            }
                        }
                    }
                }
            }
            let want: BTreeMap<String, u64> = g["voxels_per_slice_z"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    (
                        format!("{:.1}", k.parse::<f64>().unwrap()),
                        v.as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(per_z, want, "{file} {}", g["label"]);
            let centre = g["centre_mm"].as_array().unwrap();
            for k in 0..3 {
                let c = centroid[k] / total as f64;
                let want = centre[k].as_f64().unwrap();
                assert!(
                    (c - want).abs() < 0.6,
                    "{file} {} axis {k}: {c} vs {want}",
                    g["label"]
                );
            }
            // slices come sorted along the normal whatever the file order
            let zs: Vec<f64> = s.lesion.slices.iter().map(|sl| sl.grid.origin[2]).collect();
            assert!(zs.windows(2).all(|w| w[0] < w[1]));
        }
    }
}

#[test]
fn fractional_seg_thresholds_at_half_the_maximum() {
    let gt = gt();
    let file = "seg_fractional_highdicom.dcm";
    let o = open_full(&fixture("dicom/corpus").join(file), file).unwrap();
    let seg = read_seg(&o.obj, file, &SegOptions::default()).unwrap();
    assert_eq!(seg.segmentation_type, "FRACTIONAL");
    for (s, g) in seg.segments.iter().zip(gt["lesions"].as_array().unwrap()) {
        let total: u64 = s
            .lesion
            .slices
            .iter()
            .map(|sl| sl.mask.iter().filter(|&&v| v != 0).count() as u64)
            .sum();
        assert_eq!(total, g["fractional_voxel_count_ge_half"].as_u64().unwrap());
    }
    // a stricter threshold keeps fewer voxels
    let strict = read_seg(
        &o.obj,
        file,
        &SegOptions {
            fractional_threshold: 0.9,
        },
    )
    .unwrap();
    let n = |x: &oncometry::dicom::seg::SegObject| -> usize {
        x.segments[0]
            .lesion
            .slices
            .iter()
            .map(|sl| sl.mask.iter().filter(|&&v| v != 0).count())
            .sum()
    };
    assert!(n(&strict) < n(&seg));
}

#[test]
fn seg_11x13_bits_unpack_like_pydicom() {
    let r = json(&fixture("dicom/corpus/seg_11x13_reference.json"));
    let file = "seg_11x13_highdicom.dcm";
    let o = open_full(&fixture("dicom/corpus").join(file), file).unwrap();
    let fr = frames(&o.obj, file).unwrap();
    let ref_frames = r["frames"].as_array().unwrap();
    assert_eq!(fr.len(), ref_frames.len());
    let seg = read_seg(&o.obj, file, &SegOptions::default()).unwrap();
    let mut compared = 0;
    for rf in ref_frames {
        let segno = rf["segment_number"].as_u64().unwrap() as u16;
        let ipp: Vec<f64> = rf["image_position_patient"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let want: Vec<u8> = rf["pixels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect();
        let s = seg
            .segments
            .iter()
            .find(|s| s.info.number == segno)
            .unwrap();
        let slice = s
            .lesion
            .slices
            .iter()
            .find(|sl| (0..3).all(|k| (sl.grid.origin[k] - ipp[k]).abs() < 1e-4))
            .unwrap();
        assert_eq!(slice.grid.rows, 11);
        assert_eq!(slice.grid.cols, 13);
        assert_eq!(slice.grid.spacing, [0.7, 1.3]);
        assert_eq!(slice.mask, want, "segment {segno} at {ipp:?}");
        compared += 1;
    }
    assert_eq!(compared, 5);
    // the oblique orientation is carried through
    let iop: Vec<f64> = r["image_orientation_patient"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let g = &seg.segments[0].lesion.slices[0].grid;
    for k in 0..3 {
        assert!((g.row_dir[k] - iop[k]).abs() < 1e-6);
        assert!((g.col_dir[k] - iop[3 + k]).abs() < 1e-6);
    }
}

#[test]
fn rtstruct_contours_lie_on_the_lesion_slices() {
    let gt = gt();
    let file = "rtstruct_rtutils.dcm";
    let o = open_full(&fixture("dicom/corpus").join(file), file).unwrap();
    let rt = read_rtstruct(&o.obj, file).unwrap();
    assert_eq!(
        rt.referenced_series,
        [gt["series_instance_uid"].as_str().unwrap()]
    );
    assert_eq!(rt.rois.len(), 4);
    for (roi, g) in rt.rois.iter().zip(gt["lesions"].as_array().unwrap()) {
        assert_eq!(roi.info.name, g["label"].as_str().unwrap());
        assert_eq!(roi.info.is_node, g["is_node"].as_bool().unwrap());
        let zs: BTreeSet<String> = roi
            .lesion
            .polygons
            .iter()
            .map(|p| {
                assert!(p.len() >= 3);
                let z = p[0][2];
                assert!(p.iter().all(|q| (q[2] - z).abs() < 1e-6), "planar");
                format!("{z:.1}")
            })
            .collect();
        let want: BTreeSet<String> = g["voxels_per_slice_z"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("{:.1}", k.parse::<f64>().unwrap()))
            .collect();
        assert_eq!(zs, want, "{}", roi.info.name);
        // every vertex lies within the lesion's bounding ellipsoid (plus a pixel)
        let c = g["centre_mm"].as_array().unwrap();
        let a = g["semi_axes_mm"].as_array().unwrap()[0].as_f64().unwrap();
        for p in roi.lesion.polygons.iter().flatten() {
            let d = ((p[0] - c[0].as_f64().unwrap()).powi(2)
                + (p[1] - c[1].as_f64().unwrap()).powi(2))
            .sqrt();
            assert!(d <= a + 1.2, "{} vertex {p:?} {d} > {a}", roi.info.name);
        }
    }
}

#[test]
fn sr_values_are_converted_to_mm_and_lines_placed_in_patient_space() {
    let gt = gt();
    let dir = fixture("dicom/corpus");
    let out = tempfile::tempdir().unwrap();
    let csv_path = out.path().join("lesions.csv");
    let st = oncometry()
        .arg("measure")
        .arg(&dir)
        .arg("--out")
        .arg(&csv_path)
        .status()
        .unwrap();
    assert!(st.code().is_some());
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let contract = "patient_id,study_uid,study_date,source,sop_instance_uid,lesion_id,label,is_node,organ,long_axis_mm,short_axis_mm,slice_position_mm,n_components,la_x1,la_y1,la_z1,la_x2,la_y2,la_z2,slice_thickness_mm";
    let first: Vec<&str> = headers.iter().take(20).collect();
    assert_eq!(first.join(","), contract);
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let sr_hd: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[col("path")] == "sr_tid1500_highdicom.dcm")
        .collect();
    assert_eq!(sr_hd.len(), 4);
    for g in gt["lesions"].as_array().unwrap() {
        let r = sr_hd
            .iter()
            .find(|r| r[col("lesion_id")] == *g["sr_tracking_uid"].as_str().unwrap())
            .unwrap();
        let long: f64 = r[col("long_axis_mm")].parse().unwrap();
        let short: f64 = r[col("short_axis_mm")].parse().unwrap();
        assert_eq!(
            long,
            g["voxelised_longest_axial_diameter_mm"].as_f64().unwrap()
        );
        // written in cm by the corpus, must come back in mm
        assert!((short - g["analytic_short_axis_mm"].as_f64().unwrap()).abs() < 1e-9);
        assert_eq!(
            &r[col("is_node")],
            if g["is_node"].as_bool().unwrap() {
                "true"
            } else {
                "false"
            }
        );
        assert_eq!(&r[col("slice_thickness_mm")], "2.5");
        let p = |names: [&str; 3]| -> [f64; 3] { names.map(|n| r[col(n)].parse().unwrap()) };
        let a = p(["la_x1", "la_y1", "la_z1"]);
        let b = p(["la_x2", "la_y2", "la_z2"]);
        // the SCOORD end points are the centres of the voxelised end points
        let ends = g["voxelised_endpoints_row_col"].as_array().unwrap();
        let k = g["voxelised_longest_slice_index"].as_f64().unwrap();
        let to_mm = |rc: &Value| -> [f64; 3] {
            let rr = rc[0].as_f64().unwrap();
            let cc = rc[1].as_f64().unwrap();
            [-51.2 + cc * 0.8, -51.2 + rr * 0.8, -25.0 + k * 2.5]
        };
        for (got, want) in [(a, to_mm(&ends[0])), (b, to_mm(&ends[1]))] {
            for i in 0..3 {
                assert!((got[i] - want[i]).abs() < 1e-6, "{got:?} vs {want:?}");
            }
        }
        let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        assert!((d - long).abs() < 1e-3);
    }
    let sr_dcmqi = rows
        .iter()
        .filter(|r| &r[col("path")] == "sr_tid1500_dcmqi.dcm")
        .count();
    assert_eq!(sr_dcmqi, 4);
}

#[test]
fn bad_inputs_are_each_accounted_for() {
    let dir = fixture("dicom/bad");
    let expected = json(&dir.join("expected.json"));
    let (v, code) = run_index(&dir);
    assert_eq!(code, 1, "quarantine → exit 1");
    check_accounting(&v, &dir);
    let q: BTreeMap<&str, &str> = v["quarantined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["path"].as_str().unwrap(), q["reason"].as_str().unwrap()))
        .collect();
    let mut n_ignored = 1; // expected.json itself
    for (file, what) in expected["files"].as_object().unwrap() {
        let what = what.as_str().unwrap();
        match what {
            "quarantined" => assert!(q.contains_key(file.as_str()), "{file} not quarantined"),
            "ignored" => {
                n_ignored += 1;
                assert!(!q.contains_key(file.as_str()));
            }
            _ => {
                let a = v["annotations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["path"] == file.as_str())
                    .unwrap();
                assert_eq!(a["referenced_series_present"], false);
                let absent = expected["absent_series_uid"].as_str().unwrap();
                assert_eq!(a["referenced_series_uid"], absent);
                assert!(a["warnings"][0].as_str().unwrap().contains(absent));
            }
        }
    }
    assert_eq!(v["ignored"].as_u64().unwrap(), n_ignored);
    assert!(q["missing_patient_id.dcm"].contains("PatientID"));
    assert!(q["missing_study_uid.dcm"].contains("StudyInstanceUID"));
    assert!(q["truncated_pixels.dcm"].contains("truncated"));
    assert!(q["empty.dcm"].contains("empty"));
    for reason in q.values() {
        assert!(!reason.contains('\n'));
    }
}

#[test]
fn pydicom_files_index_like_pydicom_reads_them() {
    let dir = fixture("dicom/pydicom");
    let reference = json(&dir.join("pydicom_reference.json"));
    let (v, _) = run_index(&dir);
    check_accounting(&v, &dir);
    assert_eq!(
        v["dicomdirs"],
        serde_json::json!(["dicomdirtests/DICOMDIR"])
    );
    // every series pydicom sees with a patient id is in our tree with the same patient,
    // study and instance count (duplicate SOP instances count once)
    let mut want: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for (path, r) in reference.as_object().unwrap() {
        if r.get("error").is_some() || r["PatientID"] == "" || path.ends_with("DICOMDIR") {
            continue;
        }
        want.entry((
            r["PatientID"].as_str().unwrap().into(),
            r["StudyInstanceUID"].as_str().unwrap().into(),
            r["SeriesInstanceUID"].as_str().unwrap().into(),
        ))
        .or_default()
        .insert(r["SOPInstanceUID"].as_str().unwrap().into());
    }
    let mut got = BTreeMap::new();
    for p in v["patients"].as_array().unwrap() {
        for s in p["studies"].as_array().unwrap() {
            for se in s["series"].as_array().unwrap() {
                got.insert(
                    (
                        p["patient_id"].as_str().unwrap().to_owned(),
                        s["study_uid"].as_str().unwrap().to_owned(),
                        se["series_uid"].as_str().unwrap().to_owned(),
                    ),
                    se["n_instances"].as_u64().unwrap() as usize,
                );
            }
        }
    }
    let want_counts: BTreeMap<_, usize> = want.into_iter().map(|(k, v)| (k, v.len())).collect();
    assert_eq!(got, want_counts);
    // empty PatientID (test-SR.dcm, reportsi.dcm) and duplicates are quarantined with a reason
    let q: Vec<&str> = v["quarantined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["path"].as_str().unwrap())
        .collect();
    for f in [
        "test-SR.dcm",
        "reportsi.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
    ] {
        assert!(q.contains(&f), "{f}");
    }
    // rtstruct.dcm has no file meta: read as implicit VR LE; EXTERNAL/ISOCENTER are not lesions
    let rt = v["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "rtstruct.dcm")
        .unwrap();
    assert_eq!(rt["kind"], "rtstruct");
    assert_eq!(rt["patient_id"], "tPhantom30sep");
    assert!(rt["lesions"].as_array().unwrap().is_empty());
    // liver_1frame.dcm: a real SEG (more per-frame items than frames)
    let liver = v["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "liver_1frame.dcm")
        .unwrap();
    assert_eq!(liver["kind"], "seg");
    assert_eq!(liver["patient_id"], "99000");
}

#[test]
fn implicit_and_big_endian_files_read_the_same_header() {
    let reference = json(&fixture("dicom/pydicom/pydicom_reference.json"));
    for f in [
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(fixture("dicom/pydicom").join(f), tmp.path().join("IM0001")).unwrap();
        let (v, code) = run_index(tmp.path());
        assert_eq!(code, 0, "{f}");
        let p = &v["patients"][0];
        assert_eq!(p["patient_id"], reference[f]["PatientID"]);
        assert_eq!(
            p["studies"][0]["study_uid"],
            reference[f]["StudyInstanceUID"]
        );
        assert_eq!(p["studies"][0]["study_date"], "2004-08-26");
        assert_eq!(p["studies"][0]["series"][0]["n_instances"], 1);
    }
}

#[test]
fn liver_seg_decodes_one_frame() {
    let file = "liver_1frame.dcm";
    let o = open_full(&fixture("dicom/pydicom").join(file), file).unwrap();
    let seg = read_seg(&o.obj, file, &SegOptions::default()).unwrap();
    let total: usize = seg
        .segments
        .iter()
        .flat_map(|s| &s.lesion.slices)
        .map(|sl| sl.mask.iter().filter(|&&v| v != 0).count())
        .sum();
    assert!(total > 0);
    let sl = &seg.segments[0].lesion.slices[0];
    assert_eq!((sl.grid.rows, sl.grid.cols), (512, 512));
}

#[test]
fn sr_reader_reads_highdicom_groups() {
    let file = "sr_tid1500_highdicom.dcm";
    let o = open_full(&fixture("dicom/corpus").join(file), file).unwrap();
    let rep = read_sr(&o.obj, file).unwrap();
    assert_eq!(rep.lesions.len(), 4);
    assert_eq!(rep.other_groups.len(), 4, "volume-only TID 1411 groups");
    let seg_refs: usize = rep
        .other_groups
        .iter()
        .map(|g| g.referenced_segments.len())
        .sum();
    assert_eq!(seg_refs, 4);
}

#[test]
fn missing_export_dir_is_a_usage_error() {
    let st = oncometry()
        .args(["index", "/nonexistent/oncometry-export"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(2));
    let st = oncometry()
        .args([
            "measure",
            "/nonexistent/oncometry-export",
            "--out",
            "/tmp/x.csv",
        ])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(2));
}

#[test]
fn a_file_outside_the_export_behind_a_symlink_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::copy(
        fixture("dicom/pydicom/CT_small.dcm"),
        tmp.path().join("outside.dcm"),
    )
    .unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside.dcm"), export.join("link.dcm")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), export.join("loop")).unwrap();
    let (v, _) = run_index(&export);
    assert_eq!(v["files_seen"], 2);
    assert_eq!(v["ignored"], 2);
    assert!(v["patients"].as_array().unwrap().is_empty());
}

#[test]
fn measure_on_the_corpus_matches_the_voxelised_ground_truth() {
    // centres of border pixels = the ground truth's voxel-centre Feret diameter
    let gt = gt();
    let out = tempfile::tempdir().unwrap();
    let csv_path = out.path().join("lesions.csv");
    let st = oncometry()
        .arg("measure")
        .arg(fixture("dicom/corpus"))
        .args(["--point-set", "centers", "--jobs", "2", "--out"])
        .arg(&csv_path)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    // 4 lesions × (3 SEG + RTSTRUCT + 2 SR) + 2 segments of the 11×13 SEG
    assert_eq!(rows.len(), 26);
    for file in [
        "seg_binary_highdicom.dcm",
        "seg_dcmqi.dcm",
        "rtstruct_rtutils.dcm",
    ] {
        for g in gt["lesions"].as_array().unwrap() {
            let r = rows
                .iter()
                .find(|r| {
                    &r[col("path")] == file && r[col("label")] == *g["label"].as_str().unwrap()
                })
                .unwrap_or_else(|| panic!("{file} {}", g["label"]));
            let long: f64 = r[col("long_axis_mm")].parse().unwrap();
            let want = g["voxelised_longest_axial_diameter_mm"].as_f64().unwrap();
            assert!(
                (long - want).abs() < 1e-4,
                "{file} {}: {long} vs {want}",
                g["label"]
            );
            let z: f64 = r[col("slice_position_mm")].parse().unwrap();
            let k = g["voxelised_longest_slice_index"].as_f64().unwrap();
            assert!(
                (z - (-25.0 + 2.5 * k)).abs() < 1e-3,
                "{file} {}: slice {z}",
                g["label"]
            );
            assert_eq!(&r[col("slice_thickness_mm")], "2.5");
            assert_eq!(
                &r[col("source")],
                if file.starts_with("seg") {
                    "seg"
                } else {
                    "rtstruct"
                }
            );
            assert_eq!(
                r[col("is_node")] == *"true",
                g["is_node"].as_bool().unwrap()
            );
        }
    }
    // deterministic order: patient, study date, source, SOP instance, lesion id
    let keys: Vec<(String, String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[col("patient_id")].to_owned(),
                r[col("study_date")].to_owned(),
                r[col("source")].to_owned(),
                r[col("sop_instance_uid")].to_owned(),
                r[col("lesion_id")].to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

/// A deflated CT cut short inside its (compressed) pixel data is quarantined by the
/// header-only index: the deflate stream ends early.
#[test]
fn truncated_deflated_file_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let idx =
        oncometry::pipeline::measure_stage::index_export(&crate::util::fixture("demo/DEMO-001"), 1)
            .unwrap();
    let ct = idx
        .images
        .values()
        .find(|r| r.plane.is_some())
        .map(|r| crate::util::fixture("demo/DEMO-001").join(&r.path))
        .expect("a CT slice");
    let bytes = std::fs::read(&ct).unwrap();
    std::fs::write(dir.path().join("whole.dcm"), &bytes).unwrap();
    // Cut only the last bytes: the header still parses; only the stream's end is missing.
    std::fs::write(dir.path().join("cut.dcm"), &bytes[..bytes.len() - 3]).unwrap();
    let idx = oncometry::pipeline::measure_stage::index_export(dir.path(), 1).unwrap();
    assert_eq!(idx.files_seen, 2);
    assert_eq!(idx.indexed, 1, "{:?}", idx.quarantined);
    assert_eq!(idx.quarantined.len(), 1);
    assert_eq!(idx.quarantined[0].path, "cut.dcm");
    assert!(
        idx.quarantined[0].reason.contains("deflated"),
        "{}",
        idx.quarantined[0].reason
    );
}

/// The fuzz reproducers (fuzz/regressions/README.md): the element whose declared length
/// runs past the end, that length, and whether a header-only open (the index) meets it.
/// In the deflated file the bad element follows PixelData, where header-only reads stop.
const FUZZ_REGRESSIONS: [(&str, &str, u64, bool); 5] = [
    (
        "dicom_open-oom-declared-ob-length.dcm",
        "(2E32,3238)",
        909_323_825,
        true,
    ),
    (
        "dicom_open-oom-rss-declared-length-402mb.dcm",
        "(1800,1800)",
        402_659_328,
        false,
    ),
    (
        "dicom_open-rss-3.5gb-9kb-input.dcm",
        "(A306,B106)",
        3_540_379_654,
        true,
    ),
    (
        "dicom_pixeldata-oom-meta-4gb-string.dcm",
        "(0002,0002)",
        4_294_967_292,
        true,
    ),
    (
        "dicom_pixeldata-oom-at-odd-length.dcm",
        "(746E,FFFE)",
        4_294_836_224,
        true,
    ),
];

/// Inputs the fuzzers found: each must come back as an error naming the element and its
/// declared length (found by `dicom::guard` before dicom-rs reserves that length), never
/// a panic.
#[test]
fn fuzz_regressions_do_not_panic() {
    use oncometry::dicom::open::{Probe, ReadMode, open};
    let dir = crate::util::root().join("fuzz/regressions");
    for (name, tag, declared, header_meets_it) in FUZZ_REGRESSIONS {
        let p = dir.join(name);
        assert!(p.is_file(), "{name} missing");
        let full = std::panic::catch_unwind(|| open_full(&p, name))
            .unwrap_or_else(|_| panic!("{name} panicked"));
        let reason = full.expect_err(name).reason();
        let want = format!("{tag} declares {declared} bytes");
        assert!(reason.contains(&want), "{name}: {reason}");
        assert!(
            reason.starts_with("truncated or corrupt"),
            "{name}: {reason}"
        );

        let header = std::panic::catch_unwind(|| open(&p, name, ReadMode::Header))
            .unwrap_or_else(|_| panic!("{name} panicked (header-only)"));
        match header {
            Err(e) if header_meets_it => assert!(e.reason().contains(&want), "{name}: {e}"),
            Ok(Probe::Dicom(_)) if !header_meets_it => {}
            other => panic!("{name} header-only: {other:?}"),
        }
    }
}

const OPEN_HELPER_ENV: &str = "ONCOMETRY_DICOM_OPEN_HELPER";

/// Child-process entry of [`fuzz_regressions_open_in_little_memory`]: opens the file named
/// by the environment and prints the outcome and the process's peak RSS. A no-op in a
/// normal run.
#[test]
fn open_full_helper() {
    let Ok(path) = std::env::var(OPEN_HELPER_ENV) else {
        return;
    };
    let outcome = match open_full(Path::new(&path), "f") {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.reason(),
    };
    // and the key-image decoder, which reads a file its own way first
    let decoded = match oncometry::dicom::pixels::decode_slice(Path::new(&path), 0) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    println!("DECODE {decoded}");
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM in /proc/self/status")
        .trim();
    println!("OUTCOME {outcome}");
    println!("VMHWM {hwm}");
}

/// The same inputs opened in a fresh process each: its peak RSS must stay far below the
/// 400 MB - 3.5 GB dicom-rs reserved (and zero-filled) before the length guard.
#[cfg(target_os = "linux")]
#[test]
fn fuzz_regressions_open_in_little_memory() {
    let dir = crate::util::root().join("fuzz/regressions");
    for (name, tag, ..) in FUZZ_REGRESSIONS {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "dicom::open_full_helper",
                "--nocapture",
                "--test-threads=1",
                "--quiet",
            ])
            .env(OPEN_HELPER_ENV, dir.join(name))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: child failed: {stdout}");
        let line = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{name}: no {key} in {stdout}"))
                .trim()
                .to_owned()
        };
        let kb: u64 = line("VMHWM ")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        assert!(kb < 100_000, "{name}: peak RSS {kb} kB");
        assert!(line("OUTCOME ").contains(tag), "{name}: {stdout}");
        assert!(line("DECODE ").contains(tag), "{name}: {stdout}");
    }
}
