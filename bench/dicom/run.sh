#!/usr/bin/env bash
# DICOM benchmark, both sides in one run on the same files:
#   header indexing: `oncometry index` vs pydicom dcmread(stop_before_pixels=True)
#   SEG decoding:    oncometry's SEG reader (benches/dicom_seg.rs) vs highdicom segread + get_volume
# Usage: bench/dicom/run.sh [EXPORT_DIR]   (default /tmp/oncometry-bench-dicom/export; generated
# with bench/dicom/gen_export.py when absent: 100 patients × 2 studies × 100 CT slices 64×64
# + one highdicom SEG per study = 20,200 files). VENV defaults to /work/venvs/dicom.
set -euo pipefail
cd "$(dirname "$0")/../.."
EXPORT="${1:-/tmp/oncometry-bench-dicom/export}"
VENV="${VENV:-/work/venvs/dicom}"
PY="$VENV/bin/python"
if [ ! -d "$EXPORT" ]; then
  "$PY" bench/dicom/gen_export.py "$EXPORT"
fi
cargo build --release --bin oncometry 2>/dev/null
cargo bench --bench dicom_seg --no-run 2>/dev/null
BIN=target/release/oncometry
echo "export: $EXPORT ($(find "$EXPORT" -type f | wc -l) files, $(du -sh "$EXPORT" | cut -f1))"
echo "machine: $(nproc) cores; $(uname -sr)"
# warm the page cache so both sides read from memory
find "$EXPORT" -type f -exec cat {} + > /dev/null

now() { date +%s.%N; }
for jobs in 1 2; do
  # exit code 1 only means "some file quarantined"
  t0=$(now); "$BIN" index "$EXPORT" --jobs "$jobs" > /tmp/oncometry-bench-index.json 2>/dev/null || [ $? -eq 1 ]; t1=$(now)
  echo "oncometry index --jobs $jobs: $(echo "$t1 - $t0" | bc) s"
done
echo "pydicom index (1 process): $("$PY" bench/dicom/peer_pydicom_index.py "$EXPORT")"
# SEG decoding on the first SEG_PATIENTS patients (highdicom needs seconds per SEG);
# a hard-linked copy so both sides read the very same files
SEG_PATIENTS="${SEG_PATIENTS:-20}"
SEGDIR="${EXPORT%/}-seg$SEG_PATIENTS"
if [ ! -d "$SEGDIR" ]; then
  mkdir -p "$SEGDIR"
  for p in $(ls "$EXPORT" | sort | head -n "$SEG_PATIENTS"); do cp -al "$EXPORT/$p" "$SEGDIR/$p"; done
fi
echo "SEG subset: $SEGDIR ($(find "$SEGDIR" -name SEG.dcm | wc -l) SEG files)"
for jobs in 1 2; do
  echo "oncometry SEG decode --jobs $jobs: $(cargo bench --bench dicom_seg -- "$SEGDIR" --jobs "$jobs" 2>/dev/null)"
done
echo "highdicom SEG decode (1 process): $(cd /tmp && "$PY" "$OLDPWD/bench/dicom/peer_highdicom_seg.py" "$SEGDIR")"
