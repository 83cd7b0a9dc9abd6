#!/usr/bin/env bash
# The train suite's device-cuda path (suites/train_gpu.c, kernels/cuda/
# gpt_cuda.c, train_cuda.c) run by `strata run` under mpirun -np 2 on the
# host stand-in of CUDA and NCCL (strata_mock_cuda: tests/mock_cuda/):
#  1. throughput, a tiny model (3 layers, vocabulary 100: padded logits
#     rows), on 1 rank then 2 ("GPUs" 0 and 1): passed,
#     ranks agree on their weights at every check, NCCL buckets sent, the
#     breakdown has host_to_device, the record says BF16 and NCCL, the model's
#     device memory equals the setup's estimate, a checkpoint is written;
#  2. time to train on cuda: runs converge to the target;
#  3. ranks that drift apart (the test-only fault) fail the case;
#  4. two ranks on one visible "GPU" are skipped with the reason;
#  5. two ranks that each see only their own "GPU" train.
# $1 = strata_mock_cuda, $2 = source dir (tests/integration/lib.sh).
source "$2/tests/integration/lib.sh" "$1" "$2"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MOCK_CUDA_DEVICES=2
export STRATA_GPU_COOL_TIMEOUT_S=0
mpirun_x() { mpirun_n 2 -x MOCK_CUDA_DEVICES -x STRATA_GPU_COOL_TIMEOUT_S "$@"; }

DATA="$WORK/data"
mkdir -p "$DATA"
cat >"$WORK/tp.yaml" <<YAML
name: train-cuda-mock
run:
  warmup: {iterations: 2}
  repetitions: {count: 8, min_seconds: 0}
  timeout_s: 200
cases:
  - suite: train
    device: cuda
    model: tiny
    layers: 3
    vocab: 100
    seq: 16
    batch: 4
    train_tokens: 16384
    val_tokens: 1024
    ranks: [1, 0]
    bucket: 16K
    check_every: 3
    peak_gflops: 10
    dir: $DATA
    checkpoint: $WORK/ckpt.bin
YAML
expect_exit 0 mpirun_x "$STRATA" run "$WORK/tp.yaml" -o "$WORK/tp"
[ -z "$(ls -A "$DATA")" ] || die "work directory left behind: $(ls -A "$DATA")"
/usr/bin/python3 - "$WORK/tp/results.jsonl" "$WORK/ckpt.bin" <<'PY'
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r.get("type") == "case"]
assert len(recs) == 2, [r.get("reason") for r in recs]
for r in recs:
    assert r["status"] == "passed", (r["status"], r.get("reason"))
    assert r["backend"] == "cuda", r["backend"]
    m, d = r["metrics"], r["details"]
    for k in ("tokens_per_s", "tokens_per_s_per_rank", "samples_per_s", "mfu"):
        assert m[k]["median"] > 0, (k, m)
    assert d["model"]["precision"] == "bf16 compute, fp32 master weights", d["model"]
    assert d["allreduce"]["backend"].startswith("NCCL"), d["allreduce"]
    wc = d["weight_checks"]
    assert wc["checks"] >= 3 and wc["mismatches"] == 0, wc
    br = d["step_breakdown_s"]
    assert "host_to_device" in br and br["host_to_device"] >= 0, br
    parts = sum(br[k] for k in ("data_wait", "host_to_device", "forward", "backward",
                                "allreduce_exposed", "optimizer"))
    assert 0.5 * br["step"] <= parts <= 1.5 * br["step"], br
    gm = d["gpu_memory"]
    assert gm["model_bytes"] == gm["model_bytes_estimate"] > 0, gm
    assert d["memory"]["gpu_used_peak_bytes_max_rank"] >= gm["model_bytes"], d["memory"]
    assert d["gpu"]["name"] == "NVIDIA H100 80GB HBM3" and d["gpu"]["compute_capability"] == "9.0", d["gpu"]
    assert d["nccl"]["ranks"] == d["batch"]["ranks"], d["nccl"]
    assert d["mfu_peak"]["source"].startswith("plan"), d["mfu_peak"]
    assert d["train_loss"]["last"] < d["train_loss"]["first"], d["train_loss"]
    assert d["allreduce"]["buckets_per_step"] >= 2, d["allreduce"]
    gn = d["grad_norm"]
    assert gn["last_step"] > 0 and gn["check_host"] > 0, gn
    assert abs(gn["check_device"] - gn["check_host"]) <= 1e-9 * gn["check_host"], gn
one, two = recs
assert one["details"]["batch"]["ranks"] == 1 and two["details"]["batch"]["ranks"] == 2
assert two["details"]["allreduce"]["alone_s"] >= 0
assert "scaling_efficiency" in two["metrics"], two["metrics"].keys()
# the checkpoint: the 64-byte header, then the FP32 parameters
n = two["details"]["model"]["parameters"]
assert os.path.getsize(sys.argv[2]) == 64 + 4 * n, (os.path.getsize(sys.argv[2]), n)
assert open(sys.argv[2], "rb").read(8) == b"STRATGPT"
print("cuda (mock) throughput ok: %.0f tok/s on 2 ranks, loss %.3f -> %.3f" % (
    two["metrics"]["tokens_per_s"]["median"], two["details"]["train_loss"]["first"],
    two["details"]["train_loss"]["last"]))
PY

cat >"$WORK/ttt.yaml" <<YAML
name: train-cuda-mock-ttt
run:
  warmup: {iterations: 1}
  repetitions: {count: 2, min_seconds: 0}
  timeout_s: 300
cases:
  - suite: train
    device: cuda
    mode: time_to_train
    model: tiny
    seq: 16
    batch: 8
    corpus_vocab: 16
    markov_branch: 2
    train_tokens: 65536
    val_tokens: 1024
    lr: 0.005
    warmup_steps: 10
    max_steps: 1500
    eval_every: 20
    target_margin: 0.1
    max_seconds: 100
    dir: $DATA
YAML
expect_exit 0 mpirun_x "$STRATA" run "$WORK/ttt.yaml" -o "$WORK/ttt"
/usr/bin/python3 - "$WORK/ttt/results.jsonl" <<'PY'
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1])]
rec = [r for r in rec if r.get("type") == "case"][0]
assert rec["status"] == "passed", rec.get("reason")
t = rec["details"]["time_to_train"]
assert len(t["runs"]) == 2 and all(r["converged"] for r in t["runs"]), t["runs"]
assert len({r["seed"] for r in t["runs"]}) == 2
target = rec["details"]["corpus"]["target_loss_nats"]
assert all(r["val_loss"] <= target for r in t["runs"]), (t["runs"], target)
assert rec["details"]["weight_checks"]["mismatches"] == 0
print("cuda (mock) time to train ok: %s" % [(r["steps"], round(r["seconds"], 2)) for r in t["runs"]])
PY

# 3. Drifting ranks fail the case on cuda too.
STRATA_TEST_TRAIN_DESYNC=1 expect_exit 1 mpirun_x -x STRATA_TEST_TRAIN_DESYNC "$STRATA" run "$WORK/tp.yaml" -o "$WORK/desync"
grep -q "weights differ between ranks" "$WORK/desync/results.jsonl" || die "desync not detected on cuda"

# 4. Two training ranks, one visible GPU: skipped, saying why.
MOCK_CUDA_DEVICES=1 expect_exit 0 mpirun_x "$STRATA" run "$WORK/tp.yaml" -o "$WORK/one-gpu"
/usr/bin/python3 - "$WORK/one-gpu/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r.get("type") == "case"]
assert recs[0]["status"] == "passed", recs[0].get("reason")  # ranks: 1
assert recs[1]["status"] == "skipped", recs[1]["status"]
assert "ranks 0 and 1 on host" in recs[1]["reason"] and "both use GPU 0" in recs[1]["reason"], recs[1]["reason"]
PY

# 5. Two training ranks, each seeing only its own GPU (distinct PCI buses, as
#    under Slurm's --gpus-per-task): a valid layout, so both cases train.
MOCK_CUDA_DEVICES=1 MOCK_CUDA_BUS_BY_RANK=1 expect_exit 0 mpirun_x -x MOCK_CUDA_BUS_BY_RANK \
  "$STRATA" run "$WORK/tp.yaml" -o "$WORK/own-gpu"
/usr/bin/python3 - "$WORK/own-gpu/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"type":"case"' in l.replace(" ", "")]
assert [r["status"] for r in recs] == ["passed", "passed"], [(r["status"], r.get("reason")) for r in recs]
PY
echo "PASS"
