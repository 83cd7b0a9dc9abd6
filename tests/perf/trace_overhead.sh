#!/usr/bin/env bash
# trace_overhead.sh: what tracing costs, measured two ways on the same cases.
#
# What it is: a script a person runs by hand on a quiet node.  It alternates
# runs of one plan with tracing on and off (A B A B ...), then prints per case
#   traced pass    the median over traced runs of the record's
#                  trace.overhead_pct: the traced pass (a span per repetition
#                  and per runner MPI call, CUPTI on for GPU cases) against the
#                  same case's untraced timed repetitions, same process, same
#                  state (goal for a large GEMM on a GPU: under 3%)
#   instrumented   the median over rounds of the ratio of the record's median
#                  time, trace-on run / trace-off run: what merely having
#                  tracing enabled costs the timed repetitions (goal: 1.00)
# What it is not: a ctest (timings on a shared machine are too noisy for a
# pass mark).
#
# Usage: tests/perf/trace_overhead.sh [-b BUILD_DIR] [-r ROUNDS] [-n RANKS] [-p PLAN]
#   default plan: a small CPU set (8-byte and 1 MiB allreduce, a 512^3 dgemm,
#   a 64 MiB triad, a 100 us sleep), 100 repetitions, 100 traced.  A plan given
#   with -p must not set run.trace itself; the script sets it per round.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build" rounds=5 ranks=2 plan=""
while getopts "b:r:n:p:" o; do
  case "$o" in
    b) build="$OPTARG";; r) rounds="$OPTARG";; n) ranks="$OPTARG";; p) plan="$OPTARG";;
    *) sed -n '2,22p' "$0"; exit 2;;
  esac
done
source "$here/../../scripts/env.sh"
work="$(mktemp -d /tmp/strata-trace-ovh-XXXXXX)"
trap 'rm -rf "$work"' EXIT
body() {
  if [ -n "$plan" ]; then sed -n '/^cases:/,$p' "$plan"; else cat <<'YAML'
cases:
  - {suite: allreduce, size: [8, 1M]}
  - {suite: gemm, dtype: float64, m: 512, n: 512, k: 512, threads: 1}
  - {suite: membw, kernel: triad, array_bytes: 64M, threads: 1}
  - {suite: null, sleep_us: 100}
YAML
  fi
}
for t in on off; do
  enabled=$([ "$t" = on ] && echo true || echo false)
  { echo "name: trace-overhead-$t"
    echo "run: {warmup: {iterations: 5}, repetitions: {count: 100}, trace: {enabled: $enabled, max_repetitions: 100}}"
    body; } >"$work/$t.yaml"
done
for r in $(seq 1 "$rounds"); do
  for t in on off; do
    mpirun -np "$ranks" "$build/strata" run "$work/$t.yaml" -o "$work/$t-$r" >/dev/null
  done
done
/usr/bin/python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def load(t, r):
    return {json.loads(l)["metric_key"]: json.loads(l) for l in open("%s/%s-%d/results.jsonl" % (work, t, r))}
on = [load("on", r) for r in range(1, rounds + 1)]
off = [load("off", r) for r in range(1, rounds + 1)]
print("%-70s %14s %14s" % ("case", "traced pass", "instrumented"))
for key in on[0]:
    ovh = [run[key]["trace"]["overhead_pct"] for run in on if "overhead_pct" in run[key].get("trace", {})]
    ratio = [a[key]["stats"]["median"] / b[key]["stats"]["median"] for a, b in zip(on, off)
             if "stats" in a[key] and "stats" in b[key]]
    print("%-70s %+13.2f%% %14.3f" % (key[:70], statistics.median(ovh) if ovh else float("nan"),
                                      statistics.median(ratio) if ratio else float("nan")))
PY
