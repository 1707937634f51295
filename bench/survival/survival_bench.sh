#!/usr/bin/env bash
# Source: copied unchanged from the project research set (shared/bench/survival_bench.sh).
# Performance anchor for survival analysis back-ends, side by side.
#
#   bash survival_bench.sh [N ...]          default: 10000 100000 1000000
#
# For each N it writes a synthetic CSV (seeded; columns time,event,x1,x2,x3,group with times
# in whole days, so ties occur as in clinical data) and times, excluding CSV reading:
#   cox  : Cox PH, Efron ties, 3 covariates (x1 + x2 + x3)
#   km_lr: Kaplan-Meier by group (3 groups, 95% CI) + 3-group log-rank
# in R survival, Python lifelines and PyPI `survival` (Rust core), when each is available.
# Best of REPS runs (default 3; 1 for N >= 1e6). Each run is capped by TIMEOUT_S (default 600).
#
# Our own tool: set RUST_BENCH_CMD to a command taking "cox|km_lr CSV". It is timed as a whole
# (wall clock, includes reading the CSV) unless it prints a line "elapsed_s=<seconds>"
# measuring the analysis only, which is then used instead. Example:
#   RUST_BENCH_CMD="./target/release/recist-surv bench" bash survival_bench.sh
#
# Environment: PYTHON (default: python3; a venv with lifelines, survival, pandas, numpy), RSCRIPT (Rscript),
# WORKDIR (default: a temp dir), REPS, TIMEOUT_S.
set -u
NS=("$@"); [ ${#NS[@]} -eq 0 ] && NS=(10000 100000 1000000)
PYTHON=${PYTHON:-python3}
RSCRIPT=${RSCRIPT:-Rscript}
TIMEOUT_S=${TIMEOUT_S:-600}
WORKDIR=${WORKDIR:-$(mktemp -d -t survbench.XXXXXX)}; mkdir -p "$WORKDIR"
RES="$WORKDIR/results.tsv"
: > "$RES"
echo "workdir: $WORKDIR  python: $PYTHON  cores: $(nproc)" >&2

cat > "$WORKDIR/gen.py" <<'EOF'
import sys, numpy as np
n = int(sys.argv[1]); out = sys.argv[2]
rng = np.random.default_rng(12345 + n)
x1 = rng.normal(size=n); x2 = rng.binomial(1, 0.4, size=n); x3 = rng.uniform(20, 80, size=n)
g = rng.choice(np.array(["PR", "SD", "PD"]), size=n, p=[0.3, 0.5, 0.2])
lp = 0.3 * x1 + 0.5 * x2 + 0.02 * (x3 - 50) + np.where(g == "SD", 0.4, 0.0) + np.where(g == "PD", 1.0, 0.0)
t = 1000.0 * (rng.exponential(size=n) / np.exp(lp)) ** (1 / 1.2)
c = rng.uniform(0, 3000, size=n)
time = np.maximum(1, np.ceil(np.minimum(t, c))).astype(int); event = (t <= c).astype(int)
with open(out, "w") as f:
    f.write("time,event,x1,x2,x3,group\n")
    for row in zip(time, event, np.round(x1, 6), x2, np.round(x3, 4), g):
        f.write("%d,%d,%s,%d,%s,%s\n" % row)
EOF

cat > "$WORKDIR/bench.R" <<'EOF'
suppressPackageStartupMessages(library(survival))
a <- commandArgs(TRUE); task <- a[1]; d <- read.csv(a[2]); reps <- as.integer(a[3])
d$group <- factor(d$group, levels = c("PR", "SD", "PD"))
best <- Inf
for (i in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  if (task == "cox") {
    fit <- coxph(Surv(time, event) ~ x1 + x2 + x3, data = d, ties = "efron")
    chk <- coef(fit)[1]
  } else {
    km <- survfit(Surv(time, event) ~ group, data = d, conf.type = "log-log")
    med <- summary(km)$table[, "median"]
    lr <- survdiff(Surv(time, event) ~ group, data = d)
    chk <- lr$chisq
  }
  best <- min(best, proc.time()[["elapsed"]] - t0)
}
cat(sprintf("elapsed_s=%.6f check=%.10g\n", best, chk))
EOF

cat > "$WORKDIR/bench_lifelines.py" <<'EOF'
import sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
task, path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = pd.read_csv(path)
best = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    if task == "cox":
        cph = CoxPHFitter().fit(d[["time", "event", "x1", "x2", "x3"]], "time", "event")
        chk = cph.params_["x1"]
    else:
        for g, sub in d.groupby("group"):
            kmf = KaplanMeierFitter().fit(sub["time"], sub["event"])
            _ = kmf.confidence_interval_; _ = kmf.median_survival_time_
        chk = multivariate_logrank_test(d["time"], d["group"], d["event"]).test_statistic
    best = min(best, time.perf_counter() - t0)
print("elapsed_s=%.6f check=%.10g" % (best, chk))
EOF

cat > "$WORKDIR/bench_survivalpy.py" <<'EOF'
import sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import survival as sv
task, path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = pd.read_csv(path)
d["group"] = pd.Categorical(d["group"], categories=["PR", "SD", "PD"])
best = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    if task == "cox":
        m = sv.coxph("Surv(time, event) ~ x1 + x2 + x3", data=d, ties="efron")
        chk = m.coefficients[0]
    else:
        km = sv.survfit("Surv(time, event) ~ group", data=d, conf_type="log-log")
        lr = sv.survdiff("Surv(time, event) ~ group", data=d)
        chk = lr.chisq
    best = min(best, time.perf_counter() - t0)
print("elapsed_s=%.6f check=%.10g" % (best, chk))
EOF

run_one() {  # tool task csv reps cmd...
  local tool=$1 task=$2 csv=$3 reps=$4; shift 4
  local t0 t1 out rc el chk
  t0=$(date +%s.%N)
  out=$(timeout "$TIMEOUT_S" "$@" 2>&1); rc=$?
  t1=$(date +%s.%N)
  el=$(printf '%s\n' "$out" | sed -n 's/.*elapsed_s=\([0-9.eE+-]*\).*/\1/p' | tail -1)
  chk=$(printf '%s\n' "$out" | sed -n 's/.*check=\([^ ]*\).*/\1/p' | tail -1)
  if [ $rc -ne 0 ]; then el="FAIL(rc=$rc)"; echo "$tool $task: $(printf '%s' "$out" | tail -3)" >&2
  elif [ -z "$el" ]; then el=$(echo "$t1 - $t0" | bc -l); fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$N" "$task" "$tool" "$el" "${chk:-}" >> "$RES"
}

have_r=0; command -v "$RSCRIPT" >/dev/null && "$RSCRIPT" -e 'library(survival)' >/dev/null 2>&1 && have_r=1
have_ll=0; "$PYTHON" -c 'import lifelines' 2>/dev/null && have_ll=1
have_sv=0; "$PYTHON" -c 'import survival; survival.coxph' 2>/dev/null && have_sv=1

for N in "${NS[@]}"; do
  csv="$WORKDIR/synth_$N.csv"
  [ -f "$csv" ] || "$PYTHON" "$WORKDIR/gen.py" "$N" "$csv"
  reps=${REPS:-3}; [ "$N" -ge 1000000 ] && reps=${REPS:-1}
  for task in cox km_lr; do
    echo "N=$N $task" >&2
    [ $have_r = 1 ] && run_one "R survival" $task "$csv" $reps "$RSCRIPT" "$WORKDIR/bench.R" $task "$csv" $reps
    [ $have_ll = 1 ] && run_one "lifelines" $task "$csv" $reps "$PYTHON" "$WORKDIR/bench_lifelines.py" $task "$csv" $reps
    [ $have_sv = 1 ] && run_one "survival-py (Rust)" $task "$csv" $reps "$PYTHON" "$WORKDIR/bench_survivalpy.py" $task "$csv" $reps
    if [ -n "${RUST_BENCH_CMD:-}" ]; then
      run_one "ours (RUST_BENCH_CMD)" $task "$csv" 1 $RUST_BENCH_CMD $task "$csv"
    fi
  done
done

echo
echo "Seconds (best of reps, analysis only unless noted; 'check' = coef(x1) for cox, log-rank chisq for km_lr):"
"$PYTHON" - "$RES" <<'EOF'
import sys, csv
rows = list(csv.reader(open(sys.argv[1]), delimiter="\t"))
tools = []
for r in rows:
    if r[2] not in tools: tools.append(r[2])
keys = []
for r in rows:
    if (r[0], r[1]) not in keys: keys.append((r[0], r[1]))
cell = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}
w = max(22, *(len(t) + 2 for t in tools))
print("| N | task | " + " | ".join(tools) + " |")
print("|---|---|" + "---|" * len(tools))
for n, task in keys:
    vals = []
    for t in tools:
        v = cell.get((n, task, t), ("-", ""))[0]
        try: v = "%.3f" % float(v)
        except ValueError: pass
        vals.append(v)
    print(f"| {int(n):,} | {task} | " + " | ".join(vals) + " |")
print()
print("checks:")
for n, task in keys:
    print(f"  N={n} {task}: " + ", ".join(f"{t}={cell.get((n, task, t), ('', ''))[1]}" for t in tools))
EOF
