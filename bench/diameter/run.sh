#!/usr/bin/env bash
# Long-axis speed, side by side in one run, on the same masks (the 7 ellipsoids of the
# diameter anchor, cropped to their bounding boxes): numpy ref_edge (= pyradiomics'
# Maximum2DDiameterSlice point set) in Python, pyradiomics 3.1.0 itself (its C shape code),
# then oncometry in Rust (release), which prints the table.
# Usage: bench/diameter/run.sh [OUT_DIR]
#   PYTHON=...        interpreter for masks.py / ref_edge (numpy, scipy, SimpleITK)
#   PYRAD_PYTHON=...  interpreter with pyradiomics (bench/diameter/install_pyradiomics.sh
#                     builds one); without it the pyradiomics columns are skipped
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/work/venvs/measure/bin/python}
PYRAD_PYTHON=${PYRAD_PYTHON:-/work/venvs/pyrad/bin/python}
OUT=${1:-${TMPDIR:-/tmp}/oncometry-bench-diameter}
echo "# diameter bench $(date -u +%FT%TZ) on $(nproc) cores; $($PY --version); load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" bench/diameter/masks.py bench "$OUT" 3
if [ -x "$PYRAD_PYTHON" ] && "$PYRAD_PYTHON" -c 'import radiomics, radiomics.shape; assert radiomics.cShape is not None' 2>/dev/null; then
  "$PYRAD_PYTHON" bench/diameter/pyradiomics_time.py "$OUT" 3
else
  echo "SKIPPING the measured pyradiomics columns: $PYRAD_PYTHON cannot import radiomics with its C shape module" \
    "(build one with: VENV=/work/venvs/pyrad bench/diameter/install_pyradiomics.sh, or set PYRAD_PYTHON)"
fi
cargo bench --bench diameter -- "$OUT"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
