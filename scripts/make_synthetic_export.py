#!/usr/bin/env python3
"""Write a synthetic sarcoma-trial export (CT + highdicom SEG per timepoint, plus
clinical.csv, truth.csv, expected.csv) at any scale, for benchmarks. Same generator as
make_demo.py (scripts/demo_export.py); patient i is the same whatever N is.

Usage:
  python scripts/make_synthetic_export.py OUT_DIR --patients 200 [--timepoints 3]
         [--slices 12] [--size 96] [--seed 1001] [--prefix SYN] [--explicit-le]

--size P     CT matrix P x P over a fixed 288 mm field of view (pixel 288/P mm)
--slices S   S slices over a fixed 60 mm (thickness 60/S mm)
--explicit-le  write Explicit VR Little Endian instead of Deflated Explicit VR LE
clinical.csv, truth.csv and expected.csv are written inside OUT_DIR (the pipeline
ignores non-DICOM files). Do not commit the output.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_export import write_export  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--timepoints", type=int, default=3)
    ap.add_argument("--slices", type=int, default=12)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--seed", type=int, default=1001)
    ap.add_argument("--prefix", default="SYN")
    ap.add_argument("--explicit-le", action="store_true")
    a = ap.parse_args()
    if a.patients < 1 or a.timepoints < 2 or a.slices < 4 or a.size < 48:
        ap.error("need --patients >= 1, --timepoints >= 2, --slices >= 4, --size >= 48")
    os.makedirs(a.out_dir, exist_ok=True)
    t = time.perf_counter()
    write_export(a.out_dir, a.patients, a.seed, n_tp=a.timepoints, size=a.size, slices=a.slices,
                 prefix=a.prefix, deflate=not a.explicit_le,
                 clinical=os.path.join(a.out_dir, "clinical.csv"),
                 truth=os.path.join(a.out_dir, "truth.csv"),
                 expected=os.path.join(a.out_dir, "expected.csv"), progress=True)
    print(f"wrote {a.patients} patients x {a.timepoints} timepoints to {a.out_dir} "
          f"in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
