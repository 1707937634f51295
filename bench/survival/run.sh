#!/usr/bin/env bash
# Side-by-side survival benchmark: R survival, lifelines, PyPI `survival` and oncometry, one run.
#   bash bench/survival/run.sh [N ...]        (default 10000 100000 1000000)
# Needs: a release build (cargo build --release), Rscript with survival
# (apt-get install r-base-core r-cran-survival) and a venv with lifelines, survival, pandas,
# numpy, scipy (default /work/venvs/survival; override with PYTHON=...).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/target/release/oncometry"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
export PYTHON=${PYTHON:-/work/venvs/survival/bin/python}
export RUST_BENCH_CMD="$bin survival bench"
exec bash "$here/survival_bench.sh" "$@"
