#!/usr/bin/env python3
"""Peer for the key image benchmark: pydicom decode + numpy + Pillow drawing.

Two modes, both timed on the same inputs as `cargo bench --bench keyimage`:

pydicom test-file mode (synthetic lesion):

    python bench/images/peer_pydicom_pillow.py make-inputs DIR   # writes DIR/*.dcm + DIR/manifest.json
    python bench/images/peer_pydicom_pillow.py run DIR OUT        # renders every slice, prints timing JSON

The inputs are copies of real pydicom test slices: CT_small (128x128 CT, explicit LE),
693_UNCI (512x512 CT, uncompressed) and 693_J2KR (the same 512x512 slice, JPEG 2000
lossless), 693_J2KR decodes through pylibjpeg-openjpeg here and through openjp2 in Rust.
Each slice gets the same synthetic lesion on both sides: an ellipse centred at the image
centre, semi-axes 10 % and 6 % of the field width, rotated 0.4 rad, drawn as a 72-vertex
contour, with its long and short axes and "LA/SA xx.x mm" labels, window 40/400.

Demo export mode (the real key images of `oncometry run fixtures/demo`):

    python bench/images/peer_pydicom_pillow.py make-demo-inputs DIR [EXPORT] [ONCOMETRY]
    python bench/images/peer_pydicom_pillow.py run-demo DIR OUT

make-demo-inputs runs `ONCOMETRY run EXPORT ... --out DIR/run` (defaults fixtures/demo and
target/release/oncometry), reads DIR/run/lesions.csv and DIR/run/index.json, indexes the
export's images with pydicom headers and writes DIR/demo_manifest.json: for every lesion row
with a long axis, the CT slice of the referenced series nearest the long axis' first end
point along the slice normal (as oncometry picks it), the label, both axes (patient mm) and
lengths, and the outline: the lesion's SEG mask on the SEG frame nearest that point, traced
with skimage.measure.find_contours at 0.5 and mapped to patient mm with the frame geometry.
(make-demo-inputs needs scikit-image; run-demo only pydicom, numpy and Pillow.) The window
is the file's own WindowCenter/Width when present, else soft tissue 40/400, like
oncometry's default.

The work per image mirrors oncometry's in both modes: read the file, decode, modality LUT,
window, resample to square pixels of min(PixelSpacing) (nearest), crop lesion + 50 % margin
(>= 64 px), enlarge by an integer factor to <= 320 px (nearest), draw the outline, both axes
as calipers (end ticks), the labels on black boxes and a scale bar, full-slice thumbnail of
at most 256 px (never enlarged, as oncometry) with the axes and the crop box, both pasted
into one key image (the crop on top, 4 black rows, the thumbnail under it, each centred, as
oncometry's), encoded as one PNG in memory.
"""
import time

T_IMPORT = time.perf_counter()
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from io import BytesIO  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from pydicom.pixels import apply_modality_lut  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - T_IMPORT

SOURCES = [("CT_small.dcm", 24), ("693_UNCI.dcm", 12), ("693_J2KR.dcm", 12)]
SOFT_TISSUE = (40.0, 400.0)
LONG_AXIS, SHORT_AXIS, OUTLINE = (255, 176, 0), (0, 190, 255), (40, 220, 40)
CROP_BOX, TEXT = (255, 64, 64), (255, 255, 255)
FONT = ImageFont.load_default()


def rnd(x: float) -> int:
    """Round half away from zero (Rust's f64::round), not Python's half-to-even."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


# ---------------------------------------------------------------------------------------
# Shared rendering: one decoded slice, overlay in in-plane mm (u along rows, v down columns,
# from the centre of pixel (0, 0)), two PNGs out.


def load(path: Path):
    ds = pydicom.dcmread(path)
    arr = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    return ds, arr


def render_key_image(ds, arr, polys, la, sa, texts, window):
    """polys: list of [(u, v), ...]; la / sa: [(u, v), (u, v)] or None; texts: [(s, colour)]."""
    rows, cols = arr.shape
    sp = [float(v) for v in ds.PixelSpacing]
    dmm = min(sp)
    W, H = rnd(cols * sp[1] / dmm), rnd(rows * sp[0] / dmm)
    # Window (DICOM linear), then nearest resampling to square pixels.
    c, w = window[0] - 0.5, window[1] - 1.0
    g = np.clip(((arr - c) / w + 0.5) * 255.0, 0, 255).round().astype(np.uint8)
    g[arr <= c - w / 2] = 0
    g[arr > c + w / 2] = 255
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        g = 255 - g
    xs = np.clip(np.floor(((np.arange(W) + 0.5) * dmm - 0.5 * sp[1]) / sp[1] + 0.5), 0, cols - 1).astype(int)
    ys = np.clip(np.floor(((np.arange(H) + 0.5) * dmm - 0.5 * sp[0]) / sp[0] + 0.5), 0, rows - 1).astype(int)
    disp = g[np.ix_(ys, xs)]

    def to_disp(p):
        return (p[0] + 0.5 * sp[1]) / dmm - 0.5, (p[1] + 0.5 * sp[0]) / dmm - 0.5

    polys = [[to_disp(p) for p in poly] for poly in polys]
    la = [to_disp(p) for p in la] if la else None
    sa = [to_disp(p) for p in sa] if sa else None
    allp = [p for poly in polys for p in poly] + (la or []) + (sa or [])
    x0b, x1b = min(p[0] for p in allp), max(p[0] for p in allp)
    y0b, y1b = min(p[1] for p in allp), max(p[1] for p in allp)
    ext = max(x1b - x0b, y1b - y0b, 1.0)
    side = max(ext * 2.0, 64.0)

    def span(lo, hi, size):
        n = min(math.ceil(side), size)
        s = rnd((lo + hi) / 2 + 0.5 - n / 2)
        return int(min(max(s, 0), size - n)), n

    cx0, cw = span(x0b, x1b, W)
    cy0, ch = span(y0b, y1b, H)
    k = max(1, 320 // max(cw, ch))
    crop = Image.fromarray(disp[cy0:cy0 + ch, cx0:cx0 + cw]).resize((cw * k, ch * k), Image.NEAREST).convert("RGB")
    dr = ImageDraw.Draw(crop)

    def out(p):
        return ((p[0] - cx0 + 0.5) * k - 0.5, (p[1] - cy0 + 0.5) * k - 0.5)

    for poly in polys:
        if len(poly) >= 2:
            dr.polygon([out(p) for p in poly], outline=OUTLINE)
    for axis, col in ((sa, SHORT_AXIS), (la, LONG_AXIS)):
        if axis:
            a, b = out(axis[0]), out(axis[1])
            dr.line([a, b], fill=col)
            n = math.hypot(b[0] - a[0], b[1] - a[1])
            if n > 0:  # caliper end ticks
                t = min(max(k, 2), 5)
                nx, ny = -(b[1] - a[1]) / n * t, (b[0] - a[0]) / n * t
                for e in (a, b):
                    dr.line([(e[0] - nx, e[1] - ny), (e[0] + nx, e[1] + ny)], fill=col)

    def label(xy, s, col):
        dr.rectangle(dr.textbbox(xy, s, font=FONT), fill=(0, 0, 0))
        dr.text(xy, s, fill=col, font=FONT)

    for i, (s, col) in enumerate(texts):
        label((3, 3 + 14 * i), s, col)
    # Scale bar: a round length near a quarter of the width, bottom right.
    cwp, chp, mm_px = cw * k, ch * k, dmm / k
    bars = [b for b in (1, 2, 5, 10, 20, 50, 100) if b <= cwp * 0.25 * mm_px]
    if bars:
        px = rnd(bars[-1] / mm_px)
        x1, y = cwp - 6, chp - 6
        if x1 - px >= 0 and y >= 20:
            dr.rectangle([x1 - px, y - 1, x1, y], fill=TEXT)
            label((x1 - px, y - 16), f"{bars[-1]} mm", TEXT)

    ts = min(1.0, 256 / max(W, H))
    thumb = Image.fromarray(disp).resize((rnd(W * ts), rnd(H * ts)), Image.NEAREST).convert("RGB")
    dt = ImageDraw.Draw(thumb)
    for axis, col in ((sa, SHORT_AXIS), (la, LONG_AXIS)):
        if axis:
            dt.line([((p[0] + 0.5) * ts - 0.5, (p[1] + 0.5) * ts - 0.5) for p in axis], fill=col)
    dt.rectangle([cx0 * ts, cy0 * ts, (cx0 + cw) * ts, (cy0 + ch) * ts], outline=CROP_BOX)
    sw = max(crop.width, thumb.width)
    sheet = Image.new("RGB", (sw, crop.height + 4 + thumb.height))
    sheet.paste(crop, ((sw - crop.width) // 2, 0))
    sheet.paste(thumb, ((sw - thumb.width) // 2, crop.height + 4))
    buf = BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# pydicom test-file mode


def make_inputs(d: Path) -> None:
    from pydicom.data import get_testdata_file

    d.mkdir(parents=True, exist_ok=True)
    files = []
    for name, copies in SOURCES:
        src = get_testdata_file(name)
        for i in range(copies):
            dst = d / f"{Path(name).stem}_{i:03d}.dcm"
            shutil.copyfile(src, dst)
            files.append(dst.name)
    (d / "manifest.json").write_text(json.dumps({"files": files}, indent=1))


def render(path: Path):
    """The synthetic lesion: ellipse at the centre, semi-axes 10 % / 6 % of the field width."""
    ds, arr = load(path)
    rows, cols = arr.shape
    sp = [float(v) for v in ds.PixelSpacing]
    w = cols * sp[1]
    cu, cv, a, b, ang = w / 2, rows * sp[0] / 2, 0.10 * w, 0.06 * w, 0.4
    ca, sa = math.cos(ang), math.sin(ang)

    def pt(t, n):
        return cu + t * ca - n * sa, cv + t * sa + n * ca

    poly = [pt(a * math.cos(i / 72 * 2 * math.pi), b * math.sin(i / 72 * 2 * math.pi)) for i in range(72)]
    texts = [("L1", TEXT), (f"LA {2 * a:.1f} mm", LONG_AXIS), (f"SA {2 * b:.1f} mm", SHORT_AXIS)]
    return render_key_image(ds, arr, [poly], [pt(-a, 0), pt(a, 0)], [pt(0, -b), pt(0, b)], texts, SOFT_TISSUE)


def run(d: Path, out: Path) -> None:
    files = json.loads((d / "manifest.json").read_text())["files"]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    render(d / files[0])  # warm-up (plugin discovery, font)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    nbytes = 0
    groups = {}
    for f in files:
        t1 = time.perf_counter()
        png = render(d / f)
        g = f.rsplit("_", 1)[0]
        groups[g] = groups.get(g, 0.0) + time.perf_counter() - t1
        nbytes += len(png)
    dt = time.perf_counter() - t0
    (out / (files[-1] + ".png")).write_bytes(png)
    print(json.dumps({"peer": "pydicom+numpy+Pillow", "slices": len(files), "seconds": dt,
                      "ms_per_slice": 1000 * dt / len(files), "png_bytes": nbytes,
                      "import_seconds": round(IMPORT_SECONDS, 4), "warmup_seconds": round(warm, 4),
                      "seconds_by_source": {k: round(v, 4) for k, v in groups.items()}}))


# ---------------------------------------------------------------------------------------
# Demo export mode


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def window_of(ds):
    """The file's first WindowCenter/Width pair when usable, else soft tissue (oncometry's
    default for CT)."""
    c, w = ds.get("WindowCenter"), ds.get("WindowWidth")
    if c is not None and w is not None:
        c = float(c[0] if isinstance(c, pydicom.multival.MultiValue) else c)
        w = float(w[0] if isinstance(w, pydicom.multival.MultiValue) else w)
        if math.isfinite(c) and math.isfinite(w) and w > 0:
            return c, w
    return SOFT_TISSUE


def render_demo(export: Path, e):
    ds, arr = load(export / e["ct"])
    o = np.asarray([float(v) for v in ds.ImagePositionPatient])
    iop = [float(v) for v in ds.ImageOrientationPatient]
    rd, cd = unit(iop[:3]), unit(iop[3:])
    m = np.stack([rd, cd], axis=1)  # patient mm -> in-plane (u, v)

    def uv(points):
        return [tuple(p) for p in ((np.asarray(points, dtype=np.float64) - o) @ m).tolist()]

    texts = [(e["label"], TEXT), (f"LA {e['la_mm']:.1f} mm", LONG_AXIS)]
    if e["sa"]:
        texts.append((f"SA {e['sa_mm']:.1f} mm", SHORT_AXIS))
    return render_key_image(ds, arr, [uv(p) for p in e["outline"]], uv(e["la"]),
                            uv(e["sa"]) if e["sa"] else None, texts, window_of(ds))


def make_demo_inputs(d: Path, export: Path, binary: Path) -> None:
    from skimage.measure import find_contours

    d.mkdir(parents=True, exist_ok=True)
    run_dir = d / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    subprocess.run([str(binary), "run", str(export), "--clinical", str(export / "clinical.csv"),
                    "--out", str(run_dir), "--stable-age", "0", "-q"], check=True)
    lesion_rows = list(csv.DictReader(open(run_dir / "lesions.csv", newline="")))
    index = json.loads((run_dir / "index.json").read_text())
    segment_of = {(a["sop_instance_uid"], les["lesion_id"]): les["number"]
                  for a in index["annotations"] for les in a["lesions"]}

    # The export's images by series, from their headers (sorted paths: ties go to the first).
    series = {}
    for p in sorted(export.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in (".dcm", ""):
            continue
        try:
            h = pydicom.dcmread(p, stop_before_pixels=True)
        except Exception:
            continue
        if "ImagePositionPatient" not in h or "ImageOrientationPatient" not in h:
            continue
        series.setdefault(h.SeriesInstanceUID, []).append(
            (p.relative_to(export).as_posix(), [float(v) for v in h.ImagePositionPatient],
             [float(v) for v in h.ImageOrientationPatient]))

    segs = {}

    def seg_frames(path):
        if path not in segs:
            s = pydicom.dcmread(export / path)
            frames = s.pixel_array.reshape(int(s.get("NumberOfFrames", 1)), s.Rows, s.Columns)
            shared = s.SharedFunctionalGroupsSequence[0]
            out = []
            for i, f in enumerate(s.PerFrameFunctionalGroupsSequence):
                def item(name):
                    return getattr(f, name)[0] if name in f else getattr(shared, name)[0]
                iop = [float(v) for v in item("PlaneOrientationSequence").ImageOrientationPatient]
                out.append(dict(segment=int(item("SegmentIdentificationSequence").ReferencedSegmentNumber),
                                origin=np.asarray([float(v) for v in item("PlanePositionSequence").ImagePositionPatient]),
                                rd=unit(iop[:3]), cd=unit(iop[3:]),
                                spacing=[float(v) for v in item("PixelMeasuresSequence").PixelSpacing],
                                mask=frames[i]))
            segs[path] = out
        return segs[path]

    entries, far = [], 0
    for r in lesion_rows:
        if not r["long_axis_mm"] or float(r["long_axis_mm"]) <= 0 or not r["la_x1"]:
            continue
        la = [[float(r[f"la_{c}{i}"]) for c in "xyz"] for i in (1, 2)]
        sa = [[float(r[f"sa_{c}{i}"]) for c in "xyz"] for i in (1, 2)] if r["sa_x1"] else None
        cands = series.get(r["referenced_series_uid"], [])
        if not cands:
            print(f"no image of series {r['referenced_series_uid']}", file=sys.stderr)
            continue
        iop = cands[0][2]
        n = unit(np.cross(iop[:3], iop[3:]))
        pos = float(np.dot(la[0], n))
        best = min(range(len(cands)), key=lambda i: (abs(float(np.dot(cands[i][1], n)) - pos), i))
        dist = abs(float(np.dot(cands[best][1], n)) - pos)
        far += dist > 1e-3
        # The outline: the lesion's mask on its SEG frame nearest the point, traced at 0.5.
        number = segment_of[(r["sop_instance_uid"], r["lesion_id"])]
        frames = [f for f in seg_frames(r["path"]) if f["segment"] == number and f["mask"].any()]
        f = min(frames, key=lambda f: abs(float(np.dot(f["origin"] - la[0], n))))
        outline = []
        for c in find_contours(np.pad(f["mask"].astype(np.float32), 1), 0.5):
            c = c[:-1] - 1.0 if len(c) > 1 and np.allclose(c[0], c[-1]) else c - 1.0
            pts = (f["origin"] + np.outer(c[:, 1] * f["spacing"][1], f["rd"])
                   + np.outer(c[:, 0] * f["spacing"][0], f["cd"]))
            outline.append([[round(x, 4) for x in p] for p in pts.tolist()])
        entries.append(dict(ct=cands[best][0], patient_id=r["patient_id"], study_date=r["study_date"],
                            lesion_id=r["lesion_id"], label=r["label"], la=la, la_mm=float(r["long_axis_mm"]),
                            sa=sa, sa_mm=float(r["short_axis_mm"] or 0.0), outline=outline,
                            ct_distance_mm=round(dist, 4), seg=r["path"],
                            seg_frame_distance_mm=round(abs(float(np.dot(f["origin"] - la[0], n))), 4)))
    manifest = dict(
        export=str(export.resolve()),
        window="file's first WindowCenter/Width when present, else soft tissue 40/400",
        outline="SEG mask of the lesion on the SEG frame nearest the long axis' first end point, "
                "skimage.measure.find_contours(level 0.5) on the zero-padded frame, patient mm",
        images=entries)
    (d / "demo_manifest.json").write_text(json.dumps(manifest, indent=1))
    nverts = sum(len(p) for e in entries for p in e["outline"])
    print(f"{d / 'demo_manifest.json'}: {len(entries)} key images from {len(lesion_rows)} lesion rows, "
          f"{len({e['ct'] for e in entries})} distinct CT files, {nverts} outline vertices, "
          f"{far} slices off the long axis' end point", file=sys.stderr)


def run_demo(d: Path, out: Path, n_write: int = 4) -> None:
    m = json.loads((d / "demo_manifest.json").read_text())
    export, entries = Path(m["export"]), m["images"]
    t0 = time.perf_counter()
    render_demo(export, entries[0])  # warm-up (plugin discovery, font)
    warm = time.perf_counter() - t0
    per = []
    nbytes = 0
    t0 = time.perf_counter()
    for e in entries:
        t1 = time.perf_counter()
        png = render_demo(export, e)
        per.append(time.perf_counter() - t1)
        nbytes += len(png)
    dt = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    for i, e in enumerate(entries[:n_write]):
        (out / f"{i:03d}.png").write_bytes(render_demo(export, e))
    print(json.dumps({"peer": "pydicom+numpy+Pillow", "mode": "demo", "images": len(entries),
                      "seconds": round(dt, 4), "ms_per_image": round(1000 * dt / len(entries), 3),
                      "ms_median": round(1000 * float(np.median(per)), 3), "png_bytes": nbytes,
                      "import_seconds": round(IMPORT_SECONDS, 4), "warmup_seconds": round(warm, 4)}))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "make-inputs":
        make_inputs(Path(sys.argv[2]))
    elif cmd == "run":
        run(Path(sys.argv[2]), Path(sys.argv[3]))
    elif cmd == "make-demo-inputs":
        make_demo_inputs(Path(sys.argv[2]),
                         Path(sys.argv[3] if len(sys.argv) > 3 else "fixtures/demo"),
                         Path(sys.argv[4] if len(sys.argv) > 4 else "target/release/oncometry"))
    elif cmd == "run-demo":
        run_demo(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
