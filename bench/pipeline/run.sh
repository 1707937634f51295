#!/usr/bin/env bash
# Issue 6 benchmark: the whole pipeline (index -> measure -> response -> survival -> report)
# on one synthetic export, `oncometry run` against the Python reference
# (pydicom + highdicom + numpy/scipy + lifelines), side by side on the same input.
#
# Usage: bench/pipeline/run.sh            (from the repository root)
# Env:   PY=python with pydicom highdicom numpy scipy pandas lifelines
#            (default /work/venvs/fixtures/bin/python, else python3)
#        DATA=export folder (default /work/bench-data/pipeline-200x3; generated if missing:
#            200 patients x 3 timepoints, CT 128x128x24 + SEG, deflate)
#        OUT=scratch output folder (default /tmp/bench-pipeline)
#        BIN=oncometry binary (default target/release/oncometry; build it first)
#        JOBS="1 2"  job counts for oncometry
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PY=${PY:-/work/venvs/fixtures/bin/python}
[ -x "$PY" ] || PY=python3
DATA=${DATA:-/work/bench-data/pipeline-200x3}
OUT=${OUT:-/tmp/bench-pipeline}
BIN=${BIN:-$ROOT/target/release/oncometry}
JOBS=${JOBS:-"1 2"}
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
  echo "installing GNU time (apt-get install -y time)" >&2
  (apt-get install -y time >/dev/null 2>&1 || sudo apt-get install -y time >/dev/null 2>&1) || {
    echo "GNU time missing: install it with 'apt-get install -y time'" >&2; exit 2; }
fi

if [ ! -f "$DATA/clinical.csv" ]; then
  echo "generating $DATA (200 patients x 3 timepoints) ..."
  "$PY" scripts/make_synthetic_export.py "$DATA" --patients 200 --timepoints 3 --size 128 --slices 24 || exit 3
fi
NFILES=$(find "$DATA" -type f | wc -l)
SIZE=$(du -sh --apparent-size "$DATA" | cut -f1)
mkdir -p "$OUT"

# run NAME CMD...: wall seconds and peak RSS (MB) from GNU time -v, exit code
declare -A WALL RSS RC CPU
run() {
  local name=$1; shift
  local log="$OUT/$name.time"
  "$TIME" -v -o "$log" "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr"
  RC[$name]=$?
  local el
  el=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
  WALL[$name]=$(echo "$el" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  RSS[$name]=$(awk '/Maximum resident set size/ {printf "%.0f", $6/1024}' "$log")
  CPU[$name]=$(awk '/User time|System time/ {s += $NF} END {printf "%.2f", s}' "$log")
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "input: $DATA ($NFILES files, $SIZE); $(nproc) cores"
rm -rf "$OUT/python"
run python "$PY" bench/pipeline/python_reference.py "$DATA" "$DATA/clinical.csv" "$OUT/python"
[ "${RC[python]}" = 0 ] || { echo "python reference failed:"; tail -5 "$OUT/python.stderr"; }
cat "$OUT/python.stdout"

[ -x "$BIN" ] || echo "no $BIN: build it first with 'cargo build --release'"
RUST_OK=1
for j in $JOBS; do
  name=rust_j$j
  if [ ! -x "$BIN" ]; then RUST_OK=0; break; fi
  rm -rf "$OUT/$name"
  run "$name" "$BIN" run "$DATA" --clinical "$DATA/clinical.csv" --out "$OUT/$name" --jobs "$j"
  # 0 = all processed, 1 = partial: both produce results
  if [ "${RC[$name]}" -gt 1 ]; then
    echo "oncometry run --jobs $j failed (exit ${RC[$name]}): $(tail -1 "$OUT/$name.stderr")"
    unset "WALL[$name]"
    RUST_OK=0
  fi
done
[ "$RUST_OK" = 1 ] || echo "oncometry run not available (or failed): Rust rows below are missing"

echo
echo "load average before the runs: $LOAD0"
echo "| tool | jobs | wall s | CPU s (user+sys) | peak RSS MB | speed-up vs Python (wall) |"
echo "|---|---|---|---|---|---|"
printf "| python_reference.py | 1 | %s | %s | %s | 1.0 |\n" "${WALL[python]}" "${CPU[python]}" "${RSS[python]}"
for j in $JOBS; do
  name=rust_j$j
  if [ -n "${WALL[$name]:-}" ]; then
    ratio=$(awk -v p="${WALL[python]}" -v r="${WALL[$name]}" 'BEGIN { if (r > 0) printf "%.1f", p / r; else print "-" }')
    printf "| oncometry run | %s | %s | %s | %s | %s |\n" "$j" "${WALL[$name]}" "${CPU[$name]}" "${RSS[$name]}" "$ratio"
  else
    printf "| oncometry run | %s | n/a | n/a | n/a | n/a |\n" "$j"
  fi
done

# agreement check: best overall response per patient, Python vs Rust (jobs 1)
if [ -f "$OUT/rust_j1/patients.csv" ] && [ -f "$OUT/python/patients.csv" ]; then
  "$PY" - "$OUT/python/patients.csv" "$OUT/rust_j1/patients.csv" <<'EOF'
import sys, pandas as pd
a = pd.read_csv(sys.argv[1], dtype={"patient_id": str}).set_index("patient_id")
b = pd.read_csv(sys.argv[2], dtype={"patient_id": str}).set_index("patient_id")
j = a.join(b, lsuffix="_py", rsuffix="_rs", how="outer")
bor = (j.best_overall_response_py != j.best_overall_response_rs).sum()
dd = (j.d_percent_py - j.d_percent_rs).abs().max()
print(f"agreement: patients py {len(a)} rust {len(b)}; best response differs for {bor}; max |D py - D rust| {dd:.3g} points")
import os
la = os.path.join(os.path.dirname(sys.argv[1]), "lesions.csv")
lb = os.path.join(os.path.dirname(sys.argv[2]), "lesions.csv")
if os.path.exists(la) and os.path.exists(lb):
    k = ["patient_id", "study_date", "lesion_id"]
    x = pd.read_csv(la, dtype={"patient_id": str}).merge(
        pd.read_csv(lb, dtype={"patient_id": str}), on=k, suffixes=("_py", "_rs"), how="outer", indicator=True)
    both = x[x._merge == "both"]
    print(f"agreement: lesion rows py/rust/both {len(x) - (x._merge == 'right_only').sum()}/"
          f"{len(x) - (x._merge == 'left_only').sum()}/{len(both)}; "
          f"max |long axis| diff {(both.long_axis_mm_py - both.long_axis_mm_rs).abs().max():.3g} mm, "
          f"max |short axis| diff {(both.short_axis_mm_py - both.short_axis_mm_rs).abs().max():.3g} mm")
EOF
fi
