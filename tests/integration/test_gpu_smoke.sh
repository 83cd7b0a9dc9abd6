#!/usr/bin/env bash
# The GPU smoke plan under mpirun -np 2.  Without a usable GPU (CI) every
# case must be recorded as skipped with the reason (no driver, no device, or
# a build without CUDA), the run must complete and exit 0, and the manifest
# must carry no GPU facts.  With GPUs (one per rank), every case must pass or
# be skipped for a stated hardware reason (FP8 before sm_89, a missing
# NUMA node), and every passed record must carry its GPU, telemetry and
# energy objects.
source "$(dirname "$0")/lib.sh"

expect_exit 0 mpirun_n 2 "$STRATA" run "$SRC/configs/gpu-smoke.yaml" -o "$WORK/gpu"
expect_output "results written to $WORK/gpu"
$CHECK "$WORK/gpu" --allow skipped \
  --require-suites gemm membw allreduce allgather reduce_scatter broadcast alltoall

/usr/bin/python3 - "$WORK/gpu" <<'PY'
import json, re, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
assert m["complete"] is True and m["exit_code"] == 0
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
assert len(recs) >= 40, len(recs)
no_gpu = re.compile(r"no CUDA (device|driver)|built without CUDA|built without NCCL")
gpus = [g for s in m.get("systems", []) for g in (s.get("gpus") or {}).get("devices", [])]
skipped = [r for r in recs if r["status"] == "skipped"]
if len(skipped) == len(recs) and all(no_gpu.search(r.get("reason", "")) for r in recs):
    assert not gpus, "a machine without a usable GPU lists GPUs in the manifest"
    for r in recs:
        assert r["params"]["device"] == "cuda", r["metric_key"]
        assert r["validation"]["checked"] is False
    print("gpu smoke: all %d cases skipped: %s" % (len(recs), recs[0]["reason"]))
    sys.exit(0)
# A GPU machine.
assert gpus, "GPU cases ran but the manifest has no GPU"
hw = re.compile(r"compute capability|NUMA node|TN layout|one GPU per rank")
for r in recs:
    if r["status"] == "skipped":
        assert hw.search(r.get("reason", "")), (r["metric_key"], r.get("reason"))
        continue
    assert r["status"] == "passed", (r["metric_key"], r.get("reason"))
    det = r["details"]
    assert det["gpu"]["name"] and "energy" in det, r["metric_key"]
    assert r["validation"]["checked"] and r["validation"]["wrong"] == 0
    if r["suite"] in ("gemm", "membw"):
        assert "CUDA events" in r["method"]["timer"], r["method"]["timer"]
print("gpu smoke: %d passed, %d skipped" % (len(recs) - len(skipped), len(skipped)))
PY
echo "PASS"
