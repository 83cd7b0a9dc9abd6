#!/usr/bin/env bash
# The infer suite's device-cuda path (suites/infer.c over kernels/cuda/
# gpt_cuda.h's BF16 key/value cache) run by `strata run` under mpirun -np 2
# on the host stand-in of CUDA (strata_mock_cuda: tests/mock_cuda/): every
# scenario passes with backend cuda, each rank on its own "GPU", the output
# check (batch 1 against a full batch) ran with BF16's tolerances, figures
# are present, the accelerators are priced; two ranks on one visible "GPU"
# still run (they share it).  (No visible device, the skip, is
# test_infer_mpi's: the real runtime on a machine without a GPU.)
# $1 = strata_mock_cuda, $2 = source dir (tests/integration/lib.sh).
source "$2/tests/integration/lib.sh" "$1" "$2"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MOCK_CUDA_DEVICES=2
export STRATA_GPU_COOL_TIMEOUT_S=0
mpirun_x() { mpirun_n 2 -x MOCK_CUDA_DEVICES -x STRATA_GPU_COOL_TIMEOUT_S "$@"; }

cat >"$WORK/infer.yaml" <<YAML
name: infer-cuda-mock
run:
  warmup: {iterations: 1}
  repetitions: {count: 2, min_seconds: 0}
  timeout_s: 200
cases:
  - suite: infer
    device: cuda
    model: tiny
    layers: 2
    vocab: 100
    scenario: [single_stream, server, offline]
    threads: 1
    max_batch: 4
    prompt_len: "4..12"
    output_len: "4,8"
    ttft_bound_ms: 2000   # generous: the test is of the cuda path, and ASan on a busy machine is slow
    tpot_bound_ms: 500
    percentile: 0.9
    min_duration_s: 0.2
    min_queries: 50
    max_duration_s: 10
    search_tolerance: 0.2
    price_accelerator_hour: 2.0
YAML
expect_exit 0 mpirun_x "$STRATA" run "$WORK/infer.yaml" -o "$WORK/run"
/usr/bin/python3 - "$WORK/run/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["params"]["scenario"] for r in recs] == ["single_stream", "server", "offline"], recs
for r in recs:
    k, m, d = r["metric_key"], r["metrics"], r["details"]
    assert r["status"] == "passed", (k, r.get("reason"))
    assert r["backend"] == "cuda", r["backend"]
    assert d["device"].startswith("NVIDIA H100 80GB HBM3") and "CUDA 0" in d["device"], d["device"]
    oc = d["output_check"]
    assert oc["mismatches"] == 0 and oc["compared"] >= 1, oc
    assert oc["tie_tolerance"] == 0.1 and oc["logit_tolerance"] == 0.5, oc
    assert d["runs"]["timed"] == 2 and d["totals"]["completed"] > 0, d["runs"]
    assert d["cost"]["accelerators"] == 2, d["cost"]
    assert m["cost_per_1k"]["median"] > 0, m
    assert all(p["completed"] > 0 for p in d["per_rank"]), d["per_rank"]
assert recs[1]["metrics"]["max_valid_rate"]["median"] > 0, recs[1]["metrics"]
print("infer on the CUDA stand-in:", ", ".join("%s passed" % r["params"]["scenario"] for r in recs))
PY

# One visible "GPU" for two ranks: both replicas share it (local rank
# modulo the devices, as gemm and membw choose) and still pass.
cat >"$WORK/one.yaml" <<YAML
name: infer-cuda-one
run: {warmup: {iterations: 0}, repetitions: {count: 2, min_seconds: 0}}
cases:
  - suite: infer
    device: cuda
    model: tiny
    layers: 1
    vocab: 64
    scenario: offline
    threads: 1
    max_batch: 2
    prompt_len: "4"
    output_len: "4"
    min_duration_s: 0
    min_queries: 8
YAML
MOCK_CUDA_DEVICES=1 expect_exit 0 mpirun_x "$STRATA" run "$WORK/one.yaml" -o "$WORK/one"
grep -q '"status":"passed"' "$WORK/one/results.jsonl" || die "two ranks on one GPU did not pass"
echo PASS
