#!/usr/bin/env bash
# compare_babelstream.sh: strata's membw suite (device cuda, kernel triad and
# copy) against BabelStream's CUDA build (UoB-HPC/BabelStream) on the same
# GPU and array size.  Needs a GPU and a BabelStream source tree (the GPU
# machine has no network: copy one there; it is built under /tmp, never in
# the repository).
#
# What it is: R rounds alternating BabelStream (`cuda-stream --arraysize N
# --numtimes 100`, its best Triad/Copy MB/s) and `strata run` of a plan with
# the same array size (strata's median and best GB/s); then the median over
# rounds of strata-best / BabelStream-best.  Goal: >= 0.90.  Both count bytes
# as STREAM (triad 3 x 8 x N, copy 2 x 8 x N), decimal units.
# What it is not: a ctest.
#
# Usage: BABELSTREAM_SRC=/path/to/BabelStream tests/perf/compare_babelstream.sh \
#          [-b BUILD] [-n ELEMENTS] [-r ROUNDS] [-a SM_ARCH]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$REPO/build
N=$((1 << 27)) # 1 GiB per array, 20 x an H100's 50 MB L2
ROUNDS=3
ARCH=sm_90
while getopts "b:n:r:a:h" opt; do
	case $opt in
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	n) N=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	a) ARCH=$OPTARG ;;
	h) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d'; exit 0 ;;
	*) exit 2 ;;
	esac
done
: "${BABELSTREAM_SRC:?set BABELSTREAM_SRC to a BabelStream source tree}"
CUDA=${CUDA_HOME:-/usr/local/cuda}
WORK=/tmp/strata-compare-babelstream
mkdir -p "$WORK"
if [[ ! -x $WORK/build/cuda-stream ]]; then
	cmake -S "$BABELSTREAM_SRC" -B "$WORK/build" -DMODEL=cuda -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_CUDA_COMPILER="$CUDA/bin/nvcc" -DCUDA_ARCH="$ARCH" >/dev/null
	cmake --build "$WORK/build" -j"$(nproc)" >/dev/null
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

cat >"$WORK/plan.yaml" <<YAML
name: stream-vs-babelstream
run: {warmup: {iterations: 3}, repetitions: {count: 20, min_seconds: 1.0}, timeout_s: 600}
cases:
  - {suite: membw, device: cuda, kernel: [copy, triad], array_bytes: $((N * 8))}
variants:
  - {label: perf, env: {STRATA_GPU_COOL_TIMEOUT_S: "10"}}
YAML
: >"$WORK/ratios"
for r in $(seq 1 "$ROUNDS"); do
	"$WORK/build/cuda-stream" --arraysize "$N" --numtimes 100 >"$WORK/bs.txt"
	bs_triad=$(awk '/^Triad/ {print $2 / 1000}' "$WORK/bs.txt")  # MB/s -> GB/s
	bs_copy=$(awk '/^Copy/ {print $2 / 1000}' "$WORK/bs.txt")
	rm -rf "$WORK/run"
	"$BUILD/strata" run "$WORK/plan.yaml" -o "$WORK/run" >/dev/null
	read -r st_copy st_triad st_triad_med <<<"$(/usr/bin/python3 - "$WORK/run/results.jsonl" <<'PY'
import json, sys
by = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["status"] == "passed", (r["metric_key"], r.get("reason"))
    by[r["params"]["kernel"]] = r["metrics"]["bandwidth"]
print(by["copy"]["best"], by["triad"]["best"], by["triad"]["median"])
PY
)"
	echo "round $r: Triad BabelStream $bs_triad GB/s, strata best $st_triad (median $st_triad_med); Copy BabelStream $bs_copy, strata $st_copy"
	awk -v a="$bs_triad" -v s="$st_triad" 'BEGIN {print s / a}' >>"$WORK/ratios"
done
echo "Triad, $N doubles per array: median strata/BabelStream = $(median <"$WORK/ratios") (goal >= 0.90)"
