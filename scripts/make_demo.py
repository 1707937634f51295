#!/usr/bin/env python3
"""Write the oncometry demo export: 40 synthetic sarcoma patients x 3 CT timepoints,
each with a highdicom SEG of the lesions, plus clinical.csv, truth.csv and expected.csv.

Usage:  python scripts/make_demo.py fixtures/demo

Deterministic (seed 1001, fixed UIDs and dates): re-running gives byte-identical files
with the same pydicom / highdicom / numpy versions. See fixtures/demo/README.md.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_export import write_export  # noqa: E402

SEED = 1001
N_PATIENTS = 40


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    write_export(args.out_dir, N_PATIENTS, SEED, n_tp=3, size=96, slices=12, prefix="DEMO", deflate=True,
                 clinical=os.path.join(args.out_dir, "clinical.csv"),
                 truth=os.path.join(args.out_dir, "truth.csv"),
                 expected=os.path.join(args.out_dir, "expected.csv"))


if __name__ == "__main__":
    main()
