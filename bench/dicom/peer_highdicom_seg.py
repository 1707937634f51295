"""Peer for the SEG decoding of `oncometry measure`: read every SEG of the export with
highdicom (`segread`) and build its volume (`get_volume()`: frames placed by position,
bits unpacked). Prints one JSON line."""
import json
import os
import sys
import time

import highdicom as hd

root = sys.argv[1]
paths = sorted(os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns if n == "SEG.dcm")
t0 = time.perf_counter()
voxels = 0
for p in paths:
    seg = hd.seg.segread(p)
    vol = seg.get_volume()
    voxels += int((vol.array != 0).sum())
dt = time.perf_counter() - t0
print(json.dumps({"n_seg": len(paths), "seg_decode_s": round(dt, 4), "foreground_voxels": voxels}))
