"""Build the DICOM test fixtures of oncometry (fixtures/dicom/).

Adapted from /work/shared/tools/make_corpus.py (project research notes). Only the
synthetic CT pixel data are generated here; every annotation object (SEG, RTSTRUCT,
SR) is written by an established third-party writer (highdicom, rt-utils, dcmqi).

Usage (venv with: pydicom pydicom-data highdicom rt-utils dcmqi SimpleITK numpy):
    python scripts/make_corpus.py [FIXTURES_DICOM_DIR]      (default fixtures/dicom)

Writes
    corpus/   synthetic CT (SYN0001) + highdicom binary/fractional SEG, dcmqi SEG,
              rt-utils RTSTRUCT, highdicom and dcmqi TID 1500 SR, ground_truth.json;
              an 11x13 oblique anisotropic CT+SEG (SYN0002) with seg_11x13_reference.json
              (pydicom's pixel_array of that SEG)
    bad/      broken inputs (scripts/corpus_bad.py)
    pydicom/  a small selection of pydicom's own test files (copied verbatim)

UIDs are derived from fixed seeds (pydicom.uid.generate_uid(entropy_srcs=...)) so a
re-run gives the same UIDs for everything this script controls; dcmqi chooses its own
UIDs (recorded in ground_truth.json).  Never deletes anything outside the output dir.
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid, CTImageStorage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ROWS = COLS = 128
NSLICES = 20
PIXEL_SPACING = 0.8          # mm (row and column)
SLICE_THICKNESS = 2.5        # mm, also slice spacing
ORIGIN = np.array([-51.2, -51.2, -25.0])   # IPP of first slice (x, y, z) mm
RNG = np.random.default_rng(20240601)
STUDY_DATE = datetime.datetime(2024, 6, 1, 9, 30, 0)

# Lesions: centre (x, y, z) in patient mm, semi-axes (a, b, c) mm along rotated in-plane
# axes u, v and z, in-plane rotation angle (deg).  `organ` becomes the SEG
# AnatomicRegionSequence / SR finding site; `node` makes it a lymph node (SCT 59441001).
LESIONS = [
    dict(label="Lesion 1", centre=(-20.0, -15.0, -2.5), axes=(12.0, 7.0, 6.0), angle=30.0, hu=90,
         organ="Liver", node=False),
    dict(label="Lesion 2", centre=(18.0, 10.0, 10.0), axes=(8.0, 8.0, 5.0), angle=0.0, hu=70,
         organ="Lung", node=False),
    dict(label="Lesion 3", centre=(5.0, 25.0, -15.0), axes=(6.0, 3.5, 3.0), angle=-45.0, hu=110,
         organ=None, node=False),
    dict(label="Node 1", centre=(-28.0, 18.0, 5.0), axes=(8.0, 6.0, 4.0), angle=15.0, hu=60,
         organ=None, node=True),
]

REPORT = {}


def uid(name):
    """A fixed UID for `name` (deterministic across runs)."""
    return generate_uid(entropy_srcs=["oncometry-dicom-corpus", name])


def voxel_centres():
    """Return arrays X, Y, Z (slice, row, col) of voxel centres in patient mm."""
    k = np.arange(NSLICES)[:, None, None]
    r = np.arange(ROWS)[None, :, None]
    c = np.arange(COLS)[None, None, :]
    X = ORIGIN[0] + c * PIXEL_SPACING + 0 * r + 0 * k
    Y = ORIGIN[1] + r * PIXEL_SPACING + 0 * c + 0 * k
    Z = ORIGIN[2] + k * SLICE_THICKNESS + 0 * r + 0 * c
    return X.astype(float), Y.astype(float), Z.astype(float)


def ellipsoid_inside(X, Y, Z, les):
    cx, cy, cz = les["centre"]
    a, b, c = les["axes"]
    t = np.deg2rad(les["angle"])
    dx, dy, dz = X - cx, Y - cy, Z - cz
    u = dx * np.cos(t) + dy * np.sin(t)
    v = -dx * np.sin(t) + dy * np.cos(t)
    return (u / a) ** 2 + (v / b) ** 2 + (dz / c) ** 2 <= 1.0


def fractional_masks(n_sub=3):
    """Partial-volume fraction per voxel via n_sub^3 supersampling."""
    X, Y, Z = voxel_centres()
    offs = (np.arange(n_sub) + 0.5) / n_sub - 0.5
    out = np.zeros((NSLICES, ROWS, COLS, len(LESIONS)), dtype=np.float32)
    for i, les in enumerate(LESIONS):
        acc = np.zeros((NSLICES, ROWS, COLS), dtype=np.float32)
        for ox in offs:
            for oy in offs:
                for oz in offs:
                    acc += ellipsoid_inside(X + ox * PIXEL_SPACING, Y + oy * PIXEL_SPACING,
                                            Z + oz * SLICE_THICKNESS, les)
        out[..., i] = acc / n_sub ** 3
    return out


def max_feret_2d(mask2d):
    """Longest distance (mm) between centres of voxels in a 2-D mask + endpoints (row, col)."""
    pts = np.argwhere(mask2d)
    if len(pts) == 0:
        return 0.0, None
    if len(pts) == 1:
        return 0.0, (pts[0], pts[0])
    mm = pts * PIXEL_SPACING
    d2 = ((mm[:, None, :] - mm[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmax(d2), d2.shape)
    return float(np.sqrt(d2[i, j])), (pts[i], pts[j])


def ct_dataset(fname, *, patient_id, study_uid, series_uid, for_uid, sop_uid, k, rows, cols,
               ipp, iop, spacing, thickness, pixels, series_description):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(fname, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = STUDY_DATE.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = STUDY_DATE.strftime("%H%M%S")
    ds.AccessionNumber = "ACC" + patient_id
    ds.Modality = "CT"
    ds.Manufacturer = "SyntheticCT"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Synthetic RECIST test study"
    ds.SeriesDescription = series_description
    ds.PatientName = "Synthetic^Patient"
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "O"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = thickness
    ds.SpacingBetweenSlices = thickness
    ds.KVP = 120
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 2
    ds.InstanceNumber = k + 1
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = for_uid
    ds.PositionReferenceIndicator = ""
    ds.ImagePositionPatient = [round(float(v), 6) for v in ipp]
    ds.ImageOrientationPatient = [round(float(v), 8) for v in iop]
    ds.SliceLocation = round(float(ipp[2]), 6)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.PixelSpacing = list(spacing)
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.PixelData = pixels.tobytes()
    ds.save_as(fname, enforce_file_format=True)


def make_ct(outdir):
    X, Y, Z = voxel_centres()
    study_uid, series_uid, for_uid = uid("study1"), uid("ct-series1"), uid("for1")
    hu = np.full((NSLICES, ROWS, COLS), -1000.0)
    body = (X / 48.0) ** 2 + (Y / 40.0) ** 2 <= 1.0
    hu[body] = 40.0
    labels = np.zeros((NSLICES, ROWS, COLS), dtype=np.uint8)
    for i, les in enumerate(LESIONS):
        m = ellipsoid_inside(X, Y, Z, les)
        assert not (labels[m] != 0).any(), "lesions overlap"
        hu[m] = les["hu"]
        labels[m] = i + 1
    hu += RNG.normal(0, 8, hu.shape)
    stored = np.clip(np.round(hu + 1024), 0, 4095).astype(np.uint16)
    os.makedirs(os.path.join(outdir, "ct"), exist_ok=True)
    datasets = []
    for k in range(NSLICES):
        fname = os.path.join(outdir, "ct", f"CT_{k + 1:04d}.dcm")
        ct_dataset(fname, patient_id="SYN0001", study_uid=study_uid, series_uid=series_uid,
                   for_uid=for_uid, sop_uid=uid(f"ct1-{k}"), k=k, rows=ROWS, cols=COLS,
                   ipp=[ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SLICE_THICKNESS],
                   iop=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], spacing=[PIXEL_SPACING, PIXEL_SPACING],
                   thickness=SLICE_THICKNESS, pixels=stored[k], series_description="Synthetic CT 2.5mm")
        datasets.append(pydicom.dcmread(fname))
    return datasets, labels


def ground_truth(labels, ct):
    gt = {"geometry": dict(rows=ROWS, cols=COLS, slices=NSLICES, pixel_spacing_mm=PIXEL_SPACING,
                           slice_thickness_mm=SLICE_THICKNESS, origin_mm=ORIGIN.tolist(),
                           image_orientation=[1, 0, 0, 0, 1, 0]),
          "patient_id": "SYN0001", "study_instance_uid": ct[0].StudyInstanceUID, "study_date": "2024-06-01",
          "series_instance_uid": ct[0].SeriesInstanceUID, "lesions": []}
    for i, les in enumerate(LESIONS):
        m = labels == i + 1
        best = (0.0, None, None)
        for k in range(NSLICES):
            d, ends = max_feret_2d(m[k])
            if d > best[0]:
                best = (d, k, ends)
        d, k, ends = best
        per_slice = {str(round(float(ORIGIN[2] + kk * SLICE_THICKNESS), 4)): int(m[kk].sum())
                     for kk in range(NSLICES) if m[kk].any()}
        gt["lesions"].append(dict(
            label=les["label"], segment_number=i + 1, is_node=les["node"], organ=les["organ"] or "",
            centre_mm=list(les["centre"]), semi_axes_mm=list(les["axes"]), inplane_angle_deg=les["angle"],
            analytic_longest_axial_diameter_mm=2 * max(les["axes"][:2]),
            analytic_short_axis_mm=2 * min(les["axes"][:2]),
            voxel_count=int(m.sum()), voxels_per_slice_z=per_slice,
            volume_mm3_voxelised=float(m.sum() * PIXEL_SPACING ** 2 * SLICE_THICKNESS),
            voxelised_longest_axial_diameter_mm=round(d, 4),
            voxelised_longest_slice_index=int(k) if k is not None else None,
            voxelised_longest_slice_sop_instance_uid=ct[k].SOPInstanceUID if k is not None else None,
            voxelised_endpoints_row_col=[list(map(int, ends[0])), list(map(int, ends[1]))] if ends else None,
            seg_tracking_uid=uid(f"tracking-{les['label']}"),
            sr_tracking_uid=uid(f"sr-tracking-{les['label']}"),
            dcmqi_seg_tracking_uid=uid(f"dcmqi-tracking-{les['label']}"),
            dcmqi_sr_tracking_uid=uid(f"dcmqi-sr-tracking-{les['label']}"),
            note="voxelised diameter = max distance between centres of mask voxels on one axial slice"))
    return gt


def try_step(name, fn):
    try:
        REPORT[name] = {"ok": True, "detail": fn()}
    except Exception as exc:  # record and continue
        REPORT[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                        "trace": traceback.format_exc().splitlines()[-6:]}
    print(f"[{'OK' if REPORT[name]['ok'] else 'FAIL'}] {name}: "
          f"{REPORT[name].get('detail') or REPORT[name].get('error')}")


def organ_code(name):
    from pydicom.sr.codedict import codes
    return {"Liver": codes.SCT.Liver, "Lung": codes.SCT.Lung}[name]


def segment_descriptions(tag):
    import highdicom as hd
    from pydicom.sr.codedict import codes
    algo = hd.AlgorithmIdentificationSequence(name="synthetic-ellipsoids", version="1.0",
                                              family=codes.cid7162.ArtificialIntelligence)
    out = []
    for i, les in enumerate(LESIONS):
        if les["node"]:
            cat, typ = codes.SCT.AnatomicalStructure, codes.SCT.LymphNode
        else:
            cat, typ = codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm
        out.append(hd.seg.SegmentDescription(
            segment_number=i + 1, segment_label=les["label"],
            segmented_property_category=cat, segmented_property_type=typ,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algo,
            anatomic_regions=[organ_code(les["organ"])] if les["organ"] else None,
            tracking_uid=uid(f"tracking-{les['label']}"), tracking_id=les["label"]))
    return out


def write_seg_binary(outdir, ct, labels):
    import highdicom as hd
    seg = hd.seg.Segmentation(
        source_images=ct, pixel_array=labels,  # label map (slices, rows, cols), values 0..4
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions("binary"),
        series_instance_uid=uid("seg-binary-series"), series_number=100,
        sop_instance_uid=uid("seg-binary-sop"),
        instance_number=1, manufacturer="highdicom", manufacturer_model_name="make_corpus",
        software_versions=hd.__version__, device_serial_number="0001",
        series_description="Lesions SEG binary (highdicom)",
        content_date=STUDY_DATE.date(), content_time=STUDY_DATE.time())
    p = os.path.join(outdir, "seg_binary_highdicom.dcm")
    seg.save_as(p)
    return dict(file=os.path.basename(p), frames=int(seg.NumberOfFrames), bits_allocated=int(seg.BitsAllocated))


def write_seg_fractional(outdir, ct, frac, gt):
    import highdicom as hd
    seg = hd.seg.Segmentation(
        source_images=ct, pixel_array=frac,  # (slices, rows, cols, segments) floats in [0, 1]
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        fractional_type=hd.seg.SegmentationFractionalTypeValues.PROBABILITY,
        max_fractional_value=255,
        segment_descriptions=segment_descriptions("fractional"),
        series_instance_uid=uid("seg-frac-series"), series_number=101, sop_instance_uid=uid("seg-frac-sop"),
        instance_number=1, manufacturer="highdicom", manufacturer_model_name="make_corpus",
        software_versions=hd.__version__, device_serial_number="0001",
        series_description="Lesions SEG fractional (highdicom)",
        content_date=STUDY_DATE.date(), content_time=STUDY_DATE.time())
    p = os.path.join(outdir, "seg_fractional_highdicom.dcm")
    seg.save_as(p)
    # Reference for the reader: pydicom's stored values thresholded at half the maximum
    # fractional value (value >= 127.5, i.e. >= 128 of 255), counted per segment.
    ds = pydicom.dcmread(p)
    arr = ds.pixel_array
    if arr.ndim == 2:
        arr = arr[None]
    counts = {}
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        s = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        counts[s] = counts.get(s, 0) + int((arr[f] >= 128).sum())
    for les in gt["lesions"]:
        les["fractional_voxel_count_ge_half"] = counts.get(les["segment_number"], 0)
    return dict(file=os.path.basename(p), frames=int(seg.NumberOfFrames), bits_allocated=int(seg.BitsAllocated))


def write_rtstruct(outdir, labels):
    from rt_utils import RTStructBuilder
    rt = RTStructBuilder.create_new(dicom_series_path=os.path.join(outdir, "ct"))
    colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]
    for i, les in enumerate(LESIONS):
        # rt-utils wants (rows, cols, slices), slices sorted along the slice normal (ascending z)
        mask = np.transpose(labels == i + 1, (1, 2, 0))
        rt.add_roi(mask=mask, color=colours[i], name=les["label"])
    p = os.path.join(outdir, "rtstruct_rtutils.dcm")
    rt.save(p)
    # rt-utils draws random UIDs and today's date; pin them so the fixture is reproducible.
    ds = pydicom.dcmread(p)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("rtstruct-sop")
    ds.SeriesInstanceUID = uid("rtstruct-series")
    for attr in ("StructureSetDate", "InstanceCreationDate", "SeriesDate", "ContentDate"):
        if attr in ds:
            setattr(ds, attr, STUDY_DATE.strftime("%Y%m%d"))
    ds.save_as(p)
    ncont = [len(r.ContourSequence) for r in ds.ROIContourSequence]
    return dict(file=os.path.basename(p), rois=len(ds.StructureSetROISequence), contours_per_roi=ncont)


def write_sr(outdir, ct, gt, seg_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes
    ct_by_uid = {d.SOPInstanceUID: d for d in ct}
    groups = []
    for les, g in zip(LESIONS, gt["lesions"]):
        src = ct_by_uid[g["voxelised_longest_slice_sop_instance_uid"]]
        (r0, c0), (r1, c1) = g["voxelised_endpoints_row_col"]
        # SCOORD graphic data are (column, row) pixel coordinates, pixel centre = +0.5
        poly = np.array([[c0 + 0.5, r0 + 0.5], [c1 + 0.5, r1 + 0.5]], dtype=float)
        long_axis = hd.sr.Measurement(
            name=codes.SCT.LongAxis, value=g["voxelised_longest_axial_diameter_mm"], unit=codes.UCUM.Millimeter,
            referenced_coordinates=[hd.sr.CoordinatesForMeasurement(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=poly,
                source_image=hd.sr.SourceImageForRegion.from_source_image(src))])
        # Short axis in centimetres to exercise the UCUM conversion.
        short_axis = hd.sr.Measurement(name=codes.SCT.ShortAxis, value=g["analytic_short_axis_mm"] / 10.0,
                                       unit=codes.UCUM.Centimeter)
        sites = [hd.sr.FindingSite(anatomic_location=organ_code(les["organ"]))] if les["organ"] else None
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=uid(f"sr-tracking-{les['label']}"),
                                                         identifier=les["label"]),
            finding_type=codes.SCT.LymphNode if les["node"] else codes.SCT.Neoplasm,
            finding_category=codes.SCT.MorphologicallyAbnormalStructure,
            finding_sites=sites,
            measurements=[long_axis, short_axis]))
    # plus one TID 1411 volumetric group per lesion that references the SEG segment
    seg = pydicom.dcmread(seg_path)
    for i, g in enumerate(gt["lesions"]):
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=uid(f"sr-vol-{i}"), identifier=g["label"] + " volume"),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=i + 1,
                source_series=hd.sr.SourceSeriesForSegmentation(ct[0].SeriesInstanceUID)),
            finding_type=codes.SCT.Neoplasm,
            measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=g["volume_mm3_voxelised"],
                                            unit=codes.UCUM.CubicMillimeter)]))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Reader^One"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups, title=codes.DCM.ImagingMeasurementReport)
    sr = hd.sr.Comprehensive3DSR(
        evidence=list(ct) + [seg], content=report[0], series_instance_uid=uid("sr-hd-series"), series_number=200,
        sop_instance_uid=uid("sr-hd-sop"), instance_number=1, manufacturer="highdicom",
        is_complete=True, is_final=True, series_description="RECIST measurements (highdicom TID1500)",
        content_date=STUDY_DATE.date(), content_time=STUDY_DATE.time())
    p = os.path.join(outdir, "sr_tid1500_highdicom.dcm")
    sr.save_as(p)
    return dict(file=os.path.basename(p), groups=len(groups), sop_class=str(sr.SOPClassUID))


def dcmqi_bin(name):
    try:
        import dcmqi  # noqa: F401  (pip package ships binaries in dcmqi/bin)
        p = os.path.join(os.path.dirname(dcmqi.__file__), "bin", name)
        if os.path.exists(p):
            return p
    except ImportError:
        pass
    return shutil.which(name)


def write_seg_dcmqi(outdir, labels):
    import SimpleITK as sitk
    exe = dcmqi_bin("itkimage2segimage")
    if not exe:
        raise RuntimeError("itkimage2segimage not found")
    img = sitk.GetImageFromArray(labels.astype(np.uint16))  # array (z, y, x)
    img.SetSpacing((PIXEL_SPACING, PIXEL_SPACING, SLICE_THICKNESS))
    img.SetOrigin(tuple(float(v) for v in ORIGIN))
    img.SetDirection((1, 0, 0, 0, 1, 0, 0, 0, 1))
    attrs = []
    for i, les in enumerate(LESIONS):
        a = {"labelID": i + 1, "SegmentDescription": les["label"], "SegmentLabel": les["label"],
             "SegmentAlgorithmType": "MANUAL", "TrackingIdentifier": les["label"],
             "TrackingUniqueIdentifier": uid(f"dcmqi-tracking-{les['label']}"),
             "SegmentedPropertyCategoryCodeSequence": {"CodeValue": "49755003", "CodingSchemeDesignator": "SCT",
                                                       "CodeMeaning": "Morphologically Altered Structure"},
             "SegmentedPropertyTypeCodeSequence": {"CodeValue": "108369006", "CodingSchemeDesignator": "SCT",
                                                   "CodeMeaning": "Neoplasm"},
             "recommendedDisplayRGBValue": [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]][i]}
        if les["node"]:
            a["SegmentedPropertyCategoryCodeSequence"] = {"CodeValue": "91723000", "CodingSchemeDesignator": "SCT",
                                                          "CodeMeaning": "Anatomical Structure"}
            a["SegmentedPropertyTypeCodeSequence"] = {"CodeValue": "59441001", "CodingSchemeDesignator": "SCT",
                                                      "CodeMeaning": "Lymph node"}
        if les["organ"]:
            a["AnatomicRegionSequence"] = {"CodeValue": {"Liver": "10200004", "Lung": "39607008"}[les["organ"]],
                                           "CodingSchemeDesignator": "SCT", "CodeMeaning": les["organ"]}
        attrs.append(a)
    meta = {
        "ContentCreatorName": "Reader^One", "ClinicalTrialSeriesID": "Session1",
        "ClinicalTrialTimePointID": "1", "SeriesDescription": "Lesions SEG (dcmqi)",
        "SeriesNumber": "300", "InstanceNumber": "1", "BodyPartExamined": "CHEST",
        "segmentAttributes": [attrs],
        "ContentLabel": "SEGMENTATION", "ContentDescription": "dcmqi", }
    with tempfile.TemporaryDirectory() as td:
        nrrd = os.path.join(td, "labels.nrrd")
        sitk.WriteImage(img, nrrd)
        mj = os.path.join(td, "meta.json")
        with open(mj, "w") as f:
            json.dump(meta, f)
        out = os.path.join(outdir, "seg_dcmqi.dcm")
        r = subprocess.run([exe, "--inputImageList", nrrd, "--inputDICOMDirectory", os.path.join(outdir, "ct"),
                            "--outputDICOM", out, "--inputMetadata", mj], capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"rc={r.returncode} {r.stderr[-500:]} {r.stdout[-500:]}")
    ds = pydicom.dcmread(out)
    return dict(file="seg_dcmqi.dcm", frames=int(ds.NumberOfFrames), bits_allocated=int(ds.BitsAllocated),
                sop_instance_uid=str(ds.SOPInstanceUID))


def write_sr_dcmqi(outdir, ct, gt):
    exe = dcmqi_bin("tid1500writer")
    if not exe:
        raise RuntimeError("tid1500writer not found")
    seg = pydicom.dcmread(os.path.join(outdir, "seg_dcmqi.dcm"))
    meas = []
    for i, g in enumerate(gt["lesions"]):
        meas.append({
            "TrackingIdentifier": g["label"], "ReferencedSegment": i + 1,
            "TrackingUniqueIdentifier": uid(f"dcmqi-sr-tracking-{g['label']}"),
            "SourceSeriesForImageSegmentation": ct[0].SeriesInstanceUID,
            "segmentationSOPInstanceUID": seg.SOPInstanceUID,
            "Finding": ({"CodeValue": "59441001", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Lymph node"}
                        if LESIONS[i]["node"] else
                        {"CodeValue": "108369006", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Neoplasm"}),
            **({"FindingSite": {"CodeValue": {"Liver": "10200004", "Lung": "39607008"}[LESIONS[i]["organ"]],
                                "CodingSchemeDesignator": "SCT", "CodeMeaning": LESIONS[i]["organ"]}}
               if LESIONS[i]["organ"] else {}),
            "measurementItems": [
                {"value": str(g["voxelised_longest_axial_diameter_mm"]),
                 "quantity": {"CodeValue": "103339001", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Long axis"},
                 "units": {"CodeValue": "mm", "CodingSchemeDesignator": "UCUM", "CodeMeaning": "millimeter"}},
                {"value": str(g["analytic_short_axis_mm"]),
                 "quantity": {"CodeValue": "103340004", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Short axis"},
                 "units": {"CodeValue": "mm", "CodingSchemeDesignator": "UCUM", "CodeMeaning": "millimeter"}},
                {"value": str(g["volume_mm3_voxelised"]),
                 "quantity": {"CodeValue": "118565006", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Volume"},
                 "units": {"CodeValue": "mm3", "CodingSchemeDesignator": "UCUM", "CodeMeaning": "cubic millimeter"}}]})
    meta = {
        "SeriesDescription": "RECIST measurements (dcmqi TID1500)", "SeriesNumber": "400", "InstanceNumber": "1",
        "compositeContext": ["seg_dcmqi.dcm"],
        "imageLibrary": [os.path.basename(d.filename) for d in ct],
        "observerContext": {"ObserverType": "PERSON", "PersonObserverName": "Reader^One"},
        "VerificationFlag": "VERIFIED", "CompletionFlag": "COMPLETE", "activitySession": "1", "timePoint": "1",
        "procedureReported": {"CodeValue": "25045-6", "CodingSchemeDesignator": "LN",
                              "CodeMeaning": "CT unspecified body region"},
        "Measurements": meas}
    with tempfile.TemporaryDirectory() as td:
        mj = os.path.join(td, "sr.json")
        with open(mj, "w") as f:
            json.dump(meta, f)
        out = os.path.join(outdir, "sr_tid1500_dcmqi.dcm")
        r = subprocess.run([exe, "--inputMetadata", mj, "--inputImageLibraryDirectory", os.path.join(outdir, "ct"),
                            "--inputCompositeContextDirectory", outdir, "--outputDICOM", out],
                           capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"rc={r.returncode} {r.stderr[-800:]} {r.stdout[-500:]}")
    ds = pydicom.dcmread(out)
    return dict(file="sr_tid1500_dcmqi.dcm", sop_class=str(ds.SOPClassUID), sop_instance_uid=str(ds.SOPInstanceUID))


def write_odd_seg(outdir):
    """An 11x13 oblique, anisotropic CT (4 slices) + highdicom binary SEG with 2 segments.

    143 pixels per frame is not a multiple of 8, so frames share bytes in the packed
    PixelData: the reader must unpack bits with a running offset.  The reference file holds
    pydicom's pixel_array for every frame plus the frame's position and segment.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes
    rows, cols, n = 11, 13, 4
    spacing = [0.7, 1.3]       # [row spacing, column spacing]
    thick = 3.0
    t = np.deg2rad(30.0)
    # oblique: rotate the axial plane 30 degrees about the patient y axis
    row_dir = np.array([np.cos(t), 0.0, np.sin(t)])
    col_dir = np.array([0.0, 1.0, 0.0])
    normal = np.cross(row_dir, col_dir)
    origin = np.array([-5.0, -4.0, 10.0])
    d = os.path.join(outdir, "ct_11x13")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(1113)
    ct = []
    for k in range(n):
        fname = os.path.join(d, f"CT_{k + 1:04d}.dcm")
        ct_dataset(fname, patient_id="SYN0002", study_uid=uid("study2"), series_uid=uid("ct-series2"),
                   for_uid=uid("for2"), sop_uid=uid(f"ct2-{k}"), k=k, rows=rows, cols=cols,
                   ipp=origin + k * thick * normal, iop=list(row_dir) + list(col_dir), spacing=spacing,
                   thickness=thick, pixels=rng.integers(900, 1100, (rows, cols)).astype(np.uint16),
                   series_description="Synthetic oblique 11x13")
        ct.append(pydicom.dcmread(fname))
    labels = np.zeros((n, rows, cols), dtype=np.uint8)
    labels[:, 2:9, 3:10] = (rng.random((n, 7, 7)) < 0.6) * 1
    labels[1:3, 0:3, 9:13] = 2   # a second segment touching the frame border
    labels[0, 10, 12] = 1        # the last pixel of a frame (bit 142)
    labels[3] = 0                # an empty slice
    algo = hd.AlgorithmIdentificationSequence(name="synthetic", version="1.0",
                                              family=codes.cid7162.ArtificialIntelligence)
    descs = [hd.seg.SegmentDescription(segment_number=1, segment_label="Odd lesion",
                                       segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                                       segmented_property_type=codes.SCT.Neoplasm,
                                       algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                                       algorithm_identification=algo, tracking_id="ODD-1",
                                       tracking_uid=uid("tracking-odd-1")),
             hd.seg.SegmentDescription(segment_number=2, segment_label="Odd node",
                                       segmented_property_category=codes.SCT.AnatomicalStructure,
                                       segmented_property_type=codes.SCT.LymphNode,
                                       algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                                       algorithm_identification=algo)]
    seg = hd.seg.Segmentation(
        source_images=ct, pixel_array=labels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descs, series_instance_uid=uid("seg-odd-series"), series_number=100,
        sop_instance_uid=uid("seg-odd-sop"), instance_number=1, manufacturer="highdicom",
        manufacturer_model_name="make_corpus", software_versions=hd.__version__, device_serial_number="0001",
        content_date=STUDY_DATE.date(), content_time=STUDY_DATE.time())
    p = os.path.join(outdir, "seg_11x13_highdicom.dcm")
    seg.save_as(p)
    ds = pydicom.dcmread(p)
    arr = ds.pixel_array
    if arr.ndim == 2:
        arr = arr[None]
    frames = []
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        frames.append(dict(
            segment_number=int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
            image_position_patient=[float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient],
            pixels=[int(v) for v in arr[f].ravel()]))
    ref = dict(writer=f"highdicom {hd.__version__}", reader=f"pydicom {pydicom.__version__} pixel_array",
               rows=rows, cols=cols, pixel_spacing=spacing, image_orientation_patient=list(row_dir) + list(col_dir),
               frames=frames)
    with open(os.path.join(outdir, "seg_11x13_reference.json"), "w") as f:
        json.dump(ref, f, indent=0)
    return dict(file=os.path.basename(p), frames=int(ds.NumberOfFrames), rows=rows, cols=cols)


PYDICOM_FILES = ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                 "liver_1frame.dcm", "rtstruct.dcm", "test-SR.dcm", "reportsi.dcm", "README.txt"]


def copy_pydicom(outdir):
    """Copy pydicom's own test files (real files from many writers) verbatim."""
    import pydicom.data
    src = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")
    os.makedirs(outdir, exist_ok=True)
    for name in PYDICOM_FILES:
        shutil.copy2(os.path.join(src, name), os.path.join(outdir, name))
    dd = os.path.join(outdir, "dicomdirtests")
    if os.path.exists(dd):
        shutil.rmtree(dd)
    shutil.copytree(os.path.join(src, "dicomdirtests"), dd,
                    ignore=shutil.ignore_patterns("TINY_ALPHA", "DICOMDIR-*"))
    lic = os.path.join(os.path.dirname(os.path.dirname(pydicom.__file__)), f"pydicom-{pydicom.__version__}.dist-info")
    for cand in ("LICENSE", "licenses/LICENSE"):
        if os.path.exists(os.path.join(lic, cand)):
            shutil.copy2(os.path.join(lic, cand), os.path.join(outdir, "LICENSE.pydicom"))
    # What pydicom itself reads from each copied file (the peer reference for the index test).
    ref = {}
    for dirpath, _, names in os.walk(outdir):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, outdir).replace(os.sep, "/")
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=name not in ("README.txt", "LICENSE.pydicom"))
                ref[rel] = {k: str(ds.get(k, "")) for k in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID",
                                                           "SOPInstanceUID", "Modality", "StudyDate")}
            except Exception as exc:  # not DICOM
                ref[rel] = {"error": type(exc).__name__}
    with open(os.path.join(outdir, "pydicom_reference.json"), "w") as f:
        json.dump(ref, f, indent=0, sort_keys=True)
    return dict(files=PYDICOM_FILES + ["dicomdirtests/"], pydicom=pydicom.__version__)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "fixtures/dicom"
    outdir = os.path.join(root, "corpus")
    os.makedirs(outdir, exist_ok=True)
    ct, labels = make_ct(outdir)
    gt = ground_truth(labels, ct)
    print(f"[OK] CT series: {len(ct)} slices written; lesions: "
          + ", ".join(f"{g['label']} {g['voxelised_longest_axial_diameter_mm']:.2f} mm" for g in gt["lesions"]))
    frac = fractional_masks()
    try_step("seg_binary_highdicom", lambda: write_seg_binary(outdir, ct, labels))
    try_step("seg_fractional_highdicom", lambda: write_seg_fractional(outdir, ct, frac, gt))
    try_step("rtstruct_rtutils", lambda: write_rtstruct(outdir, labels))
    try_step("sr_tid1500_highdicom",
             lambda: write_sr(outdir, ct, gt, os.path.join(outdir, "seg_binary_highdicom.dcm")))
    try_step("seg_dcmqi", lambda: write_seg_dcmqi(outdir, labels))
    try_step("sr_tid1500_dcmqi", lambda: write_sr_dcmqi(outdir, ct, gt))
    try_step("seg_11x13_highdicom", lambda: write_odd_seg(outdir))
    gt["writers"] = REPORT
    with open(os.path.join(outdir, "ground_truth.json"), "w") as f:
        json.dump(gt, f, indent=1)
    import corpus_bad
    try_step("bad", lambda: corpus_bad.write_bad(os.path.join(root, "bad"), outdir))
    try_step("pydicom", lambda: copy_pydicom(os.path.join(root, "pydicom")))
    if not all(r["ok"] for r in REPORT.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
