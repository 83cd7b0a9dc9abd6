#!/usr/bin/env bash
# The train suite with device cuda (suites/train_gpu.c) on whatever this
# machine has, on 1 rank and on 2: each case either trains (one GPU per rank:
# passed, BF16, ranks agree on their weights, the loss goes down, the
# breakdown has host_to_device) or is skipped saying why (no driver, no
# device, a build without CUDA or NCCL, fewer GPUs than ranks) before any
# data is written; never an error.  Without a GPU this checks the skip; with
# one it is a first end-to-end check of the real backend (the host stand-in
# of tests/mock_cuda/train_suite.sh checks the same path without a GPU).
source "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 STRATA_GPU_COOL_TIMEOUT_S=0

DATA="$WORK/data"
mkdir -p "$DATA"
cat >"$WORK/cuda.yaml" <<YAML
name: train-cuda
run:
  warmup: {iterations: 2}
  repetitions: {count: 10, min_seconds: 0}
  timeout_s: 300
cases:
  - suite: train
    device: cuda
    model: tiny
    seq: 32
    batch: 4
    train_tokens: 16384
    val_tokens: 2048
    bucket: 16K
    check_every: 3
    dir: $DATA
YAML
for np in 1 2; do
  expect_exit 0 mpirun_n "$np" -x STRATA_GPU_COOL_TIMEOUT_S "$STRATA" run "$WORK/cuda.yaml" -o "$WORK/cuda-$np"
  [ -z "$(ls -A "$DATA")" ] || die "work directory left behind: $(ls -A "$DATA")"
  /usr/bin/python3 - "$WORK/cuda-$np/results.jsonl" "$np" <<'PY'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r.get("type") == "case"]
assert len(recs) == 1, recs
r = recs[0]
np = int(sys.argv[2])
if r["status"] == "skipped":
    why = r["reason"]
    assert re.search(r"train: (no CUDA (device|driver)|device cuda: strata was built without CUDA"
                     r"|device cuda on \d+ ranks: strata was built without NCCL"
                     r"|\d+ training ranks on this host but \d+ visible GPU)", why), why
    print("%d rank(s): skipped: %s" % (np, why))
    sys.exit(0)
assert r["status"] == "passed", (r["status"], r.get("reason"))
d = r["details"]
assert d["model"]["precision"] == "bf16 compute, fp32 master weights", d["model"]
assert d["weight_checks"]["mismatches"] == 0 and d["weight_checks"]["checks"] >= 3, d["weight_checks"]
assert d["train_loss"]["last"] < d["train_loss"]["first"], d["train_loss"]
assert "host_to_device" in d["step_breakdown_s"], d["step_breakdown_s"]
assert d["batch"]["ranks"] == np and d["nccl"]["ranks"] == np, (d["batch"], d["nccl"])
assert d["gpu_memory"]["model_bytes"] == d["gpu_memory"]["model_bytes_estimate"], d["gpu_memory"]
print("%d rank(s): trained on %s at %.0f tokens/s" % (np, d["gpu"]["name"],
      r["metrics"]["tokens_per_s"]["median"]))
PY
done
echo "PASS"
