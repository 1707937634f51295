#!/usr/bin/env python3
"""Export pydicom's decoded pixel arrays as reference files for tests/integration/images.rs.

Run once (the outputs are committed):

    python3 -m venv /work/venvs/images
    /work/venvs/images/bin/pip install pydicom==3.0.2 pydicom-data numpy pylibjpeg \
        pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle pyjpegls Pillow
    /work/venvs/images/bin/python scripts/export_pydicom_arrays.py

It (1) copies the pydicom / pydicom-data test files we use into fixtures/images/pydicom/,
(2) writes one generated file (8-bit JPEG baseline, encoded with Pillow from MR_small's
pixels, because pydicom ships no monochrome baseline JPEG) into fixtures/images/generated/,
(3) for every file writes under fixtures/images/ref/:

  <name>.stored.png  the frame's stored values as pydicom's `pixel_array` gives them, as a
                     16-bit greyscale PNG (lossless and compressed, readable by the `image`
                     crate we already depend on) holding value + png_offset (32768 for
                     signed data, 0 for unsigned)
  <name>.hu.f32      only when the rescale is not the identity: pydicom's
                     `apply_modality_lut(pixel_array, ds)` (float64) cast to float32,
                     little-endian, row-major. With slope 1 / intercept 0 pydicom returns the
                     stored values unchanged, so the test compares against them instead.
  <name>.json        {"file", "frame", "rows", "cols", "dtype" (pydicom's), "slope",
                      "intercept", "png_offset", "has_hu", "transfer_syntax", "outcome",
                      "ipp", "iop", "pixel_spacing", "window", "modality", "pydicom",
                      "sha256"}

and index.json listing them. Files pydicom decodes but our decoder must refuse
(JPEG-LS without CharLS, 12-bit JPEG extended) are exported too: the test checks that we
return the typed "unsupported" error for them.
"""
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "images"

# (file name, frame index, expected outcome in oncometry)
FILES = [
    ("MR_small.dcm", 0, "ok"),
    ("MR_small_implicit.dcm", 0, "ok"),
    ("MR_small_bigendian.dcm", 0, "ok"),
    ("MR_small_expb.dcm", 0, "ok"),
    ("MR_small_RLE.dcm", 0, "ok"),
    ("MR_small_jp2klossless.dcm", 0, "ok"),
    ("MR_small_jpeg_ls_lossless.dcm", 0, "unsupported"),
    ("CT_small.dcm", 0, "ok"),
    ("image_dfl.dcm", 0, "ok"),
    ("JPEG-LL.dcm", 0, "ok"),
    ("JPGExtended.dcm", 0, "unsupported"),
    ("emri_small_RLE.dcm", 3, "ok"),
    ("emri_small_jpeg_2k_lossless.dcm", 7, "ok"),
]


def make_rescaled(dst: Path) -> None:
    """MR_small with a non-trivial Rescale Slope / Intercept, to exercise the f32 path."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.RescaleSlope = "0.5"
    ds.RescaleIntercept = "-100.25"
    ds.save_as(dst, enforce_file_format=True)


def make_jpeg_baseline(dst: Path) -> None:
    """MR_small rescaled to 8 bits, JPEG baseline (Pillow, quality 90), encapsulated."""
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    a = ds.pixel_array.astype(np.float64)
    a8 = np.round(255.0 * (a - a.min()) / (a.max() - a.min())).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a8, mode="L").save(buf, format="JPEG", quality=90, subsampling=0)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    for kw in ("WindowCenter", "WindowWidth", "SmallestImagePixelValue", "LargestImagePixelValue"):
        if kw in ds:
            del ds[kw]
    ds.RescaleSlope = 1
    ds.RescaleIntercept = 0
    ds.save_as(dst, enforce_file_format=True)


def first_window(ds):
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    c, w = ds.WindowCenter, ds.WindowWidth
    c = float(c[0]) if isinstance(c, pydicom.multival.MultiValue) else float(c)
    w = float(w[0]) if isinstance(w, pydicom.multival.MultiValue) else float(w)
    return [c, w] if w > 0 else None


def export(path: Path, name: str, frame: int, outcome: str, src: str) -> dict:
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    if arr.ndim == 3 and int(getattr(ds, "NumberOfFrames", 1)) > 1:
        arr = arr[frame]
    from PIL import Image

    hu = apply_modality_lut(arr, ds).astype(np.float32)
    stem = OUT / "ref" / name
    signed = arr.dtype.kind == "i"
    offset = 32768 if signed else 0
    shifted = arr.astype(np.int64) + offset
    assert shifted.min() >= 0 and shifted.max() <= 65535, name
    slope = float(getattr(ds, "RescaleSlope", 1.0))
    intercept = float(getattr(ds, "RescaleIntercept", 0.0))
    has_hu = not (slope == 1.0 and intercept == 0.0)
    if outcome == "ok":
        img = Image.fromarray(shifted.astype(np.uint16))
        img.save(str(stem) + ".stored.png", optimize=True)
        if has_hu:
            hu.astype("<f4").tofile(str(stem) + ".hu.f32")
    meta = {
        "file": f"{src}/{name}",
        "frame": frame,
        "rows": int(arr.shape[0]),
        "cols": int(arr.shape[1]),
        "dtype": str(arr.dtype),
        "slope": slope,
        "intercept": intercept,
        "png_offset": offset,
        "has_hu": has_hu,
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
        "outcome": outcome,
        # Header geometry and window as pydicom reads them (null when absent), so the test
        # can check the PlaneGrid and window we build from the same header.
        "ipp": [float(v) for v in ds.ImagePositionPatient] if "ImagePositionPatient" in ds else None,
        "iop": [float(v) for v in ds.ImageOrientationPatient] if "ImageOrientationPatient" in ds else None,
        "pixel_spacing": [float(v) for v in ds.PixelSpacing] if "PixelSpacing" in ds else None,
        "window": first_window(ds),
        "modality": str(ds.get("Modality", "")) or None,
        "pydicom": pydicom.__version__,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    (Path(str(stem) + ".json")).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main() -> int:
    (OUT / "pydicom").mkdir(parents=True, exist_ok=True)
    (OUT / "generated").mkdir(parents=True, exist_ok=True)
    (OUT / "ref").mkdir(parents=True, exist_ok=True)
    index = []
    for name, frame, outcome in FILES:
        dst = OUT / "pydicom" / name
        shutil.copyfile(get_testdata_file(name), dst)
        index.append(export(dst, name, frame, outcome, "pydicom"))
    jb = OUT / "generated" / "MR_small_jpeg_baseline.dcm"
    make_jpeg_baseline(jb)
    meta = export(jb, jb.name, 0, "ok", "generated")
    # Lossy JPEG: ISO 10918-1 lets conforming decoders differ by one grey level (IDCT
    # precision). pydicom's own decoders disagree here: libjpeg vs Pillow (libjpeg-turbo).
    from pydicom.pixels import pixel_array

    a = pixel_array(jb, decoding_plugin="pylibjpeg").astype(np.int64)
    b = pixel_array(jb, decoding_plugin="pillow").astype(np.int64)
    meta["tolerance"] = 1
    meta["note"] = (
        f"lossy: pydicom+pylibjpeg vs pydicom+pillow differ at {int((a != b).sum())} pixels, "
        f"max {int(np.abs(a - b).max())}"
    )
    (OUT / "ref" / (jb.name + ".json")).write_text(json.dumps(meta, indent=1) + "\n")
    index.append(meta)
    rs = OUT / "generated" / "MR_small_rescaled.dcm"
    make_rescaled(rs)
    index.append(export(rs, rs.name, 0, "ok", "generated"))
    (OUT / "ref" / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    for m in index:
        print(m["file"], m["transfer_syntax"], m["rows"], m["cols"], m["dtype"], m["outcome"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
