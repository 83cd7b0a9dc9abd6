#!/usr/bin/env bash
# Odd and larger rank counts through the real runner: every collective and
# the p2p all-pairs pattern at 3 and 4 ranks (oversubscribed), every record
# validated; the p2p pair matrix covers every pair of ranks.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/ranks.yaml" <<'YAML'
name: ranks
run: {warmup: {iterations: 1}, repetitions: {count: 3}}
cases:
  - suite: allreduce
    dtype: [float, double]
    inplace: [false, true]
    size: [8, 100, 64K]
  - {suite: allgather, inplace: [false, true], size: [48, 64K]}
  - {suite: reduce_scatter, inplace: [false, true], size: [48, 64K]}
  - {suite: broadcast, root: 1, size: [8, 64K]}
  - {suite: alltoall, inplace: [false, true], size: [48, 64K]}
  - {suite: p2p, mode: [latency, bandwidth], size: 4K, window: 8, pattern: all-pairs}
  - {suite: membw, kernel: triad, array_bytes: 8M, threads: 1}
  - {suite: gemm, m: 64, n: 64, k: 64, threads: 1}
YAML

for np in 3 4; do
  expect_exit 0 mpirun_n "$np" "$STRATA" run "$WORK/ranks.yaml" -o "$WORK/np$np"
  $CHECK "$WORK/np$np"
  /usr/bin/python3 - "$WORK/np$np" "$np" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for r in map(json.loads, open(d + "/results.jsonl")):
    assert r["ranks"] == n and len(r["per_rank"]) == n, r["metric_key"]
    if r["suite"] == "p2p":
        m = r["details"]["pair_matrix"]
        assert len(m) == n and all(len(row) == n for row in m), m
        for i in range(n):
            for j in range(n):
                if i != j:
                    assert m[i][j] is not None and m[i][j] > 0, (i, j, m)
    if r["suite"] == "allreduce":
        f = r["details"]["busbw_factor"]
        assert abs(f - 2 * (n - 1) / n) < 1e-12, f
print("np=%d ok" % n)
PY
done
echo "PASS"
