#!/usr/bin/env bash
# Long-axis speed, side by side in one run: numpy ref_edge (= pyradiomics'
# Maximum2DDiameterSlice point set) in Python, then oncometry in Rust (release), on the
# same masks (the 7 ellipsoids of the diameter anchor, cropped to their bounding boxes).
# Usage: bench/diameter/run.sh [OUT_DIR]   (PYTHON=... to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/work/venvs/measure/bin/python}
OUT=${1:-${TMPDIR:-/tmp}/oncometry-bench-diameter}
echo "# diameter bench $(date -u +%FT%TZ) on $(nproc) cores; $($PY --version)"
"$PY" bench/diameter/masks.py bench "$OUT" 3
cargo bench --bench diameter -- "$OUT"
