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
# Seeds: every *.dcm under fixtures/ (≤ 1 MiB, at most 64), plus SEED_DIR if set.
# Crashes land in fuzz/artifacts/<target>/; the script exits 1 if any target found one.
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

"${CARGO[@]}" fuzz build || exit 2

SEEDS=$(mktemp -d)
trap 'rm -rf "$SEEDS"' EXIT
{
    find "$ROOT/fixtures" -type f -name '*.dcm' -size -1025k 2>/dev/null
    [[ -n "${SEED_DIR:-}" ]] && find "$SEED_DIR" -type f -size -1025k
} | sort | head -n 64 | while read -r f; do
    cp "$f" "$SEEDS/$(printf '%s' "$f" | sha1sum | cut -c1-16)"
done

status=0
printf '%-18s %12s %8s %10s %8s %8s\n' target executions seconds execs/s corpus crashes
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n "$SEEDS"/* "corpus/$t/" 2>/dev/null
    log="artifacts/$t/last-run.log"
    start=$(date +%s)
    "${CARGO[@]}" fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    execs=${execs:-0}
    crashes=$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
    corpus=$(find "corpus/$t" -type f | wc -l)
    printf '%-18s %12s %8s %10s %8s %8s\n' "$t" "$execs" "$secs" "$(( execs / (secs > 0 ? secs : 1) ))" "$corpus" "$crashes"
    if [[ $rc -ne 0 || $crashes -gt 0 ]]; then
        status=1
        echo "  $t: exit $rc, see fuzz/$log" >&2
    fi
done
exit $status
