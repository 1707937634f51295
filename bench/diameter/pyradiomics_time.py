#!/usr/bin/env python3
"""Measured pyradiomics peer for bench/diameter: Maximum2DDiameterSlice on the same crops.

  python pyradiomics_time.py DIR [REPS]    # DIR written by `masks.py bench DIR`

For every 3D case of DIR/cases.json (the 7 ellipsoid crops in DIR/masks.bin, C order
[z][y][x], spacing (sx, sy, sz) mm) this builds a SimpleITK mask with that spacing (and an
all-zero image on the same grid: shape features ignore intensities), then times the way
pyradiomics measures one lesion:

  construct+feature  RadiomicsShape(image, mask, label=1) and
                     getMaximum2DDiameterSliceFeatureValue(); construction is where
                     pyradiomics pads the mask and runs its C marching cubes and pairwise
                     mesh diameters (radiomics._cshape), so this is the comparable time;
  feature            getMaximum2DDiameterSliceFeatureValue() alone on a constructed
                     object (it returns the diameter computed during construction).

Each time is the minimum of REPS runs (default 3; the feature call alone: of max(REPS,
1000) single calls). Building the SimpleITK images from numpy is not timed (a pipeline
has them loaded). The value is checked against the case's ref_edge long axis
(ref_axial.edge[0], the numpy reference masks.py computed on the same crop) to 1e-6 mm.

The results are added to each case of DIR/cases.json (pyradiomics_ms_construct_feature,
pyradiomics_ms_feature, pyradiomics_ld_mm), next to masks.py's ref_edge_ms, with
"pyradiomics" (version, module of the C shape code, reps) at the top level; the Rust bench
(benches/diameter.rs) prints them.
"""
import json
import logging
import os
import sys
import time

import numpy as np
import SimpleITK as sitk

import radiomics
from radiomics import shape as rshape

TOL_MM = 1e-6


def load_cases(d):
    with open(os.path.join(d, "cases.json")) as f:
        doc = json.load(f)
    with open(os.path.join(d, "masks.bin"), "rb") as f:
        blob = np.frombuffer(f.read(), np.uint8)
    return doc, blob


def unpack(blob, case):
    shape = tuple(case["shape"])
    bits = np.unpackbits(blob[case["offset"]:case["offset"] + case["nbytes"]],
                         bitorder="little", count=int(np.prod(shape)))
    return bits.reshape(shape)  # [z][y][x], 0/1 uint8


def images(mask_zyx, spacing_xyz):
    """SimpleITK image and mask: GetImageFromArray reads [z][y][x] as size (x, y, z), so the
    spacing is set in (sx, sy, sz) order; pyradiomics reverses it back to (z, y, x)."""
    msk = sitk.GetImageFromArray(np.ascontiguousarray(mask_zyx, np.uint8))
    msk.SetSpacing(tuple(float(s) for s in spacing_xyz))
    img = sitk.GetImageFromArray(np.zeros(mask_zyx.shape, np.float32))
    img.CopyInformation(msk)
    return img, msk


def time_case(img, msk, reps):
    best_cf = None
    value = None
    for _ in range(reps):
        t = time.perf_counter()
        s = rshape.RadiomicsShape(img, msk, label=1)
        v = s.getMaximum2DDiameterSliceFeatureValue()
        dt = time.perf_counter() - t
        best_cf = dt if best_cf is None else min(best_cf, dt)
        value = float(v)
    best_f = None
    for _ in range(max(reps, 1000)):
        t = time.perf_counter()
        s.getMaximum2DDiameterSliceFeatureValue()
        dt = time.perf_counter() - t
        best_f = dt if best_f is None else min(best_f, dt)
    return value, best_cf * 1e3, best_f * 1e3


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if reps < 1:
        sys.exit("REPS must be >= 1")
    if radiomics.cShape is None:
        sys.exit("pyradiomics' C shape module (radiomics._cshape) did not load: not timing a fallback")
    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    doc, blob = load_cases(d)
    mismatches = 0
    print("pyradiomics %s (C shape: %s), SimpleITK %s, numpy %s; min of %d runs"
          % (radiomics.__version__, os.path.basename(radiomics.cShape.__file__),
             sitk.Version_VersionString(), np.__version__, reps))
    print("lesion  LD pyradiomics mm  LD ref_edge mm  |diff| mm  construct+feature ms  feature ms")
    for case in doc["cases"]:
        if case.get("kind") != "3d":
            continue
        img, msk = images(unpack(blob, case), case["spacing"])
        value, ms_cf, ms_f = time_case(img, msk, reps)
        ref = case["ref_axial"]["edge"][0]
        diff = abs(value - ref)
        ok = diff <= TOL_MM
        mismatches += not ok
        case.update(pyradiomics_ld_mm=value, pyradiomics_ms_construct_feature=ms_cf,
                    pyradiomics_ms_feature=ms_f, pyradiomics_matches_ref_edge=ok)
        print("%6s  %17.9f  %14.9f  %9.1e  %20.2f  %10.6f%s" % (
            case.get("lesion"), value, ref, diff, ms_cf, ms_f,
            "" if ok else "  MISMATCH (> %g mm)" % TOL_MM))
    doc["pyradiomics"] = {"version": str(radiomics.__version__),
                          "cshape": radiomics.cShape.__file__,
                          "simpleitk": sitk.Version_VersionString(),
                          "numpy": np.__version__, "python": sys.version.split()[0],
                          "reps": reps, "mismatches": mismatches}
    path = os.path.join(d, "cases.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(path + ".tmp", path)
    if mismatches:
        print("WARNING: %d lesion(s) differ from ref_edge by more than %g mm" % (mismatches, TOL_MM))


if __name__ == "__main__":
    main()
