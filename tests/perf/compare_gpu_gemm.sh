#!/usr/bin/env bash
# compare_gpu_gemm.sh: strata's gemm suite (device cuda) against the same
# cuBLASLt call timed alone by tests/perf/cublaslt_alone.c, and against the
# datasheet peak.  Needs a GPU; run by hand (or through the device tool).
#
# What it is: for each dtype (default bfloat16 and float8_e4m3, 8192^3, FP8 in
# the TN layout cuBLASLt requires), R rounds alternating the standalone
# program (median TFLOP/s of its reps) and `strata run` of a one-case plan
# (the record's median tflops), then the median over rounds of strata /
# standalone.  Goal: >= 0.97.  Also prints strata's peak_fraction (the peak
# from kernels/gpu/gpu_peak.c).  What it is not: a ctest.
#
# Usage: tests/perf/compare_gpu_gemm.sh [-b BUILD] [-r ROUNDS] [-s SIZE] [-t "DTYPES"]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$REPO/build
ROUNDS=3
SIZE=8192
DTYPES="bfloat16 float8_e4m3"
while getopts "b:r:s:t:h" opt; do
	case $opt in
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	r) ROUNDS=$OPTARG ;;
	s) SIZE=$OPTARG ;;
	t) DTYPES=$OPTARG ;;
	h) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d'; exit 0 ;;
	*) exit 2 ;;
	esac
done
CUDA=${CUDA_HOME:-/usr/local/cuda}
WORK=/tmp/strata-compare-gpu-gemm
mkdir -p "$WORK"
gcc -O2 -std=gnu11 -I"$CUDA/include" "$REPO/tests/perf/cublaslt_alone.c" -L"$CUDA/lib64" \
	-lcublasLt -lcublas -lcudart -lm -o "$WORK/cublaslt_alone"
export LD_LIBRARY_PATH=$CUDA/lib64:${LD_LIBRARY_PATH:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for dt in $DTYPES; do
	ta=0
	[[ $dt == float8_e4m3 ]] && ta=1
	tayaml=$([[ $ta == 1 ]] && echo yes || echo no)
	cat >"$WORK/plan.yaml" <<YAML
name: gemm-alone-vs-strata
run: {warmup: {iterations: 3}, repetitions: {count: 10, min_seconds: 1.0}, timeout_s: 600}
cases:
  - {suite: gemm, device: cuda, dtype: $dt, m: $SIZE, n: $SIZE, k: $SIZE, transa: $tayaml, algos: 8}
variants:
  - {label: perf, env: {STRATA_GPU_COOL_TIMEOUT_S: "10"}}
YAML
	: >"$WORK/ratios"
	for r in $(seq 1 "$ROUNDS"); do
		alone=$("$WORK/cublaslt_alone" "$dt" "$SIZE" "$SIZE" "$SIZE" "$ta" 0 50 5 8 |
			awk '/^median_tflops/ {print $2}')
		rm -rf "$WORK/run"
		"$BUILD/strata" run "$WORK/plan.yaml" -o "$WORK/run" >/dev/null
		read -r strata frac <<<"$(/usr/bin/python3 - "$WORK/run/results.jsonl" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["status"] == "passed", (r["status"], r.get("reason"))
m = r["metrics"]
print(m["tflops"]["median"], m.get("peak_fraction", {}).get("median", float("nan")))
PY
)"
		echo "$dt round $r: standalone $alone TFLOP/s, strata $strata TFLOP/s, strata/peak $frac"
		awk -v a="$alone" -v s="$strata" 'BEGIN {print s / a}' >>"$WORK/ratios"
	done
	echo "$dt ${SIZE}^3: median strata/standalone = $(median <"$WORK/ratios") (goal >= 0.97)"
done
