#!/usr/bin/env bash
# Issue 8 budget: what key images add to the wall time of `oncometry run`, measured by
# alternating runs with and without them (`[run] images = false`) on the same export.
#
# On this project's VM the machine's speed drifts by ±25 % within minutes, more than the
# budget itself, so one pair of runs (as in run.sh) cannot settle it. This script alternates
# N pairs and reports, besides the medians and minimums of the wall times, the overhead
# normalised by each run's own index stage: indexing is identical work with and without key
# images, so total / index cancels the machine's speed of the moment.
#
# Usage: bench/pipeline/images_overhead.sh            (from the repository root)
# Env:   DATA=export (default /work/bench-data/pipeline-200x3, see run.sh to generate it)
#        BIN=oncometry binary (default target/release/oncometry)
#        JOBS="1 2"   ROUNDS=6   OUT=/tmp/bench-images-overhead
#        SYNC=0 skips the `sync` before each run (on by default: see the loop)
#        KEEP=1 keeps the run folders (deleting thousands of files slows the file creates
#        of whatever runs next on a journal-less ext4: delete them after a series)
#        ARGS="--stable-age 0" (more `oncometry run` options, e.g. for an export written
#        minutes ago; the default stable age would leave its studies for a later run)
set -u
# As a nightly job runs: with RUST_BACKTRACE set, every error dicom-rs builds and then
# handles (an absent optional attribute) captures a backtrace, which made decoding a
# deflated CT slice 45 -> 68 us in a loop.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
cd "$(dirname "$0")/../.."
DATA=${DATA:-/work/bench-data/pipeline-200x3}
BIN=${BIN:-$(pwd)/target/release/oncometry}
JOBS=${JOBS:-"1 2"}
ROUNDS=${ROUNDS:-6}
read -r -a ARGS <<< "${ARGS:-}"
OUT=${OUT:-/tmp/bench-images-overhead}
PY=${PY:-python3}
[ -x "$BIN" ] || { echo "no $BIN: build it first with 'cargo build --release'"; exit 2; }
[ -f "$DATA/clinical.csv" ] || { echo "no $DATA: generate it with bench/pipeline/run.sh"; exit 2; }
# Outputs are kept until the end: on a file system without a journal, creating files right
# after deleting thousands is several times slower (see run.sh).
STAMP=$(date +%Y%m%dT%H%M%S)
RUNS="$OUT/runs-$STAMP"
mkdir -p "$RUNS"
printf '[run]\nimages = false\n' > "$RUNS/noimg.toml"
echo "input: $DATA; $(nproc) cores; $ROUNDS alternated pairs per job count; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

for j in $JOBS; do
  for i in $(seq "$ROUNDS"); do
    # alternate which variant goes first, so neither always follows the other
    if [ $((i % 2)) = 1 ]; then order="on off"; else order="off on"; fi
    for v in $order; do
      extra=()
      [ "$v" = off ] && extra=(--config "$RUNS/noimg.toml")
      out="$RUNS/j$j-$i-$v"
      # Written-back before, not during, the next run: a nightly run starts without the
      # previous run's dirty pages, and here those of the variant writing more (key
      # images: ~30 MB a run) would slow the fsyncs of whichever run follows.
      [ "${SYNC:-1}" = 0 ] || sync
      "$BIN" run "$DATA" --clinical "$DATA/clinical.csv" --out "$out" --jobs "$j" "${extra[@]}" "${ARGS[@]}" \
        >/dev/null 2>"$out.stderr"
      rc=$?
      [ "$rc" -le 1 ] || { echo "oncometry run failed (exit $rc): $(tail -1 "$out.stderr")"; exit 3; }
      echo "$j $v $out/run.jsonl"
    done
  done
done | "$PY" -c '
import json, statistics as st, sys
runs = {}
for line in sys.stdin:
    parts = line.split()
    if len(parts) != 3:
        print(line.strip()); continue
    j, v, path = parts
    ev = [json.loads(l) for l in open(path)]
    idx = next(e["seconds"] for e in ev if e.get("event") == "indexed")
    end = next(e for e in ev if e.get("event") == "run_end")
    runs.setdefault(j, {}).setdefault(v, []).append(
        (end["seconds"], idx, end["measure_seconds"], end["cohort_seconds"]))
print("| jobs | key images | runs | total s, median (min) | index s, median | measure s, median | outputs s, median | total / index, median |")
print("|---|---|---|---|---|---|---|---|")
for j, by in runs.items():
    for v in ("off", "on"):
        r = by[v]
        med = lambda k: st.median(x[k] for x in r)
        print(f"| {j} | {v} | {len(r)} | {med(0):.3f} ({min(x[0] for x in r):.3f}) | {med(1):.3f} | "
              f"{med(2):.3f} | {med(3):.3f} | {st.median(x[0] / x[1] for x in r):.3f} |")
print()
for j, by in runs.items():
    on, off = by["on"], by["off"]
    ratio = lambda a, b: 100 * (a / b - 1)
    norm = ratio(st.median(x[0] / x[1] for x in on), st.median(x[0] / x[1] for x in off))
    medw = ratio(st.median(x[0] for x in on), st.median(x[0] for x in off))
    minw = ratio(min(x[0] for x in on), min(x[0] for x in off))
    print(f"--jobs {j}: key images add {norm:+.1f} % normalised by the index stage "
          f"(median wall {medw:+.1f} %, fastest runs {minw:+.1f} %)")
'
[ -n "${KEEP:-}" ] || rm -rf "$RUNS"
