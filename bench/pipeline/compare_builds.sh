#!/usr/bin/env bash
# Key images' share of `oncometry run` for several builds in one series: variants are
# alternated round by round on the same export, so the VM's drift hits them alike.
#
# Usage: bench/pipeline/compare_builds.sh ROUNDS JOBS NAME=BIN[:ENV=VALUE ...] ...
#   The variant named `off` runs with `[run] images = false` (the baseline); every other
#   runs with key images. E.g. the session-8 comparison of the session-7 build and this one:
#     bench/pipeline/compare_builds.sh 10 1 off=/tmp/old on-old=/tmp/old on-new=target/release/oncometry
# Env:   DATA=export (default /work/bench-data/pipeline-200x3, see run.sh to generate it)
#        SYNC=0 skips the `sync` before each run (see images_overhead.sh)
#        PY=python3   OUT=/tmp/bench-compare-builds (run folders are kept: deleting
#        thousands of files slows the file creates that follow on a journal-less ext4)
# Prints per variant the medians of total, index, measure and outputs seconds, and for
# each variant with key images what they add: normalised by the index stage (identical
# work either way), by median wall time and between the fastest runs.
set -u
# As a nightly job runs: with RUST_BACKTRACE set, every error dicom-rs builds and then
# handles (an absent optional attribute) captures a backtrace, which made decoding a
# deflated CT slice 45 -> 68 us in a loop.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
[ $# -ge 3 ] || { sed -n 2,14p "$0"; exit 2; }
R=$1; J=$2; shift 2
DATA=${DATA:-/work/bench-data/pipeline-200x3}
PY=${PY:-python3}
O=${OUT:-/tmp/bench-compare-builds}/$(date +%Y%m%dT%H%M%S)
mkdir -p "$O"
printf '[run]\nimages = false\n' > "$O/noimg.toml"
for i in $(seq "$R"); do
  for v in "$@"; do
    name=${v%%=*}; rest=${v#*=}; bin=${rest%%:*}; envs=()
    [[ $rest == *:* ]] && read -r -a envs <<< "${rest#*:}"
    extra=(); [ "$name" = off ] && extra=(--config "$O/noimg.toml")
    out=$O/$name-$i
    # as in images_overhead.sh: the previous run's dirty pages written back first
    [ "${SYNC:-1}" = 0 ] || sync
    env "${envs[@]}" "$bin" run "$DATA" --clinical "$DATA/clinical.csv" --out "$out" --jobs "$J" \
      --stable-age 0 "${extra[@]}" >/dev/null 2>"$out.err"
    [ $? -le 1 ] || { echo "$name failed: $(tail -1 "$out.err")"; exit 3; }
    echo "$name $out/run.jsonl"
  done
done | "$PY" -c '
import json, statistics as st, sys
r = {}
for line in sys.stdin:
    parts = line.split()
    if len(parts) != 2:
        print(line.strip()); continue
    n, p = parts
    ev = [json.loads(x) for x in open(p)]
    idx = next(e["seconds"] for e in ev if e.get("event") == "indexed")
    end = next(e for e in ev if e.get("event") == "run_end")
    r.setdefault(n, []).append((end["seconds"], idx, end["measure_seconds"], end["cohort_seconds"]))
off = r.get("off")
for n, x in r.items():
    m = lambda k: st.median(y[k] for y in x)
    s = (f"{n:10s} total {m(0):.3f} (min {min(y[0] for y in x):.3f}) index {m(1):.3f} "
         f"measure {m(2):.3f} outputs {m(3):.3f} total/index {st.median(y[0] / y[1] for y in x):.3f}")
    if off and n != "off":
        ti = lambda v: st.median(y[0] / y[1] for y in v)
        s += (f"  adds: normalised {100 * (ti(x) / ti(off) - 1):+.1f} %, "
              f"median {100 * (m(0) / st.median(y[0] for y in off) - 1):+.1f} %, "
              f"fastest {100 * (min(y[0] for y in x) / min(y[0] for y in off) - 1):+.1f} %")
    print(s)
'
