#!/usr/bin/env python3
"""Synthetic lesion masks and reference diameters for oncometry's `measure` module.

Shapes, rasterisation and the reference algorithm come from `diameter_anchor.py` (copied
unchanged next to this file from the project's research notes): a pixel is inside iff its
centre is inside the analytic shape; `ref_edge` is pyradiomics' Maximum2DDiameterSlice
point set (edge midpoints), `ref_center` equals SimpleITK's Feret (pixel centres),
`ref_corner` pixel corners; all use hull + max pair, short axis = caliper width
perpendicular to the long axis. Each reference row is [long, short, short with
oncometry's tie rule] (see feret_ties).

  python masks.py fixtures OUT_DIR   # small set for the tests (< 1 MB): cases.json + masks.bin
  python masks.py bench OUT_DIR      # the 7 ellipsoids of the anchor (180 mm included),
                                     # with ref_edge timings (min of --reps), for bench/diameter

Binary layout: every case is its cropped mask (bounding box) as np.packbits(bitorder=
"little") of the C-order array ([z][y][x] for 3D, [y][x] for 2D), concatenated; cases.json
gives each case's byte offset, shape and spacing (sx, sy[, sz]) in mm.
"""
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diameter_anchor as da  # noqa: E402

# Recorded pyradiomics Maximum2DDiameterSlice errors (mm, vs analytic axial long axis) and
# per-lesion times (ms) for the 7 ellipsoids, from the notes' recorded run
# (recist-and-diameters.md §3.3, pyradiomics built from git tag v3.1.0, same machine).
PYRAD_ERR = [0.41, 0.39, 0.27, 0.39, 0.46, 0.38, 0.16]
PYRAD_MS = [2, 12, 149, 1811, 10964, 6, 1]


def crop_box(m):
    idx = np.nonzero(m)
    return tuple(slice(int(i.min()), int(i.max()) + 1) for i in idx)


class Writer:
    def __init__(self):
        self.blob = bytearray()
        self.cases = []

    def add(self, m, spacing, **meta):
        m = np.ascontiguousarray(m.astype(bool))
        packed = np.packbits(m.ravel(), bitorder="little").tobytes()
        meta.update(shape=list(m.shape), spacing=[float(s) for s in spacing],
                    offset=len(self.blob), nbytes=len(packed))
        self.blob += packed
        self.cases.append(meta)

    def save(self, out, extra):
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "masks.bin"), "wb") as f:
            f.write(self.blob)
        doc = dict(extra, cases=self.cases)
        with open(os.path.join(out, "cases.json"), "w") as f:
            json.dump(doc, f, indent=1)


def feret_ties(pts):
    """Like da.feret_long_short, but among equally long pairs (within 1e-9 mm: symmetric
    lesions have several) the one with the largest perpendicular width gives the short
    axis. This is oncometry's documented tie rule; da.feret_long_short takes numpy's first
    argmax instead, which depends on Qhull's vertex order."""
    if len(pts) == 0:
        return 0.0, 0.0
    try:
        h = pts[da.ConvexHull(pts).vertices] if len(pts) >= 3 else pts
    except Exception:  # collinear
        h = pts
    d = np.sqrt(((h[:, None, :] - h[None, :, :]) ** 2).sum(-1))
    L = float(d.max())
    if L == 0:
        return 0.0, 0.0
    best = 0.0
    for i, j in zip(*np.nonzero(d >= L - 1e-9)):
        u = (h[j] - h[i]) / d[i, j]
        proj = h @ np.array([-u[1], u[0]])
        best = max(best, float(proj.max() - proj.min()))
    return L, best


def ref2d_ties(m, spacing, mode):
    return feret_ties(da.boundary_points_2d(m, spacing, mode))


def ref_axial_ties(crop, spacing, mode):
    best = (0.0, 0.0)
    for z in range(crop.shape[0]):
        if not crop[z].any():
            continue
        L, S = ref2d_ties(crop[z], spacing[:2], mode)
        if L > best[0] + 1e-9 or (abs(L - best[0]) <= 1e-9 and S > best[1] + 1e-9):
            best = (L, S)
    return best


def sitk_feret(m, spacing):
    return float(da.sitk_2d(m, spacing)["feret"]) if da.sitk is not None else None


def refs2d(m, spacing):
    """[long, short (anchor's first-argmax pair), short (oncometry's tie rule)] per set."""
    return {mode: list(da.ref_2d(m, spacing, mode)) + [ref2d_ties(m, spacing, mode)[1]]
            for mode in ("edge", "center", "corner")}


def ellipses(w, spacing, quick, rng):
    n = 512
    shapes = [(5, 3), (7.5, 7.5), (12, 6), (25, 15), (50, 20), (100, 60)]
    angles = [0, 10, 22.5, 30, 45, 60, 77, 90]
    if quick:
        shapes, angles = shapes[::2], angles[::3]
    for (a, b) in shapes:
        for th in angles:
            c = (n / 2 + rng.uniform(-0.5, 0.5), n / 2 + rng.uniform(-0.5, 0.5))
            m = da.ellipse_mask(n, spacing, a, b, th, c)
            box = crop_box(m)
            crop = m[box]
            w.add(crop, spacing, name="ellipse a=%g b=%g theta=%g sx=%g sy=%g" % (a, b, th, *spacing),
                  kind="2d", truth_long=2 * a, truth_short=2 * b, ref=refs2d(crop, spacing),
                  sitk_feret=sitk_feret(crop, spacing))


def bias(w):
    sp = (0.7, 0.7)
    cases = {"1 px": (1, 1), "2 px (horizontal)": (1, 2), "1x10 px line": (1, 10), "3x3 px square": (3, 3)}
    for name, (h, wd) in cases.items():
        m = np.ones((h, wd), bool)
        w.add(m, sp, name=name, kind="2d", ref=refs2d(np.pad(m, 2), sp),
              sitk_feret=sitk_feret(np.pad(m, 2), sp))


def ellipsoid_crops(which):
    spacing = (0.7, 0.7, 2.5)
    shape = (120, 512, 512)
    vol = np.zeros(shape, np.uint8)
    out = []
    for k, (c, ax, th, ph) in enumerate(da.LESIONS_3D, 1):
        if k not in which:
            continue
        da.paint_ellipsoid(vol, spacing, c, ax, th, ph, k)
        crop = vol[crop_box(vol == k)] == k
        out.append((k, c, ax, th, ph, crop))
    return spacing, out


def ellipsoids(w, which, reps, timing):
    spacing, crops = ellipsoid_crops(which)
    for (k, c, ax, th, ph, crop) in crops:
        tr = da.ellipsoid_truth(ax, th, ph)
        meta = dict(name="ellipsoid %d semi-axes %s theta=%g phi=%g" % (k, list(ax), th, ph),
                    kind="3d", lesion=k, truth_long=tr["long"], truth_short=tr["short"],
                    voxels=int(crop.sum()),
                    pyradiomics_recorded_err=PYRAD_ERR[k - 1],
                    pyradiomics_recorded_ms=PYRAD_MS[k - 1])
        meta["ref_axial"] = {mode: list(da.ref_axial_max(crop, spacing, mode))
                             + [ref_axial_ties(crop, spacing, mode)[1]]
                             for mode in ("edge", "center", "corner")}
        if timing:
            best = None
            for _ in range(reps):
                t = time.perf_counter()
                da.ref_axial_max(crop, spacing, "edge")
                dt = time.perf_counter() - t
                best = dt if best is None else min(best, dt)
            meta["ref_edge_ms"] = best * 1e3
        else:
            meta["ref_edge_slices"] = [da.ref_2d(crop[z], spacing[:2], "edge")[0] if crop[z].any() else None
                                       for z in range(crop.shape[0])]
            meta["sitk_feret_slices"] = [sitk_feret(crop[z], spacing[:2]) if crop[z].any() else None
                                         for z in range(crop.shape[0])]
        w.add(crop, spacing, **meta)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("fixtures", "bench"):
        sys.exit(__doc__)
    mode, out = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    w = Writer()
    extra = {"writer": "bench/diameter/masks.py %s" % mode, "python": sys.version.split()[0],
             "numpy": np.__version__, "tools": da.TOOLS}
    if mode == "fixtures":
        rng = np.random.default_rng(1)
        bias(w)
        ellipses(w, (0.7, 0.7), False, rng)
        ellipses(w, (0.5, 0.8), True, rng)
        ellipsoids(w, {1, 2, 3, 4, 5, 6, 7}, reps, timing=False)
    else:
        ellipsoids(w, {1, 2, 3, 4, 5, 6, 7}, reps, timing=True)
    w.save(out, extra)
    print("wrote %d cases, %d bytes of masks to %s" % (len(w.cases), len(w.blob), out))


if __name__ == "__main__":
    main()
