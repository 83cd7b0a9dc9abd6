#!/usr/bin/env bash
# The membw suite's device-cuda path (suites/membw_gpu.c over kernels/cuda/
# stream_cuda.h and copy_cuda.c) run by `strata run` on the host stand-in of
# CUDA (strata_mock_cuda: tests/mock_cuda/, mock_stream.c for the STREAM
# kernels; copy_cuda.c runs unchanged):
#  1. STREAM copy/scale/add/triad/dot at a planned size (rounded down to 16
#     bytes): passed, STREAM's byte counts, figures consistent with the
#     samples, the grid (SMs x blocks per SM), H100 HBM peak;
#  2. STREAM at the auto size: a multiple of the L2 size, >= 8 x L2, >= 256 MiB;
#  3. copy engines h2d/d2h/d2d/bidir x pinned/pageable x NUMA node (nearest,
#     0, one this host lacks) x two sizes: passed or skipped with the reason,
#     nvbandwidth's byte counts, NUMA and allocation labels;
#  4. faults: a wrong array element, a wrong dot, a wrong copied word each
#     fail the case with a reason naming it; no device skips;
#  5. PCIe peaks from NVML's link (the fake NVML, where built);
#  6. two ranks on two "GPUs": aggregate = 2 x per-rank bandwidth.
# $1 = strata_mock_cuda, $2 = source dir (tests/integration/lib.sh).
source "$2/tests/integration/lib.sh" "$1" "$2"
export OMP_NUM_THREADS=1 STRATA_GPU_COOL_TIMEOUT_S=0
PY=/usr/bin/python3

run_plan() { # run_plan NAME EXIT [VAR=VALUE...]: $WORK/NAME.yaml -> $WORK/NAME/results.jsonl
  local name="$1" want="$2"; shift 2
  expect_exit "$want" env "$@" "$STRATA" run "$WORK/$name.yaml" -o "$WORK/$name"
}

# 1000008 bytes -> 1000000 (whole double2 vectors): n = 125000 doubles.
cat >"$WORK/stream.yaml" <<YAML
name: membw-stream-mock
run: {warmup: {iterations: 1}, repetitions: {count: 3, min_seconds: 0}}
cases:
  - {suite: membw, device: cuda, kernel: [copy, scale, add, triad, dot], array_bytes: 1000008}
YAML
run_plan stream 0
$PY - "$WORK/stream/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
arrays = {"copy": 2, "scale": 2, "add": 3, "triad": 3, "dot": 2}  # STREAM / BabelStream
assert [r["params"]["kernel"] for r in recs] == list(arrays), recs
for r in recs:
    k, d, m = r["params"]["kernel"], r["details"], r["metrics"]
    assert r["status"] == "passed", (k, r.get("reason"))
    assert r["backend"] == "cuda" and d["backend"] == "cuda: STREAM kernels", (r["backend"], d)
    assert r["validation"] == {"checked": True, "wrong": 0, "passed": True}, r["validation"]
    assert d["kernel"] == k and d["array_bytes"] == 1000000, d
    assert d["array_bytes_requested"] == 1000008, d
    assert "rounded down to 16 bytes" in d["size_rule"] and "x L2 (52428800 B)" in d["size_rule"], d
    assert d["bytes_per_launch"] == arrays[k] * 8 * 125000, (k, d["bytes_per_launch"])
    assert "copy, scale and dot count 2" in d["counting_rule"], d["counting_rule"]
    assert "1e-13" in d["validation"] and "gamma_n" in d["validation"], d["validation"]
    g = d["grid"]
    assert g["sms"] == 132 and g["threads_per_block"] == 256 and g["blocks_per_sm"] == 8, g
    assert g["blocks"] == 132 * 8, g
    launches = d["launches_per_repetition"]
    assert 1 <= launches <= 1000, launches
    # Figures from the samples: one launch = sample / launches, GB = 1e9.
    t = sorted(r["samples_s"])[1] / launches
    assert abs(m["time"]["median"] - t * 1e3) <= 1e-6 * t * 1e3, (m["time"], t)
    bw = d["bytes_per_launch"] / t / 1e9
    assert abs(m["bandwidth"]["median"] - bw) <= 1e-6 * bw, (m["bandwidth"], bw)
    assert m["aggregate_bandwidth"]["median"] == m["bandwidth"]["median"], m
    assert d["peak_gbps"] == 3350 and d["peak_source"].startswith("table: H100"), d
    pf = m["bandwidth"]["median"] / 3350
    assert abs(m["peak_fraction"]["median"] - pf) <= 1e-9 + 1e-6 * pf, (m["peak_fraction"], pf)
    assert d["energy"]["timed_launches"] == 3 * launches, d["energy"]
print("membw STREAM on the CUDA stand-in: 5 kernels passed")
PY

# The auto size on the stand-in's H100 (L2 50 MiB): 8 x L2 = 400 MiB a array.
cat >"$WORK/auto.yaml" <<YAML
name: membw-auto-mock
run: {warmup: {iterations: 0}, repetitions: {count: 1, min_seconds: 0}}
cases:
  - {suite: membw, device: cuda, kernel: copy}
YAML
run_plan auto 0
$PY - "$WORK/auto/results.jsonl" <<'PY'
import json, sys
(r,) = [json.loads(l) for l in open(sys.argv[1])]
d = r["details"]
assert r["status"] == "passed", r.get("reason")
l2 = d["gpu"]["l2_bytes"]
assert l2 == 50 << 20, l2
b = d["array_bytes"]
assert d["array_bytes_requested"] == 0, d
assert b % l2 == 0 and b >= 8 * l2 and b >= 256 << 20 and b == 8 * l2, (b, l2)
assert d["size_rule"].startswith("auto: 8 x L2 (52428800 B)"), d["size_rule"]
print("membw auto size:", b, "bytes =", b // l2, "x L2")
PY

# Copy engines.  65540 bytes -> 65536 (whole 8-byte words).  numa -1 is the
# node nearest the GPU: hwloc does not see the stand-in's PCI device, so
# CUDA's cudaDevAttrHostNumaId (0) says; node 7 does not exist here.
cat >"$WORK/copy.yaml" <<YAML
name: membw-copy-mock
run: {warmup: {iterations: 1}, repetitions: {count: 2, min_seconds: 0}}
cases:
  - suite: membw
    device: cuda
    kernel: [h2d, d2h, d2d, bidir]
    host_memory: [pinned, pageable]
    numa: [-1, 0, 7]
    array_bytes: [8, 65540]
YAML
run_plan copy 0
$PY - "$WORK/copy/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 4 * 2 * 3 * 2, len(recs)
seen = set()
for r in recs:
    p = r["params"]
    k, mem, numa, req = p["kernel"], p["host_memory"], p["numa"], p["array_bytes"]
    if numa == 7 and k != "d2d":
        assert r["status"] == "skipped", (p, r["status"])
        assert "NUMA node 7 does not exist on this host" in r["reason"], r["reason"]
        continue
    d, m = r["details"], r["metrics"]
    assert r["status"] == "passed", (p, r.get("reason"))
    assert r["validation"] == {"checked": True, "wrong": 0, "passed": True}, r["validation"]
    assert d["backend"] == "cuda: cudaMemcpyAsync (copy engines)", d["backend"]
    size = {8: 8, 65540: 65536}[req]
    assert d["array_bytes"] == size, (p, d["array_bytes"])
    assert d["bytes_per_launch"] == (2 if k == "bidir" else 1) * size, (p, d["bytes_per_launch"])
    assert m["bandwidth"]["median"] > 0 and m["time"]["median"] > 0, m
    assert "nvbandwidth" in d["counting_rule"], d["counting_rule"]
    if k == "d2d":
        assert d["host_memory"] == "none (device to device)", d
        assert d["numa_node"] == -1 and d["numa_local_to_gpu"] is False, d
        assert d["numa_rule"].startswith("none: a device-to-device copy"), d["numa_rule"]
        assert d["allocation"].startswith("cudaMalloc only"), d["allocation"]
        assert d["peak_gbps"] == 3350 / 2 and "HBM / 2" in d["peak_source"], d
        assert "peak_fraction" in m, m
    else:
        assert d["host_memory"] == {"pinned": "pinned (page-locked)",
                                    "pageable": "pageable (staged by the driver)"}[mem], d
        assert d["numa_node"] == 0 and d["numa_local_to_gpu"] is True, d
        if numa == -1:
            assert d["numa_rule"] == "numa -1: node 0, the nearest the GPU by " \
                "cudaDevAttrHostNumaId (hwloc does not see the GPU)", d["numa_rule"]
        else:
            assert d["numa_rule"] == "numa 0 from the plan", d["numa_rule"]
        assert d["allocation"].startswith("hwloc_alloc_membind"), d["allocation"]
        assert d["allocation"].endswith("cudaHostRegister" if mem == "pinned"
                                        else "not registered"), d["allocation"]
        # No NVML on the stand-in: no PCIe link, no peak.
        assert d["peak_gbps"] == 0 and d["peak_source"].startswith("unknown"), d
    seen.add((k, mem))
assert len(seen) == 8, seen
print("membw copies on the CUDA stand-in: %d passed, %d skipped" % (
    sum(r["status"] == "passed" for r in recs), sum(r["status"] == "skipped" for r in recs)))
PY

# PCIe peaks from NVML's current link, with the fake NVML where it is built
# (tests/mock_cuda/nvml/): gen4 x16 = 16 x 16 GT/s x 128/130 / 8 a direction.
MOCK_NVML_DIR="$(cd "$(dirname "$STRATA")" && pwd)/mock_nvml"
if [ -f "$MOCK_NVML_DIR/libnvidia-ml.so.1" ]; then
  cat >"$WORK/pcie.yaml" <<YAML
name: membw-pcie
run: {warmup: {iterations: 0}, repetitions: {count: 1, min_seconds: 0}}
cases:
  - {suite: membw, device: cuda, kernel: [h2d, bidir], array_bytes: 4096}
YAML
  # An idle link (gen1) under a gen4 maximum: the peak is the maximum's.
  run_plan pcie 0 LD_LIBRARY_PATH="$MOCK_NVML_DIR:${LD_LIBRARY_PATH:-}" MOCK_NVML_PCIE=1x16 MOCK_NVML_PCIE_MAX=4x16
  $PY - "$WORK/pcie/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
one = 16 * 16 * 128 / 130 / 8
for r, want in zip(recs, (one, 2 * one)):
    d, m = r["details"], r["metrics"]
    assert r["status"] == "passed", r.get("reason")
    assert abs(d["peak_gbps"] - want) <= 1e-9 * want, (d["peak_gbps"], want)
    assert d["peak_source"].startswith("PCIe gen4 x16 (NVML max link)"), d["peak_source"]
    pf = m["bandwidth"]["median"] / want
    assert abs(m["peak_fraction"]["median"] - pf) <= 1e-6 * pf, (m["peak_fraction"], pf)
assert recs[1]["details"]["peak_source"].endswith(", both directions"), recs[1]["details"]
print("membw PCIe peaks from the fake NVML: %.4g GB/s, bidir %.4g" % (one, 2 * one))
PY
else
  echo "no fake NVML in $MOCK_NVML_DIR: PCIe peaks not checked"
fi

# Faults.  A wrong element n/2 + 1 = 62501 of the array each kernel writes
# (dot: its input a), then a wrong dot with right arrays.
cp "$WORK/stream.yaml" "$WORK/stream_bad.yaml"
run_plan stream_bad 1 MOCK_STREAM_CORRUPT=1
sed 's/kernel: \[copy, scale, add, triad, dot\]/kernel: dot/' "$WORK/stream.yaml" >"$WORK/dot_bad.yaml"
run_plan dot_bad 1 MOCK_STREAM_CORRUPT=2
cat >"$WORK/copy_bad.yaml" <<YAML
name: membw-copy-bad
run: {warmup: {iterations: 0}, repetitions: {count: 1, min_seconds: 0}}
cases:
  - {suite: membw, device: cuda, kernel: [h2d, d2h, d2d, bidir], array_bytes: 4096}
YAML
run_plan copy_bad 1 MOCK_COPY_CORRUPT=1
$PY - "$WORK/stream_bad/results.jsonl" "$WORK/dot_bad/results.jsonl" \
  "$WORK/copy_bad/results.jsonl" <<'PY'
import json, sys
load = lambda f: [json.loads(l) for l in open(f)]
# At j = 62501, p = j mod 1024 = 37: a = 38, b = 39, c = 37.5.
written = {"copy": ("c", 38.0), "scale": ("b", 112.5), "add": ("c", 77.0),
           "triad": ("a", 151.5), "dot": ("a", 38.0)}
for r in load(sys.argv[1]):
    k = r["params"]["kernel"]
    arr, e = written[k]
    assert r["status"] == "failed", (k, r["status"])
    assert r["validation"]["wrong"] == (2 if k == "dot" else 1), (k, r["validation"])
    want = "first %s[62501] = %.17g, expected %.17g" % (arr, e + 1, e)
    assert want in r["reason"], (k, r["reason"], want)
(r,) = load(sys.argv[2])
assert r["status"] == "failed" and r["validation"]["wrong"] == 1, r
assert "membw dot on GPU 0, rank 0: 1 wrong; first dot[0] = " in r["reason"], r["reason"]
exact = 122 * 358963200 + sum((1 + p) * (2 + p) for p in range(125000 % 1024))
assert r["reason"].endswith("expected %.17g" % exact), (r["reason"], exact)
bad = {"h2d": (1, "device"), "d2h": (1, "host"), "d2d": (1, "device"), "bidir": (2, "host")}
for r in load(sys.argv[3]):
    k = r["params"]["kernel"]
    n, where = bad[k]
    assert r["status"] == "failed" and r["validation"]["wrong"] == n, (k, r)
    assert "first wrong 8-byte word 256 of the %s destination = 0x" % where in r["reason"], \
        (k, r["reason"])
print("membw faults: every corrupted element, dot and copied word fails its case")
PY

# No device: every case skips with the reason.
cp "$WORK/copy_bad.yaml" "$WORK/none.yaml"
run_plan none 0 MOCK_CUDA_DEVICES=0
$PY - "$WORK/none/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 4
for r in recs:
    assert r["status"] == "skipped", r["status"]
    assert "no CUDA device" in r["reason"], r["reason"]
PY

# Two ranks, one "GPU" each.
cat >"$WORK/two.yaml" <<YAML
name: membw-two
run: {warmup: {iterations: 1}, repetitions: {count: 2, min_seconds: 0}}
cases:
  - {suite: membw, device: cuda, kernel: [triad, h2d], array_bytes: 64K}
YAML
expect_exit 0 mpirun_n 2 -x MOCK_CUDA_DEVICES=2 -x STRATA_GPU_COOL_TIMEOUT_S -x OMP_NUM_THREADS \
  "$STRATA" run "$WORK/two.yaml" -o "$WORK/two"
$PY - "$WORK/two/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 2
for r in recs:
    m = r["metrics"]
    assert r["status"] == "passed" and r["ranks"] == 2, (r["status"], r.get("reason"))
    assert len(r["per_rank"]) == 2, r["per_rank"]
    agg, bw = m["aggregate_bandwidth"]["median"], m["bandwidth"]["median"]
    assert abs(agg - 2 * bw) <= 1e-9 * agg, (agg, bw)
PY
echo PASS
