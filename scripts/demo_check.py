#!/usr/bin/env python3
"""Read a generated export back with pydicom + highdicom and check what the pipeline
relies on. Exits 1 on the first class of failure, printing every problem found.

Usage:  python scripts/demo_check.py fixtures/demo
"""
import csv
import glob
import os
import sys
from collections import defaultdict

import pydicom
from pydicom.uid import DeflatedExplicitVRLittleEndian

import highdicom as hd


def main(root):
    problems = []
    cts = {}
    tracking = defaultdict(dict)  # patient -> TrackingID -> {TrackingUID}
    n_ct = n_seg = n_frames = 0
    for path in sorted(glob.glob(os.path.join(root, "*", "*", "CT", "*.dcm"))):
        ds = pydicom.dcmread(path)
        n_ct += 1
        if ds.file_meta.TransferSyntaxUID != DeflatedExplicitVRLittleEndian:
            problems.append(f"{path}: transfer syntax {ds.file_meta.TransferSyntaxUID}")
        if ds.PatientBirthDate or str(ds.PatientName) != ds.PatientID.replace("-", "^"):
            problems.append(f"{path}: identifying-looking name/birth date")
        hu = ds.pixel_array.astype(int) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        if not (-1000 <= hu.min() and hu.max() <= 700):
            problems.append(f"{path}: HU range {hu.min()}..{hu.max()}")
        cts[ds.SOPInstanceUID] = (ds.SeriesInstanceUID, tuple(float(v) for v in ds.ImagePositionPatient), ds.StudyDate)
    for path in sorted(glob.glob(os.path.join(root, "*", "*", "SEG.dcm"))):
        seg = hd.seg.segread(path)
        n_seg += 1
        n_frames += int(seg.NumberOfFrames)
        if seg.file_meta.TransferSyntaxUID != DeflatedExplicitVRLittleEndian:
            problems.append(f"{path}: transfer syntax {seg.file_meta.TransferSyntaxUID}")
        ref_series = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        # every frame sits on a slice of the referenced CT series
        ipps = {v[1] for v in cts.values() if v[0] == ref_series}
        for i, fr in enumerate(seg.PerFrameFunctionalGroupsSequence):
            pos = tuple(float(v) for v in fr.PlanePositionSequence[0].ImagePositionPatient)
            if pos not in ipps:
                problems.append(f"{path}: frame {i + 1} position {pos} not on a CT slice")
            src = fr.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
            if src not in cts or cts[src][1] != pos:
                problems.append(f"{path}: frame {i + 1} source image mismatch")
        pixels = seg.pixel_array
        if pixels.shape[0] != int(seg.NumberOfFrames) or not pixels.any():
            problems.append(f"{path}: pixel array {pixels.shape} empty or wrong frame count")
        for s in seg.SegmentSequence:
            tracking[seg.PatientID].setdefault(s.TrackingID, set()).add(s.TrackingUID)
            if not s.get("AnatomicRegionSequence"):
                problems.append(f"{path}: segment {s.SegmentNumber} without AnatomicRegionSequence")
    for pid, m in tracking.items():
        for tid, uids in m.items():
            if len(uids) != 1:
                problems.append(f"{pid}: TrackingID {tid} has {len(uids)} TrackingUIDs across timepoints")
    truth = list(csv.DictReader(open(os.path.join(root, "truth.csv"))))
    truth_uids = {(r["patient_id"], r["tracking_uid"]) for r in truth}
    seg_uids = {(p, next(iter(u))) for p, m in tracking.items() for u in m.values()}
    if truth_uids != seg_uids:
        problems.append(f"truth.csv and SEG tracking UIDs differ: {len(truth_uids ^ seg_uids)}")
    print(f"CT files {n_ct}, SEGs {n_seg}, SEG frames {n_frames}, patients {len(tracking)}, "
          f"lesions {sum(len(m) for m in tracking.values())}, problems {len(problems)}")
    for p in problems[:50]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
