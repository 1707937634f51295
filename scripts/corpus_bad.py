"""Broken inputs for oncometry's index/measure robustness tests (fixtures/dicom/bad/).

Called by make_corpus.py after the good corpus exists; every file is derived from a
corpus file (written by pydicom / highdicom) and then damaged in one documented way.
`expected.json` lists what the indexer must do with each file.
"""
import json
import os

import numpy as np
import pydicom
from pydicom.uid import generate_uid


def uid(name):
    return generate_uid(entropy_srcs=["oncometry-dicom-bad", name])


def _resaved(src, dst, name, mutate=None):
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid(name)
    if mutate:
        mutate(ds)
    ds.save_as(dst)
    return dst


def write_bad(outdir, corpus):
    os.makedirs(outdir, exist_ok=True)
    expected = {}
    ct1 = os.path.join(corpus, "ct", "CT_0001.dcm")

    # 1. zero bytes (an interrupted transfer)
    open(os.path.join(outdir, "empty.dcm"), "wb").close()
    expected["empty.dcm"] = "quarantined"

    # 2. cut inside the file meta / header
    data = open(ct1, "rb").read()
    with open(os.path.join(outdir, "truncated_header.dcm"), "wb") as f:
        f.write(data[:200])
    expected["truncated_header.dcm"] = "quarantined"

    # 3. cut inside the pixel data (header intact: a header-only read alone would not see it)
    p = _resaved(ct1, os.path.join(outdir, "truncated_pixels.dcm"), "truncated-pixels")
    data = open(p, "rb").read()
    with open(p, "wb") as f:
        f.write(data[:-1000])
    expected["truncated_pixels.dcm"] = "quarantined"

    # 4. not DICOM at all
    with open(os.path.join(outdir, "notes.txt"), "w") as f:
        f.write("Export notes: this folder was copied from the PACS on 2024-06-02.\n")
    expected["notes.txt"] = "ignored"

    # 5. a valid preamble + DICM magic, then garbage
    rng = np.random.default_rng(7)
    with open(os.path.join(outdir, "garbage_after_preamble.dcm"), "wb") as f:
        f.write(b"\0" * 128 + b"DICM" + rng.integers(0, 256, 600, dtype=np.uint8).tobytes())
    expected["garbage_after_preamble.dcm"] = "quarantined"

    # 6. required identifiers missing
    _resaved(ct1, os.path.join(outdir, "missing_patient_id.dcm"), "missing-pid",
             lambda ds: delattr(ds, "PatientID"))
    expected["missing_patient_id.dcm"] = "quarantined"
    _resaved(ct1, os.path.join(outdir, "missing_study_uid.dcm"), "missing-study",
             lambda ds: delattr(ds, "StudyInstanceUID"))
    expected["missing_study_uid.dcm"] = "quarantined"

    # 7. a SEG whose source series is not in the export (kept: SEG carries its own geometry)
    absent = uid("absent-series")

    def point_elsewhere(ds):
        ds.SeriesInstanceUID = uid("seg-absent-series")
        for item in ds.ReferencedSeriesSequence:
            item.SeriesInstanceUID = absent
    _resaved(os.path.join(corpus, "seg_binary_highdicom.dcm"), os.path.join(outdir, "seg_absent_series.dcm"),
             "seg-absent", point_elsewhere)
    expected["seg_absent_series.dcm"] = "indexed with warning naming " + absent

    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump({"absent_series_uid": absent, "files": expected}, f, indent=1)
    expected["expected.json"] = "ignored"
    return dict(files=sorted(expected))
