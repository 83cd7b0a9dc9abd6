#!/usr/bin/env bash
# compare_gemm.sh: accuracy benchmark of the gemm suite against a direct call.
#
# What it is: a check that strata's harness adds nothing to what it measures.
# It builds (under /tmp) a tiny standalone C program that times cblas_dgemm
# itself -- clock_gettime(CLOCK_MONOTONIC) around each call, a few warm-ups,
# median of REPS -- and runs `strata run` on the equivalent plan (gemm, dtype
# float64, m = n = k = N, the same threads, the same warm-ups and repetitions),
# alternating direct, strata, direct, strata ... ROUNDS times so drifts in
# machine load hit both alike.  It prints both GFLOP/s figures (2 N^3 / t) per
# round and the median of the per-round ratios strata / direct; the goal is
# >= 0.98.
# What it is not: a ctest (it takes minutes and needs a quiet machine), or a
# BLAS benchmark in itself.
#
# usage: tests/perf/compare_gemm.sh [path/to/strata]
# env:   N (4096) THREADS (nproc) ROUNDS (3) WARMUP (2) REPS (5) GOAL (0.98)
#        LAUNCH (empty: strata runs as an MPI singleton; e.g. "mpirun -np 1")
# exit:  0 when the median ratio >= GOAL, 4 when below (strata's "threshold
#        not met"), 2 on bad usage, 3 when a step fails.
set -euo pipefail

STRATA=${1:-build/strata}
N=${N:-4096}
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
REPS=${REPS:-5}
GOAL=${GOAL:-0.98}
LAUNCH=${LAUNCH:-}

if [[ ! -x $STRATA ]]; then
	echo "compare_gemm: no strata binary at '$STRATA' (give its path as the first argument)" >&2
	exit 2
fi
for tool in cc pkg-config python3; do
	command -v "$tool" >/dev/null || { echo "compare_gemm: needs $tool" >&2; exit 3; }
done
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}

WORK=$(mktemp -d /tmp/strata-compare-gemm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ---- the direct program --------------------------------------------------------
cat >"$WORK/direct.c" <<'EOF'
/* direct.c: cblas_dgemm n x n x n timed around each call, median GFLOP/s. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: direct N THREADS WARMUP REPS\n");
		return 2;
	}
	const int n = atoi(argv[1]), threads = atoi(argv[2]);
	const int warmup = atoi(argv[3]), reps = atoi(argv[4]);
	const size_t elems = (size_t)n * (size_t)n;
	double *a = aligned_alloc(4096, elems * sizeof(double));
	double *b = aligned_alloc(4096, elems * sizeof(double));
	double *c = aligned_alloc(4096, elems * sizeof(double));
	double *t = malloc((size_t)reps * sizeof(double));
	if (!a || !b || !c || !t || reps < 1)
		return 3;
	unsigned long long s = 12345;
	for (size_t i = 0; i < elems; i++) { /* values in [-1, 1] */
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		a[i] = (double)(s >> 11) / 9007199254740992.0 * 2 - 1;
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (double)(s >> 11) / 9007199254740992.0 * 2 - 1;
		c[i] = 0;
	}
	if (threads > 0)
		openblas_set_num_threads(threads);
	for (int i = 0; i < warmup; i++)
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n,
			    0.0, c, n);
	for (int i = 0; i < reps; i++) {
		double t0 = now_s();
		cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n,
			    0.0, c, n);
		t[i] = now_s() - t0;
	}
	qsort(t, (size_t)reps, sizeof(double), cmp);
	/* GFLOP/s at the median time; for even reps the upper median. */
	printf("%.6f\n", 2.0 * n * (double)n * n / t[reps / 2] / 1e9);
	return 0;
}
EOF
# shellcheck disable=SC2046
cc -O2 -std=gnu11 "$WORK/direct.c" -o "$WORK/direct" $(pkg-config --cflags --libs openblas)

# ---- the equivalent plan -----------------------------------------------------
cat >"$WORK/plan.yaml" <<EOF
name: compare-gemm
run:
  warmup: {iterations: $WARMUP}
  repetitions: {count: $REPS, min_seconds: 0}
cases:
  - suite: gemm
    device: cpu
    dtype: float64
    m: $N
    n: $N
    k: $N
    threads: $THREADS
EOF

strata_gflops() { # results dir -> median GFLOP/s of the one case
	python3 - "$1/results.jsonl" <<'EOF'
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if len(rec) != 1 or rec[0].get("status") != "passed":
    sys.exit("compare_gemm: strata case did not pass: %s" % rec)
print("%.6f" % rec[0]["metrics"]["gflops"]["median"])
EOF
}

echo "compare_gemm: dgemm N=$N threads=$THREADS, $ROUNDS rounds of (direct, strata), each $WARMUP warm-up + $REPS timed calls"
echo "compare_gemm: OpenBLAS $(pkg-config --modversion openblas); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
printf '%-6s %14s %14s %8s\n' round direct_gflops strata_gflops ratio
ratios=()
for ((r = 1; r <= ROUNDS; r++)); do
	direct=$("$WORK/direct" "$N" "$THREADS" "$WARMUP" "$REPS")
	# $LAUNCH is deliberately unquoted: empty, or a launcher with its arguments.
	# shellcheck disable=SC2086
	$LAUNCH "$STRATA" run "$WORK/plan.yaml" -o "$WORK/run$r" >"$WORK/run$r.log" 2>&1 || {
		echo "compare_gemm: strata run failed (round $r):" >&2
		cat "$WORK/run$r.log" >&2
		exit 3
	}
	strata=$(strata_gflops "$WORK/run$r")
	ratio=$(python3 -c "print('%.4f' % ($strata / $direct))")
	ratios+=("$ratio")
	printf '%-6s %14.2f %14.2f %8s\n' "$r" "$direct" "$strata" "$ratio"
done

verdict=$(python3 - "$GOAL" "${ratios[@]}" <<'EOF'
import statistics, sys
goal, ratios = float(sys.argv[1]), [float(x) for x in sys.argv[2:]]
med = statistics.median(ratios)
print("%.4f %s" % (med, "ok" if med >= goal else "below"))
EOF
)
read -r median status <<<"$verdict"
echo "compare_gemm: median ratio strata/direct = $median (goal >= $GOAL): $status"
[[ $status == ok ]] || exit 4
