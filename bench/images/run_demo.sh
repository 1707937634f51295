#!/usr/bin/env bash
# Issue 8 key image benchmark on the demo export: every key image of
# `oncometry run fixtures/demo` (one per measured lesion per timepoint), rendered by
# pydicom + numpy + Pillow (one Python process, one thread) and by oncometry's
# decode_slice + render_key_image (one thread, then a rayon pool of 2), from one manifest.
#
# Usage: bench/images/run_demo.sh [DIR]      (from anywhere; DIR default /tmp/oncometry-bench-demo)
# Env:   PY=python with pydicom, numpy, Pillow, scikit-image (the inputs' outline tracing)
#            (default /work/venvs/fixtures/bin/python, else python3; missing ones are
#            installed with its pip)
#        ROUNDS=3  peer and oncometry alternated this many times; the table takes the best
#        EXPORT=fixtures/demo
set -eu
unset RUST_BACKTRACE RUST_LIB_BACKTRACE  # as a nightly job runs (see bench/pipeline/run.sh)
cd "$(dirname "$0")/../.."
DIR=${1:-/tmp/oncometry-bench-demo}
PY=${PY:-/work/venvs/fixtures/bin/python}
[ -x "$PY" ] || PY=python3
ROUNDS=${ROUNDS:-3}
EXPORT=${EXPORT:-fixtures/demo}
PEER=bench/images/peer_pydicom_pillow.py

for m in pydicom:pydicom numpy:numpy PIL:Pillow skimage:scikit-image; do
  "$PY" -c "import ${m%%:*}" 2>/dev/null || {
    echo "installing ${m#*:} into $PY's environment" >&2
    "$PY" -m pip install -q "${m#*:}"
  }
done

echo "building (release binary, keyimage bench) ..." >&2
cargo build --release -q
cargo bench --bench keyimage --no-run -q

mkdir -p "$DIR"
"$PY" "$PEER" make-demo-inputs "$DIR" "$EXPORT" target/release/oncometry

LOG="$DIR/results.jsonl"
: >"$LOG"
: >"$DIR/oncometry.stderr"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$ROUNDS"); do
  "$PY" "$PEER" run-demo "$DIR" "$DIR/out-py" | tee -a "$LOG"
  cargo bench -q --bench keyimage -- demo "$DIR" 2>>"$DIR/oncometry.stderr" | tee -a "$LOG"
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - "$LOG" "$LOAD0" "$LOAD1" "$ROUNDS" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def side(l):
    return "pydicom + numpy + Pillow" if "peer" in l else f"oncometry, {l['oncometry']}"
best = {}
for l in lines:
    k = side(l)
    if k not in best or l["seconds"] < best[k]["seconds"]:
        best[k] = l
py = best["pydicom + numpy + Pillow"]
print(f"\nbest of {sys.argv[4]} alternated rounds; load average before {sys.argv[2]}, after {sys.argv[3]}\n")
print("| side | images | total, s | ms per image (mean) | ms per image (median) | Python / this |")
print("|---|---|---|---|---|---|")
for k, l in best.items():
    med = f"{l['ms_median']:.2f}" if "ms_median" in l else "–"
    print(f"| {k} | {l['images']} | {l['seconds']:.3f} | {l['ms_per_image']:.2f} | {med} | "
          f"{py['seconds'] / l['seconds']:.1f}× |")
print(f"\nPython imports (numpy, pydicom, PIL): {py['import_seconds']:.2f} s, not in the totals; "
      f"warm-up render: Python {py['warmup_seconds'] * 1000:.0f} ms, oncometry "
      f"{best['oncometry, 1 thread']['warmup_seconds'] * 1000:.1f} ms")
PYEOF
echo "raw lines: $LOG; images to look at: $DIR/out-py, $DIR/out-rs" >&2
