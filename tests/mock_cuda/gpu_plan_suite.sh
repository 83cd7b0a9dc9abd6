#!/usr/bin/env bash
# Every GPU suite in one run, as configs/gpu-smoke.yaml has them but small,
# on the host stand-in (strata_mock_cuda) with the fake NVML, under
# mpirun -np 2 (one "GPU" per rank): the records and the manifest pass the
# JSON schemas (docs/schema, tests/integration/check_run.py), every case
# passes but the in-place all-to-all (skipped with its reason), and
# `strata report` writes the results and GPU conditions tables for each
# suite, names the GPUs in the system table and quotes every headline
# against a peak from the run's own manifest.  What the per-suite scripts beside this one do not see: the suites
# one after another in one process (the NCCL communicator cache, the
# cool-down baseline, the GPU chosen per case) and the records' shape.
# $1 = strata_mock_cuda, $2 = source dir (tests/integration/lib.sh).
source "$2/tests/integration/lib.sh" "$1" "$2"
MOCK_NVML_DIR="$(cd "$(dirname "$1")" && pwd)/mock_nvml"
[ -f "$MOCK_NVML_DIR/libnvidia-ml.so.1" ] || die "no fake NVML at $MOCK_NVML_DIR"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MOCK_CUDA_DEVICES=2
export STRATA_GPU_SAMPLE_MS=20 STRATA_GPU_COOL_TIMEOUT_S=5 STRATA_GPU_SETTLE_S=0.3
export LD_LIBRARY_PATH="$MOCK_NVML_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset STRATA_GPU_COOL_C

cat >"$WORK/gpu.yaml" <<'YAML'
name: gpu-plan-mock
description: every CUDA backend, small, on the host stand-in
run:
  warmup: {iterations: 1}
  repetitions: {count: 3, min_seconds: 0}
  timeout_s: 120
cases:
  - {suite: gemm, device: cuda, dtype: [float64, float32, tfloat32, bfloat16, float16], m: 64, n: 48, k: 80, algos: 2}
  - {suite: gemm, device: cuda, dtype: float8_e4m3, m: 64, n: 48, k: 80, transa: yes, algos: 2}
  - {suite: membw, device: cuda, kernel: [copy, scale, add, triad, dot], array_bytes: 1M}
  - {suite: membw, device: cuda, kernel: [h2d, d2h, d2d, bidir], array_bytes: 256K}
  - {suite: allreduce, device: cuda, dtype: [float, bfloat16, half], inplace: [false, true], size: {from: 8, to: 64K, factor: 64}}
  - {suite: allgather, device: cuda, size: {from: 1K, to: 64K, factor: 16}}
  - {suite: reduce_scatter, device: cuda, size: {from: 1K, to: 64K, factor: 16}}
  - {suite: broadcast, device: cuda, size: {from: 1K, to: 64K, factor: 16}}
  - {suite: alltoall, device: cuda, size: {from: 1K, to: 64K, factor: 16}}
YAML
expect_exit 0 mpirun_n 2 -x MOCK_CUDA_DEVICES -x STRATA_GPU_SAMPLE_MS -x STRATA_GPU_COOL_TIMEOUT_S \
	-x STRATA_GPU_SETTLE_S -x LD_LIBRARY_PATH -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
	"$STRATA" run "$WORK/gpu.yaml" -o "$WORK/run"
$CHECK "$WORK/run" || die "the GPU run does not pass the schemas (check_run.py)"
/usr/bin/python3 - "$WORK/run" <<'PY'
import json, sys
d = sys.argv[1]
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
recs = [r for r in recs if r.get("type") == "case"]
suites = sorted({r["suite"] for r in recs})
assert suites == ["allgather", "allreduce", "alltoall", "broadcast", "gemm", "membw",
                  "reduce_scatter"], suites
for r in recs:
    assert r["status"] == "passed", (r["metric_key"], r["status"], r.get("reason"))
    assert r["backend"] == "cuda" and r["ranks"] == 2, (r["metric_key"], r["backend"], r["ranks"])
    dt = r["details"]
    # one GPU per rank, by local rank; NVML found it; the wait and sampler ran
    assert dt["gpu"]["nvml"]["uuid"].endswith("%012x" % (0x18 + dt["gpu"]["index"])), dt["gpu"]
    assert dt["quiescence"]["reached"] is True and dt["telemetry"]["samples"] >= 1, r["metric_key"]
    assert dt["energy"]["joules"] > 0, (r["metric_key"], dt["energy"])
gpus = json.load(open(d + "/manifest.json"))["systems"][0]["gpus"]
assert len(gpus["devices"]) == 2 and "nvml_error" not in gpus["software"], gpus
print("gpu plan on the stand-in: %d cases passed over %s" % (len(recs), ", ".join(suites)))
PY
expect_exit 0 "$STRATA" report "$WORK/run"
for s in gemm membw allreduce allgather reduce_scatter broadcast alltoall; do
	# (into a file: grep -q in a pipe stops early, and pipefail would then
	# fail the pipeline on awk's SIGPIPE)
	awk -v s="### $s" '$0 == s {on = 1; next} /^### / {on = 0} on' "$WORK/run/summary.md" \
		>"$WORK/section.md"
	grep -qF "| case | GPU | start C (cool-down s)" "$WORK/section.md" ||
		{ cat "$WORK/run/summary.md" >&2; die "no GPU conditions table under $s"; }
done
# The system table names the GPUs the cases used, and every headline of
# "What limits this cluster" has a peak from the run's own manifest (the
# GPU table row, NVLink from NVML), none "unknown".
S="$WORK/run/summary.md"
for want in "| accelerators_per_node | 2 |" "| accelerator_model_name | NVIDIA H100 80GB HBM3 |" \
	"| accelerator_host_interconnect | PCIe gen 5 x16 |" "| accelerator_interconnect | NVLink 4, 18 link(s) per GPU |" \
	"| gemm float8_e4m3 cuda |" "gpu_tflops.float8_e4m3 = 1979 (manifest: H100 SXM5 80GB" \
	"gpu_tflops.tfloat32 = 494.5" "gpu_memory_bandwidth = 3350 (manifest" \
	"nvlink_bandwidth = 450 (manifest: NVLink 18 active links"; do
	grep -qF -- "$want" "$S" || { cat "$S" >&2; die "the report lacks '$want'"; }
done
awk '/^## What limits/,/^All /' "$S" >"$WORK/limits.md"
if grep -q "peak unknown" "$WORK/limits.md"; then cat "$S" >&2; die "a GPU headline has no peak"; fi

# strata check judges GPU figures against the same peaks: a copy against
# PCIe, a GEMM against its type's row, a collective against NVLink.
cat >"$WORK/th.yaml" <<'YAML'
name: gpu acceptance (test)
thresholds:
  - {name: bf16 gemm, suite: gemm, where: {dtype: bfloat16}, metric: gflops, min_fraction_of_peak: 0.000000001}
  - {name: h2d over PCIe, suite: membw, where: {kernel: h2d}, metric: bandwidth, min_fraction_of_peak: 0.000000001}
  - {name: all-reduce near NVLink, suite: allreduce, where: {size: 32K, dtype: float, inplace: false}, metric: busbw, min_fraction_of_peak: 0.99}
YAML
expect_exit 4 "$STRATA" check "$WORK/run" --against "$WORK/th.yaml"
expect_output "PASS  bf16 gemm"
expect_output "(peak: gpu_tflops.bfloat16 = 989.5 (manifest: H100 SXM5 80GB"
expect_output "(peak: pcie_bandwidth = 63.02 (manifest: PCIe gen5 x16"
expect_output "one direction of the GPU's PCIe link)"
expect_output "of peak 450 GB/s < 99% (peak: nvlink_bandwidth = 450"
expect_output "3 check(s): 2 passed, 1 failed"
# The example thresholds for gpu-node runs parse (here no record matches them).
expect_exit 4 "$STRATA" check "$WORK/run" --against "$2/configs/acceptance-gpu-example.yaml"
expect_output "7 check(s): 0 passed, 7 failed"
echo "PASS"
