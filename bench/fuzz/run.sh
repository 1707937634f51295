#!/usr/bin/env bash
# Fuzz every DICOM reader target for a bounded time and print executions per target.
# Not part of CI (fuzzing is open-ended); run it by hand or in a nightly job.
#
#   bench/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      default: 60 s, every target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain for
# `-Zsanitizer=address` (`rustup toolchain install nightly`). Without nightly, set
# FUZZ_TOOLCHAIN=stable: the stable compiler is then told to accept nightly flags with
# RUSTC_BOOTSTRAP=1 (works, but is an escape hatch, not a supported configuration).
# Seeds: *.dcm under fixtures/ (≤ 1 MiB, at most 64, fixtures/dicom first), plus SEED_DIR.
# Crashes land in fuzz/artifacts/<target>/; the script exits 1 if any target found one.
#
# Sanitizer: FUZZ_SANITIZER (default address; `none` builds without ASan: blind to memory
# errors, and on this code base not faster, see RESULTS.md).
# Memory limit: FUZZ_MEM_MB (default 4096) for both -rss_limit_mb and -malloc_limit_mb.
# dicom-parser 0.10.1 reserves an element's *declared* length before reading it, so a
# 1 KB file can ask for up to 4 GiB (fuzz/regressions/README.md); with the libFuzzer
# default (2048) that known upstream issue ends nearly every run within seconds. 4096 MB
# is above the largest length a 32-bit field can declare, so no single such allocation
# stops a run; accumulated RSS still can (bench/fuzz/RESULTS.md): check "Live Heap" in the
# log and re-run the saved input alone before calling an out-of-memory stop a finding.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-60}
[[ $# -gt 0 ]] && shift
cd "$ROOT/fuzz" || exit 2

if [[ "${FUZZ_TOOLCHAIN:-nightly}" == stable ]]; then
    export RUSTC_BOOTSTRAP=1
    CARGO=(cargo +stable)
else
    CARGO=(cargo +nightly)
fi

if [[ $# -gt 0 ]]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <("${CARGO[@]}" fuzz list)
fi

SAN=${FUZZ_SANITIZER:-address}
"${CARGO[@]}" fuzz build -s "$SAN" || exit 2

SEEDS=$(mktemp -d)
trap 'rm -rf "$SEEDS"' EXIT
{
    find "$ROOT/fixtures/dicom" -type f -name '*.dcm' -size -1025k 2>/dev/null | sort
    find "$ROOT/fixtures" -type f -name '*.dcm' -size -1025k -not -path '*/fixtures/dicom/*' \
        2>/dev/null | sort
    [[ -n "${SEED_DIR:-}" ]] && find "$SEED_DIR" -type f -size -1025k | sort
} | head -n 64 | while read -r f; do
    cp "$f" "$SEEDS/$(printf '%s' "$f" | sha1sum | cut -c1-16)"
done

MEM=${FUZZ_MEM_MB:-4096}
status=0
printf '%-18s %12s %8s %10s %8s %8s  %s\n' target executions seconds execs/s corpus crashes stopped-by
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n "$SEEDS"/* "corpus/$t/" 2>/dev/null
    log="artifacts/$t/last-run.log"
    stamp="$SEEDS/.start-$t"   # only artifacts newer than this are this run's findings
    touch "$stamp"
    start=$(date +%s)
    "${CARGO[@]}" fuzz run -s "$SAN" "$t" "corpus/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb="$MEM" -malloc_limit_mb="$MEM" -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    execs=${execs:-0}
    crashes=$(find "artifacts/$t" -type f -newer "$stamp" \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
    corpus=$(find "corpus/$t" -type f | wc -l)
    if grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
        why="out-of-memory: $(grep -o 'out-of-memory ([^)]*)' "$log" | head -1)"
    elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
        why="timeout"
    elif grep -q -e 'ERROR: libFuzzer: deadly signal' -e 'ERROR: AddressSanitizer' "$log"; then
        why="crash: $(grep -m1 -e "panicked at" -e 'ERROR: AddressSanitizer' "$log" | cut -c1-120)"
    elif grep -q 'Done [0-9]* runs' "$log"; then
        why="time limit"
    else
        why="exit $rc (see log)"
    fi
    printf '%-18s %12s %8s %10s %8s %8s  %s\n' "$t" "$execs" "$secs" "$(( execs / (secs > 0 ? secs : 1) ))" "$corpus" "$crashes" "$why"
    if [[ $rc -ne 0 || $crashes -gt 0 ]]; then
        status=1
        echo "  $t: exit $rc, see fuzz/$log" >&2
    fi
done
exit $status
