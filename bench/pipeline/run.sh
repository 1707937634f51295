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
# As a nightly job runs: with RUST_BACKTRACE set, every error dicom-rs builds and then
# handles (an absent optional attribute) captures a backtrace, which made decoding a
# deflated CT slice 45 -> 68 us in a loop.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
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
# Each invocation writes into a fresh folder and removes older ones only after measuring:
# on a file system without a journal (this machine's ext4), inodes freed in the last
# minutes are skipped when new files are created, so deleting ~2,000 key images right
# before a run makes creating the next ~2,000 several times slower. A nightly run never
# starts by deleting its outputs, so that cost is not part of the measurement.
STAMP=$(date +%Y%m%dT%H%M%S)
RUNS="$OUT/outputs-$STAMP"
mkdir -p "$RUNS"

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
run python "$PY" bench/pipeline/python_reference.py "$DATA" "$DATA/clinical.csv" "$RUNS/python"
[ "${RC[python]}" = 0 ] || { echo "python reference failed:"; tail -5 "$OUT/python.stderr"; }
cat "$OUT/python.stdout"

[ -x "$BIN" ] || echo "no $BIN: build it first with 'cargo build --release'"
RUST_OK=1
# key images off: the same run without them, to measure what they add (issue 8: < 20 %)
printf '[run]\nimages = false\n' > "$RUNS/noimg.toml"
for j in $JOBS; do
  for variant in "" _noimg; do
    name=rust_j$j$variant
    if [ ! -x "$BIN" ]; then RUST_OK=0; break 2; fi
    extra=()
    [ -n "$variant" ] && extra=(--config "$RUNS/noimg.toml")
    run "$name" "$BIN" run "$DATA" --clinical "$DATA/clinical.csv" --out "$RUNS/$name" --jobs "$j" "${extra[@]}"
    # 0 = all processed, 1 = partial: both produce results
    if [ "${RC[$name]}" -gt 1 ]; then
      echo "oncometry run --jobs $j$variant failed (exit ${RC[$name]}): $(tail -1 "$OUT/$name.stderr")"
      unset "WALL[$name]"
      RUST_OK=0
    fi
  done
done
[ "$RUST_OK" = 1 ] || echo "oncometry run not available (or failed): Rust rows below are missing"

echo
echo "load average before the runs: $LOAD0"
echo "| tool | jobs | key images | wall s | CPU s (user+sys) | peak RSS MB | speed-up vs Python (wall) |"
echo "|---|---|---|---|---|---|---|"
printf "| python_reference.py | 1 | - | %s | %s | %s | 1.0 |\n" "${WALL[python]}" "${CPU[python]}" "${RSS[python]}"
for j in $JOBS; do
  for variant in "" _noimg; do
    name=rust_j$j$variant
    imgs=$([ -z "$variant" ] && echo on || echo off)
    if [ -n "${WALL[$name]:-}" ]; then
      ratio=$(awk -v p="${WALL[python]}" -v r="${WALL[$name]}" 'BEGIN { if (r > 0) printf "%.1f", p / r; else print "-" }')
      printf "| oncometry run | %s | %s | %s | %s | %s | %s |\n" "$j" "$imgs" "${WALL[$name]}" "${CPU[$name]}" "${RSS[$name]}" "$ratio"
    else
      printf "| oncometry run | %s | %s | n/a | n/a | n/a | n/a |\n" "$j" "$imgs"
    fi
  done
done
for j in $JOBS; do
  a=${WALL[rust_j$j]:-}; b=${WALL[rust_j${j}_noimg]:-}
  [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" -v j="$j" \
    'BEGIN { printf "key images add %.0f %% to the wall time of oncometry run --jobs %s (%.2f s vs %.2f s)\n", 100 * (a - b) / b, j, a, b }'
done

# agreement check: best overall response per patient, Python vs Rust (jobs 1)
if [ -f "$RUNS/rust_j1/patients.csv" ] && [ -f "$RUNS/python/patients.csv" ]; then
  "$PY" - "$RUNS/python/patients.csv" "$RUNS/rust_j1/patients.csv" <<'EOF'
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

# stage times of the Rust runs (from their run.jsonl)
for j in $JOBS; do
  f="$RUNS/rust_j$j/run.jsonl"
  [ -f "$f" ] || continue
  "$PY" - "$f" "$j" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
idx = next((e["seconds"] for e in ev if e.get("event") == "indexed"), 0.0)
end = next((e for e in ev if e.get("event") == "run_end"), {})
print(f"oncometry --jobs {sys.argv[2]} stages: index {idx:.2f} s, measure (+ key images) "
      f"{end.get('measure_seconds', 0):.2f} s, response + survival + outputs "
      f"{end.get('cohort_seconds', 0):.2f} s, total {end.get('seconds', 0):.2f} s")
EOF
done
find "$OUT" -mindepth 1 -maxdepth 1 -name 'outputs-*' ! -path "$RUNS" -exec rm -rf {} +
