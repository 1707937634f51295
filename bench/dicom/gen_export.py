"""Synthetic PACS export for the DICOM benchmark: many small CT slices + one highdicom SEG
per study.

    python bench/dicom/gen_export.py OUT_DIR [--patients 100] [--studies 2] [--slices 100] [--size 64]

Default: 100 patients × 2 studies × 100 slices of 64×64 = 20,000 CT files + 200 SEG.
CT files have no extension half of the time (PACS exports often do that). Deterministic.
"""
import argparse
import datetime
import os

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid, CTImageStorage


def uid(*parts):
    # one joined source: pydicom concatenates entropy sources without a separator, so
    # (1, 0, 10) and (10, 1, 0) would collide
    return generate_uid(entropy_srcs=["oncometry-bench/" + "/".join(str(p) for p in parts)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--studies", type=int, default=2)
    ap.add_argument("--slices", type=int, default=100)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    import highdicom as hd
    from pydicom.sr.codedict import codes
    n = a.size
    rng = np.random.default_rng(1)
    pixels = rng.integers(900, 1200, (n, n)).astype(np.uint16).tobytes()
    algo = hd.AlgorithmIdentificationSequence(name="bench", version="1.0",
                                              family=codes.cid7162.ArtificialIntelligence)
    for p in range(a.patients):
        pid = f"BENCH{p:04d}"
        for s in range(a.studies):
            d = os.path.join(a.out, pid, f"ST{s}")
            os.makedirs(d, exist_ok=True)
            study, series, frame = uid(p, s, "study"), uid(p, s, "series"), uid(p, s, "for")
            date = (datetime.date(2024, 1, 1) + datetime.timedelta(days=90 * s)).strftime("%Y%m%d")
            cts = []
            for k in range(a.slices):
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = CTImageStorage
                meta.MediaStorageSOPInstanceUID = uid(p, s, k)
                meta.TransferSyntaxUID = ExplicitVRLittleEndian
                name = os.path.join(d, f"IM{k:05d}" + (".dcm" if k % 2 else ""))
                ds = FileDataset(name, {}, file_meta=meta, preamble=b"\0" * 128)
                ds.SOPClassUID = CTImageStorage
                ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
                ds.PatientID = pid
                ds.PatientName = "Bench^Patient"
                ds.PatientBirthDate, ds.PatientSex = "19600101", "O"
                ds.StudyTime = ds.SeriesTime = "093000"
                ds.ReferringPhysicianName, ds.AccessionNumber, ds.StudyID = "", f"A{p}{s}", str(s + 1)
                ds.Manufacturer = "SyntheticCT"
                ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
                ds.PositionReferenceIndicator = ""
                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
                ds.StudyDate = ds.SeriesDate = date
                ds.Modality = "CT"
                ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
                ds.ImagePositionPatient = [-32.0, -32.0, float(k) * 2.0]
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                ds.PixelSpacing = [1.0, 1.0]
                ds.SliceThickness = 2.0
                ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
                ds.Rows = ds.Columns = n
                ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
                ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
                ds.PixelData = pixels
                ds.save_as(name, enforce_file_format=True)
                cts.append(ds)
            # one SEG per study: two ellipsoid lesions
            z, y, x = np.mgrid[0:a.slices, 0:n, 0:n]
            labels = np.zeros((a.slices, n, n), dtype=np.uint8)
            c = a.slices // 2
            labels[((x - n / 3) / 8) ** 2 + ((y - n / 3) / 6) ** 2 + ((z - c) / 5) ** 2 <= 1] = 1
            labels[((x - 2 * n / 3) / 5) ** 2 + ((y - 2 * n / 3) / 5) ** 2 + ((z - c - 10) / 4) ** 2 <= 1] = 2
            descs = [hd.seg.SegmentDescription(
                segment_number=i, segment_label=f"Lesion {i}",
                segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                segmented_property_type=codes.SCT.Neoplasm,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algo,
                tracking_uid=uid(p, "tracking", i), tracking_id=f"L{i}") for i in (1, 2)]
            seg = hd.seg.Segmentation(
                source_images=cts, pixel_array=labels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=descs, series_instance_uid=uid(p, s, "seg-series"), series_number=100,
                sop_instance_uid=uid(p, s, "seg"), instance_number=1, manufacturer="highdicom",
                manufacturer_model_name="bench", software_versions=hd.__version__, device_serial_number="1")
            seg.save_as(os.path.join(d, "SEG.dcm"))
        print(f"patient {p + 1}/{a.patients}", flush=True)


if __name__ == "__main__":
    main()
