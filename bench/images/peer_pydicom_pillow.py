#!/usr/bin/env python3
"""Peer for the key image benchmark: pydicom decode + numpy + Pillow drawing.

    python bench/images/peer_pydicom_pillow.py make-inputs DIR   # writes DIR/*.dcm + DIR/manifest.json
    python bench/images/peer_pydicom_pillow.py run DIR OUT        # renders every slice, prints timing JSON

The inputs are copies of real pydicom test slices: CT_small (128x128 CT, explicit LE),
693_UNCI (512x512 CT, uncompressed) and 693_J2KR (the same 512x512 slice, JPEG 2000
lossless), 693_J2KR decodes through pylibjpeg-openjpeg here and through openjp2 in Rust.

Each slice gets the same synthetic lesion on both sides: an ellipse centred at the image
centre, semi-axes 10 % and 6 % of the field width, rotated 0.4 rad, drawn as a 72-vertex
contour, with its long and short axes and "LA/SA xx.x mm" labels. The work per slice
mirrors oncometry's: decode, rescale, soft-tissue window 40/400, resample to square pixels
of min(PixelSpacing) (nearest), crop lesion + 50 % margin (>= 64 px), enlarge by an integer
factor to <= 320 px (nearest), draw, full-slice 256 px thumbnail with the crop box, encode
both PNGs in memory.
"""
import json
import math
import shutil
import sys
import time
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut

SOURCES = [("CT_small.dcm", 24), ("693_UNCI.dcm", 12), ("693_J2KR.dcm", 12)]


def make_inputs(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    files = []
    for name, copies in SOURCES:
        src = get_testdata_file(name)
        for i in range(copies):
            dst = d / f"{Path(name).stem}_{i:03d}.dcm"
            shutil.copyfile(src, dst)
            files.append(dst.name)
    (d / "manifest.json").write_text(json.dumps({"files": files}, indent=1))


def lesion(rows, cols, sp):
    """Ellipse in in-plane mm (u along rows, v down columns) from pixel (0,0) centre."""
    w = cols * sp[1]
    return dict(cu=w / 2, cv=rows * sp[0] / 2, a=0.10 * w, b=0.06 * w, angle=0.4)


def render(path: Path):
    ds = pydicom.dcmread(path)
    arr = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    rows, cols = arr.shape
    sp = [float(v) for v in ds.PixelSpacing]
    dmm = min(sp)
    W, H = round(cols * sp[1] / dmm), round(rows * sp[0] / dmm)
    # Soft tissue window (DICOM linear), then nearest resampling to square pixels.
    c, w = 40.0 - 0.5, 400.0 - 1.0
    g = np.clip(((arr - c) / w + 0.5) * 255.0, 0, 255).round().astype(np.uint8)
    g[arr <= c - w / 2] = 0
    g[arr > c + w / 2] = 255
    xs = np.clip(np.floor(((np.arange(W) + 0.5) * dmm - 0.5 * sp[1]) / sp[1] + 0.5), 0, cols - 1).astype(int)
    ys = np.clip(np.floor(((np.arange(H) + 0.5) * dmm - 0.5 * sp[0]) / sp[0] + 0.5), 0, rows - 1).astype(int)
    disp = g[np.ix_(ys, xs)]

    e = lesion(rows, cols, sp)
    ca, sa = math.cos(e["angle"]), math.sin(e["angle"])

    def to_disp(u, v):
        return (u + 0.5 * sp[1]) / dmm - 0.5, (v + 0.5 * sp[0]) / dmm - 0.5

    def pt(t, n):
        return to_disp(e["cu"] + t * ca - n * sa, e["cv"] + t * sa + n * ca)

    poly = []
    for i in range(72):
        th = i / 72 * 2 * math.pi
        p, q = e["a"] * math.cos(th), e["b"] * math.sin(th)
        poly.append(to_disp(e["cu"] + p * ca - q * sa, e["cv"] + p * sa + q * ca))
    la = [pt(-e["a"], 0), pt(e["a"], 0)]
    sax = [pt(0, -e["b"]), pt(0, e["b"])]
    allp = poly + la + sax
    x0b, x1b = min(p[0] for p in allp), max(p[0] for p in allp)
    y0b, y1b = min(p[1] for p in allp), max(p[1] for p in allp)
    ext = max(x1b - x0b, y1b - y0b, 1.0)
    side = max(ext * 2.0, 64.0)

    def span(lo, hi, size):
        n = min(math.ceil(side), size)
        s = round((lo + hi) / 2 + 0.5 - n / 2)
        return int(min(max(s, 0), size - n)), n

    cx0, cw = span(x0b, x1b, W)
    cy0, ch = span(y0b, y1b, H)
    k = max(1, 320 // max(cw, ch))
    crop = Image.fromarray(disp[cy0:cy0 + ch, cx0:cx0 + cw]).resize((cw * k, ch * k), Image.NEAREST).convert("RGB")
    dr = ImageDraw.Draw(crop)

    def out(p):
        return ((p[0] - cx0 + 0.5) * k - 0.5, (p[1] - cy0 + 0.5) * k - 0.5)

    dr.polygon([out(p) for p in poly], outline=(40, 220, 40))
    dr.line([out(p) for p in sax], fill=(0, 190, 255))
    dr.line([out(p) for p in la], fill=(255, 176, 0))
    font = ImageFont.load_default()
    for i, (s, col) in enumerate([("L1", (255, 255, 255)),
                                  (f"LA {2 * e['a']:.1f} mm", (255, 176, 0)),
                                  (f"SA {2 * e['b']:.1f} mm", (0, 190, 255))]):
        dr.text((3, 3 + 14 * i), s, fill=col, font=font)
    ts = 256 / max(W, H)
    thumb = Image.fromarray(disp).resize((round(W * ts), round(H * ts)), Image.NEAREST).convert("RGB")
    dt = ImageDraw.Draw(thumb)
    dt.rectangle([cx0 * ts, cy0 * ts, (cx0 + cw) * ts, (cy0 + ch) * ts], outline=(255, 64, 64))
    b1, b2 = BytesIO(), BytesIO()
    crop.save(b1, format="PNG")
    thumb.save(b2, format="PNG")
    return b1.getvalue(), b2.getvalue()


def run(d: Path, out: Path) -> None:
    files = json.loads((d / "manifest.json").read_text())["files"]
    out.mkdir(parents=True, exist_ok=True)
    render(d / files[0])  # warm-up (imports, plugin discovery)
    t0 = time.perf_counter()
    nbytes = 0
    groups = {}
    for f in files:
        t1 = time.perf_counter()
        crop, thumb = render(d / f)
        g = f.rsplit("_", 1)[0]
        groups[g] = groups.get(g, 0.0) + time.perf_counter() - t1
        nbytes += len(crop) + len(thumb)
    dt = time.perf_counter() - t0
    (out / (files[-1] + ".crop.png")).write_bytes(crop)
    print(json.dumps({"peer": "pydicom+numpy+Pillow", "slices": len(files), "seconds": dt,
                      "ms_per_slice": 1000 * dt / len(files), "png_bytes": nbytes,
                      "seconds_by_source": {k: round(v, 4) for k, v in groups.items()}}))


if __name__ == "__main__":
    if sys.argv[1] == "make-inputs":
        make_inputs(Path(sys.argv[2]))
    else:
        run(Path(sys.argv[2]), Path(sys.argv[3]))
