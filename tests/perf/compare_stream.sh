#!/usr/bin/env bash
# compare_stream.sh: accuracy benchmark of strata's membw suite against John
# McCalpin's STREAM (github.com/jeffhammond/STREAM, stream.c v5.10).
#
# What it is: a script a person runs by hand on a quiet node.  It builds STREAM
# from a copy fetched under /tmp (never inside the repository), then alternates
# STREAM and strata (A B A B ...) with the same array size and thread count,
# and prints both Triad (and Copy) figures: STREAM's best rate, strata's best
# and median, and the median over rounds of strata-best / STREAM-best.  Goal:
# ratio >= 0.98.  What it is not: a ctest (timings are too noisy for a pass
# mark on a shared machine), nor a STREAM result under the Run Rules.
#
# Both sides count bytes the same way (STREAM's rule: copy 2 x 8 x N, triad
# 3 x 8 x N) and report decimal units; STREAM prints MB/s (1e6), strata GB/s
# (1e9); this script prints GB/s for both.
#
# Usage: tests/perf/compare_stream.sh [options]
#   -b DIR     strata build directory (default: build); needs DIR/strata
#   -n N       elements per array (default: 16777216 = 128 MiB, 4 x a 32 MiB L3)
#   -t T       OpenMP threads for both (default: nproc)
#   -r R       rounds, each one STREAM run then one strata run (default: 5)
#   -k LIST    strata kernels (default: "triad copy")
#   -x FLAGS   extra flags for the STREAM build, e.g. -x -DTUNED (STREAM's
#              kernels as separate functions; see the note below)
#   -d         driver mode: instead of `strata run`, time strata's kernels with a
#              small standalone driver built under /tmp from kernels/cpu/stream.c
#              (for when the runner is not available)
# Environment:
#   STREAM_C       path of a stream.c to use instead of fetching one
#   STREAM_GITDIR  a git directory of jeffhammond/STREAM to take stream.c from
#   STRATA_LAUNCH  prefix for strata (e.g. "mpirun -np 1"); default none (singleton)
#   CC, CFLAGS_STRATA_DRIVER  compiler and flags of the driver (default: gcc and
#                  the flags of a CMake Release build: -O3 -DNDEBUG -fopenmp -std=gnu11)
#   OMP_PROC_BIND, OMP_PLACES are passed to both sides unchanged.
#
# Note (AMD EPYC Zen 5 VM, gcc 12, 2 threads, 128 MiB arrays): the plain
# `gcc -O3 -fopenmp` STREAM build reported Triad at 57-86 GB/s from run to run
# while its Add ran at 88 and the same binary built with -DTUNED (identical
# inner loops, kernels in functions) gave Triad 84-89; strata's Triad was
# 87-89.  So quote the -DTUNED figure too before calling a gap strata's.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$REPO/build
N=16777216
THREADS=$(nproc)
ROUNDS=5
KERNELS="triad copy"
DRIVER=0
STREAM_EXTRA=
while getopts "b:n:t:r:k:x:dh" opt; do
	case $opt in
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	n) N=$OPTARG ;;
	t) THREADS=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	k) KERNELS=$OPTARG ;;
	x) STREAM_EXTRA=$OPTARG ;;
	d) DRIVER=1 ;;
	h) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d'; exit 0 ;;
	*) exit 2 ;;
	esac
done

read -r -a KLIST <<<"$KERNELS"
NTIMES=20 # STREAM's repetitions; strata gets the same count
WORK=/tmp/strata-compare-stream
mkdir -p "$WORK"
export OMP_NUM_THREADS=$THREADS

# ---- STREAM: fetch (under /tmp) and build ------------------------------------
SRC=$WORK/STREAM/stream.c
if [[ -n ${STREAM_C:-} ]]; then
	SRC=$STREAM_C
elif [[ ! -s $SRC ]]; then
	mkdir -p "$WORK/STREAM"
	if [[ -n ${STREAM_GITDIR:-} ]]; then
		git --git-dir="$STREAM_GITDIR" show HEAD:stream.c >"$SRC"
	else
		rm -rf "$WORK/STREAM"
		git clone --depth 1 https://github.com/jeffhammond/STREAM "$WORK/STREAM"
	fi
fi
STREAM_BIN=$WORK/stream_c.$N$(tr -c 'A-Za-z0-9=_\n-' _ <<<"$STREAM_EXTRA")
if [[ ! -x $STREAM_BIN || $SRC -nt $STREAM_BIN ]]; then
	# shellcheck disable=SC2086 # STREAM_EXTRA is a list of flags
	gcc -O3 -fopenmp -DSTREAM_ARRAY_SIZE="$N" -DNTIMES=$NTIMES $STREAM_EXTRA "$SRC" -o "$STREAM_BIN"
fi

# ---- strata: the runner, or the standalone driver ----------------------------
ARRAY_BYTES=$((N * 8))
if ((DRIVER)); then
	DRV_SRC=$WORK/strata_stream_driver.c
	cat >"$DRV_SRC" <<'EOF'
/* Standalone timing driver for kernels/cpu/stream.c (compare_stream.sh -d).
 * Times each kernel like the runner would (fresh arrays, 2 warm-up calls, then
 * REPS timed calls), prints best and median GB/s by STREAM's byte count, and
 * checks every element afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels/cpu/stream.h"
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}
int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	size_t n = strtoull(argv[1], NULL, 10);
	int threads = atoi(argv[2]), reps = atoi(argv[3]);
	if (reps < 1 || reps > 1000)
		return 2;
	for (int i = 4; i < argc; i++) {
		/* Fresh arrays per kernel, as each strata case sets up its own:
		 * a kernel is only idempotent given the initial inputs. */
		struct strata_stream s;
		char err[256];
		if (strata_stream_init(&s, n, threads, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		enum strata_stream_kernel k = STRATA_STREAM_NKERNELS;
		for (int j = 0; j < STRATA_STREAM_NKERNELS; j++)
			if (!strcmp(argv[i], strata_stream_kernel_name(j)))
				k = j;
		double t[1000];
		for (int r = 0; r < 2; r++)
			strata_stream_run(&s, k);
		for (int r = 0; r < reps; r++) {
			double t0 = now_s();
			strata_stream_run(&s, k);
			t[r] = now_s() - t0;
		}
		qsort(t, reps, sizeof(double), cmp);
		double bytes = (double)strata_stream_bytes(k, n);
		long long wrong = (long long)strata_stream_check(&s, k, NULL);
		printf("%s best_gbps %.4f median_gbps %.4f wrong %lld\n", argv[i],
		       bytes / t[0] / 1e9, bytes / t[reps / 2] / 1e9, wrong);
		strata_stream_release(&s);
	}
	return 0;
}
EOF
	DRV_BIN=$WORK/strata_stream_driver
	read -r -a DRV_FLAGS <<<"${CFLAGS_STRATA_DRIVER:--O3 -DNDEBUG -fopenmp -std=gnu11}"
	"${CC:-gcc}" "${DRV_FLAGS[@]}" -I"$REPO" \
		"$DRV_SRC" "$REPO/kernels/cpu/stream.c" -lm -o "$DRV_BIN"
else
	STRATA=$BUILD/strata
	[[ -x $STRATA ]] || { echo "no $STRATA; build first or use -d" >&2; exit 1; }
	PLAN=$WORK/plan.yaml
	kernel_list=$(printf '%s, ' "${KLIST[@]}")
	kernel_list=${kernel_list%, }
	cat >"$PLAN" <<EOF
name: compare-stream
run:
  warmup: {iterations: 2}
  repetitions: {count: $NTIMES, min_seconds: 0}
cases:
  - suite: membw
    device: cpu
    kernel: [$kernel_list]
    array_bytes: $ARRAY_BYTES
    threads: $THREADS
EOF
fi

# ---- alternate A B A B ... ------------------------------------------------------
echo "STREAM: $SRC ${STREAM_EXTRA:+($STREAM_EXTRA) }N=$N ($((ARRAY_BYTES / 1048576)) MiB per array), NTIMES=$NTIMES"
echo "threads=$THREADS OMP_PROC_BIND=${OMP_PROC_BIND:-unset} OMP_PLACES=${OMP_PLACES:-unset}" \
	"strata=$( ((DRIVER)) && echo "standalone driver (-d)" || echo "$BUILD/strata run")"
TABLE=$WORK/rounds.tsv
: >"$TABLE"
for ((r = 1; r <= ROUNDS; r++)); do
	out=$("$STREAM_BIN")
	grep -q "Solution Validates" <<<"$out" || { echo "STREAM did not validate:" >&2; echo "$out" >&2; exit 1; }
	for k in "${KLIST[@]}"; do
		label=$(tr '[:lower:]' '[:upper:]' <<<"${k:0:1}")${k:1}
		mbps=$(awk -v l="$label:" '$1 == l { print $2 }' <<<"$out")
		printf "%d\tstream\t%s\t%s\t%s\n" "$r" "$k" "$(awk -v m="$mbps" 'BEGIN{print m/1000}')" "-" >>"$TABLE"
	done
	if ((DRIVER)); then
		"$DRV_BIN" "$N" "$THREADS" "$NTIMES" "${KLIST[@]}" | while read -r k _ best _ med _ wrong; do
			[[ $wrong == 0 ]] || { echo "strata driver: $k has $wrong wrong elements" >&2; exit 1; }
			printf "%d\tstrata\t%s\t%s\t%s\n" "$r" "$k" "$best" "$med" >>"$TABLE"
		done
	else
		dir=$WORK/run.$r
		rm -rf "$dir"
		${STRATA_LAUNCH:-} "$STRATA" run "$PLAN" -o "$dir" >"$WORK/strata.$r.log" 2>&1 ||
			{ echo "strata run failed, see $WORK/strata.$r.log" >&2; exit 1; }
		python3 - "$dir/results.jsonl" "$r" >>"$TABLE" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    rec = json.loads(line)
    if rec.get("suite") != "membw":
        continue
    if rec.get("status") != "passed":
        sys.exit("strata case %s: %s" % (rec.get("metric_key"), rec.get("status")))
    bw = rec["metrics"]["bandwidth"]
    print("%s\tstrata\t%s\t%.4f\t%.4f" % (sys.argv[2], rec["params"]["kernel"], bw["best"], bw["median"]))
EOF
	fi
	awk -F'\t' -v r="$r" '$1 == r { printf "round %s  %-6s %-6s best %8.3f GB/s  median %s\n", $1, $2, $3, $4, $5 }' "$TABLE"
done

# ---- summary: medians over rounds ---------------------------------------------------
python3 - "$TABLE" "${KLIST[@]}" <<'EOF'
import statistics as st, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("\nmedian over %d rounds (GB/s, 1e9 bytes; STREAM byte counting on both sides)"
      % len({r[0] for r in rows}))
for k in sys.argv[2:]:
    s_best = {r[0]: float(r[3]) for r in rows if r[1] == "stream" and r[2] == k}
    t_best = {r[0]: float(r[3]) for r in rows if r[1] == "strata" and r[2] == k}
    t_med = {r[0]: float(r[4]) for r in rows if r[1] == "strata" and r[2] == k}
    ratios = [t_best[r] / s_best[r] for r in s_best if r in t_best]
    ratios_med = [t_med[r] / s_best[r] for r in s_best if r in t_med]
    print("%-6s STREAM best %8.3f | strata best %8.3f median %8.3f | ratio best/best %.3f"
          " (median/best %.3f) %s"
          % (k, st.median(s_best.values()), st.median(t_best.values()),
             st.median(t_med.values()), st.median(ratios), st.median(ratios_med),
             "ok (>= 0.98)" if st.median(ratios) >= 0.98 else "BELOW 0.98"))
EOF
