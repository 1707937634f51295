"""Peer for `oncometry index`: walk the export and read every header with pydicom
(`dcmread(stop_before_pixels=True)`), group Patient → Study → Series. Prints one JSON line."""
import json
import os
import sys
import time

import pydicom
from pydicom.errors import InvalidDicomError

root = sys.argv[1]
t0 = time.perf_counter()
tree, seen, ignored, bad = {}, 0, 0, 0
for dirpath, _, names in os.walk(root):
    for name in names:
        seen += 1
        try:
            ds = pydicom.dcmread(os.path.join(dirpath, name), stop_before_pixels=True)
        except InvalidDicomError:
            ignored += 1
            continue
        except Exception:
            bad += 1
            continue
        key = (str(ds.get("PatientID", "")), str(ds.get("StudyInstanceUID", "")), str(ds.get("SeriesInstanceUID", "")))
        tree[key] = tree.get(key, 0) + 1
dt = time.perf_counter() - t0
print(json.dumps({"files_seen": seen, "series": len(tree), "instances": sum(tree.values()),
                  "ignored": ignored, "failed": bad, "index_s": round(dt, 4)}))
