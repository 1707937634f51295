#!/bin/bash
# A/B timing of two `oncometry` binaries on one export, runs alternated, --jobs 2.
# usage: bench/dicom/guard_ab.sh BEFORE_BIN AFTER_BIN EXPORT_DIR REPS
# e.g. (binaries from `cargo build --release` at the two commits, copied aside):
#   bench/dicom/guard_ab.sh /tmp/oncometry-before /tmp/oncometry-after /work/bench-data/pipeline-200x3 10
set -eu
declare -A bin=([before]=$1 [after]=$2)
d=$3; n=$4
out=$(mktemp -d); log=$out/time.log; : > "$log"
for i in $(seq "$n"); do for v in before after; do
  /usr/bin/time -a -o "$log" -f "$v %e %U %S %M" "${bin[$v]}" index --jobs 2 "$d" > "$out/$v.json" 2>/dev/null || true
done; done
python3 - "$log" <<'PY'
import sys, statistics as st
rows=[l.split() for l in open(sys.argv[1]) if l.startswith(("before","after"))]
for v in ("before","after"):
    r=[x for x in rows if x[0]==v]
    w=[float(x[1]) for x in r]; u=[float(x[2]) for x in r]; s=[float(x[3]) for x in r]; m=[int(x[4]) for x in r]
    print(f"{v:6} wall median {st.median(w):.3f} s (min {min(w):.3f})  user+sys median {st.median([a+b for a,b in zip(u,s)]):.3f} s  maxrss median {st.median(m)//1024} MB  n={len(r)}")
PY
cmp -s "$out/before.json" "$out/after.json" && echo "index JSON identical" || echo "index JSON differs"
rm -r "$out"
