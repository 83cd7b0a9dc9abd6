#!/usr/bin/env bash
# The gemm suite's device-cuda path (suites/gemm_gpu.c over kernels/cuda/
# gemm_cuda.c's cuBLASLt matmul) run by `strata run` on the host stand-in of
# CUDA (strata_mock_cuda: tests/mock_cuda/, cuBLASLt in mock_cuda.c, the fill
# and NaN-count launchers in mock_gemm.c): every dtype passes (float8_e4m3
# with transa: yes), both transposes of float32 and bfloat16 at non-square,
# non-multiple-of-16 sizes; each record carries the check (the exact count
# of distinct elements: corners, samples, a whole row and column, none
# wrong), the three candidates and the fastest chosen with its config, the
# peak fraction against the H100 row of the table (or the plan's peak), and
# aggregate = ranks x per-rank GFLOP/s under mpirun -np 2.  The skips: FP8
# with transa: no on cc 9.0, FP8 at m = 72, FP8 on cc 8.0, no device.  The
# faults, each of which must fail the case naming what is wrong: a wrong
# element (MOCK_GEMM_CORRUPT), a NaN where no sample looks (the full scan),
# measured launches that write nothing (MOCK_GEMM_STALE_AFTER), failing
# candidates (MOCK_GEMM_FAIL_ALGO: another is chosen; all: an error).
# $1 = strata_mock_cuda, $2 = source dir (tests/integration/lib.sh).
source "$2/tests/integration/lib.sh" "$1" "$2"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 STRATA_GPU_COOL_TIMEOUT_S=0
unset MOCK_CUDA_DEVICES MOCK_CUDA_CC MOCK_CUDA_NAME MOCK_GEMM_CORRUPT MOCK_GEMM_FAIL_ALGO \
      MOCK_GEMM_STALE_AFTER
# algorithm selection: 3 candidates x (2 warm-up + 10 timed) products
# (STRATA_GEMM_CUDA_ALGO_WARMUP, _TIMED); every later one is measured
SELECTION_PRODUCTS=36

plan() { # plan NAME CASES...: a plan of one warm-up and two repetitions
  local name="$1"; shift
  {
    echo "name: gemm-cuda-$name"
    echo "run: {warmup: {iterations: 1}, repetitions: {count: 2, min_seconds: 0}}"
    echo "cases:"
    for c in "$@"; do echo "  - {suite: gemm, device: cuda, algos: 3, $c}"; done
  } >"$WORK/$name.yaml"
}
run() { # run NAME EXIT: strata run the plan NAME, expecting exit status EXIT
  expect_exit "$2" "$STRATA" run "$WORK/$1.yaml" -o "$WORK/$1"
}
SQ="m: 96, n: 80, k: 112" # multiples of 16, as FP8 needs
NS="m: 72, n: 56, k: 136"

plan main "dtype: [float64, float32, tfloat32, float16, bfloat16], $SQ" \
  "dtype: float8_e4m3, transa: yes, $SQ" \
  "dtype: [float32, bfloat16], transa: [no, yes], transb: [no, yes], $NS" \
  "dtype: float16, peak_gflops: 1000, $NS" \
  "dtype: float8_e4m3, transa: no, $SQ" \
  "dtype: float8_e4m3, transa: yes, $NS"
run main 0
# cc 8.0 (an A100's, but named H100: no row of the peak table matches)
plan cc80 "dtype: [bfloat16, float8_e4m3], transa: yes, $SQ"
MOCK_CUDA_CC=8.0 run cc80 0
# Blackwell lifts FP8's TN rule
plan cc100 "dtype: float8_e4m3, transa: no, transb: yes, $SQ"
MOCK_CUDA_CC=10.0 MOCK_CUDA_NAME="NVIDIA B200" run cc100 0
plan nodev "dtype: float32, $SQ"
MOCK_CUDA_DEVICES=0 run nodev 0

plan bf16 "dtype: bfloat16, $SQ"
MOCK_GEMM_CORRUPT=1 run bf16 1 && mv "$WORK/bf16" "$WORK/corrupt"
MOCK_GEMM_CORRUPT=nan:1,2 run bf16 1 && mv "$WORK/bf16" "$WORK/nan"
MOCK_GEMM_STALE_AFTER=$SELECTION_PRODUCTS run bf16 1 && mv "$WORK/bf16" "$WORK/stale"
MOCK_GEMM_FAIL_ALGO=66,21 run bf16 0 && mv "$WORK/bf16" "$WORK/fail2"
MOCK_GEMM_FAIL_ALGO=66,67,21 run bf16 3 && mv "$WORK/bf16" "$WORK/failall"

# Two ranks, a "GPU" each
MOCK_CUDA_DEVICES=2 expect_exit 0 mpirun_n 2 -x MOCK_CUDA_DEVICES -x STRATA_GPU_COOL_TIMEOUT_S \
  "$STRATA" run "$WORK/bf16.yaml" -o "$WORK/ranks"

/usr/bin/python3 - "$WORK" <<'PY'
import json, math, re, sys
W = sys.argv[1]
def load(name):
    return [json.loads(l) for l in open("%s/%s/results.jsonl" % (W, name))]

# gemm_cuda.c's choice of checked elements, replayed (gemm_gpu_input.h's mix64)
M64 = (1 << 64) - 1
def mix64(z):
    z = (z + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)
SEED = 0x5374726174614d4d
def checked_set(m, n):
    h = mix64(SEED ^ 0x524f57)
    row, col = h % m, (h >> 32) % n
    pts = {(0, 0), (m - 1, 0), (0, n - 1), (m - 1, n - 1)}
    for s in range(4, 4 + 256):
        h = mix64(SEED ^ (0x5a4d5000 + s))
        pts.add((h % m, (h >> 32) % n))
    pts = {p for p in pts if p[0] != row and p[1] != col}
    return pts | {(row, j) for j in range(n)} | {(i, col) for i in range(m)}

TYPES = {  # dtype: a_b, c_d, compute, scale, H100 SXM dense peak (GFLOP/s)
    "float64": ("fp64", "fp64", "CUBLAS_COMPUTE_64F", "CUDA_R_64F", 67000),
    "float32": ("fp32", "fp32", "CUBLAS_COMPUTE_32F", "CUDA_R_32F", 67000),
    "tfloat32": ("fp32 (tf32 in the tensor cores)", "fp32", "CUBLAS_COMPUTE_32F_FAST_TF32",
                 "CUDA_R_32F", 494500),
    "float16": ("fp16", "fp16", "CUBLAS_COMPUTE_32F", "CUDA_R_32F", 989500),
    "bfloat16": ("bf16", "bf16", "CUBLAS_COMPUTE_32F", "CUDA_R_32F", 989500),
    "float8_e4m3": ("fp8_e4m3", "bf16", "CUBLAS_COMPUTE_32F", "CUDA_R_32F", 1979000),
}
CANDIDATES = [  # mock_cuda.c's heuristic, in order
    (66, "128x128", "64x4", 1, 0, 0, 0, "1x1x1", 0),
    (67, "128x256", "128x3", 1, 0, 1, 1, "2x1x1", 1 << 20),
    (21, "64x128", "32x5", 4, 2, 0, 2, "1x2x1", 4 << 20),
]

def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b))

def check_passed(r, peak=None, failed_algos=()):
    p, d, mt, key = r["params"], r["details"], r["metrics"], r["metric_key"]
    assert r["status"] == "passed", (key, r.get("reason"))
    assert r["backend"] == "cuda" and d["backend"].startswith("cuda: cuBLASLt"), d["backend"]
    m, n, k, dt = p["m"], p["n"], p["k"], p["dtype"]
    ab, cd, comp, scale, table_peak = TYPES[dt]
    assert d["types"] == {"a_b": ab, "c_d": cd, "compute": comp, "scale": scale}, d["types"]
    assert (d["m"], d["n"], d["k"], d["transa"], d["transb"]) == (m, n, k, p["transa"],
                                                                 p["transb"]), d
    lda = k if p["transa"] == "yes" else m
    ldb = n if p["transb"] == "yes" else k
    assert d["call"].startswith("column-major, lda %d, ldb %d, ldc %d," % (lda, ldb, m)), d["call"]
    assert d["flops_per_call"] == 2 * m * n * k, d["flops_per_call"]
    assert "CUDA events" in r["method"]["timer"], r["method"]
    # the check: every distinct element it names, none wrong
    chk = d["check"]
    assert chk["checked"] == len(checked_set(m, n)), (key, chk, len(checked_set(m, n)))
    assert chk["checked"] >= 4 + m + n - 1, chk
    assert chk["wrong"] == 0 and chk["nonfinite"] == 0, chk
    assert 0 <= chk["max_error_over_tolerance"] <= 1, chk
    assert r["validation"]["checked"] and r["validation"]["passed"], r["validation"]
    assert "one whole row and column" in d["validation"], d["validation"]
    # figures
    g = mt["gflops"]["median"]
    assert g > 0 and close(mt["tflops"]["median"], g / 1e3), mt
    assert close(mt["aggregate_gflops"]["median"], r["ranks"] * g), mt
    assert mt["time"]["unit"] == "ms" and mt["time"]["median"] > 0, mt
    assert d["launches_per_repetition"] >= 1, d
    if peak is None:
        assert d["peak_gflops"] == table_peak, (key, d["peak_gflops"])
        assert d["peak_source"].startswith("table: H100 SXM5 80GB"), d["peak_source"]
    else:
        assert d["peak_gflops"] == peak and d["peak_source"] == "plan (peak_gflops)", d
    assert close(mt["peak_fraction"]["median"], g / d["peak_gflops"]), mt
    # the candidates, timed, and the fastest chosen
    cands = d["algorithm_candidates"]
    assert len(cands) == 3, cands
    for rank, (c, want) in enumerate(zip(cands, CANDIDATES)):
        got = (c["algo_id"], c["tile"], c["stages"], c["splitk"], c["reduction_scheme"],
               c["cta_swizzling"], c["custom_option"], c["cluster_shape"], c["workspace_bytes"])
        assert got == want and c["heuristic_rank"] == rank, (got, want)
        assert c["summary"].startswith("algo %d, tile %s," % (want[0], want[1])), c["summary"]
        if c["algo_id"] in failed_algos:
            assert c["mean_ms"] is None and "CUBLAS_STATUS_EXECUTION_FAILED" in c["failed"], c
        else:
            assert c["mean_ms"] > 0 and "failed" not in c, c
    ok = [c for c in cands if c["mean_ms"] is not None]
    best = min(ok, key=lambda c: c["mean_ms"])
    assert d["algorithm"] == best, (d["algorithm"], best)
    return r

recs = load("main")
by = {r["metric_key"]: r for r in recs}
passed = [r for r in recs if r["status"] == "passed"]
skipped = [r for r in recs if r["status"] == "skipped"]
assert len(recs) == 17 and len(passed) == 15 and len(skipped) == 2, [
    (r["metric_key"], r["status"], r.get("reason")) for r in recs]
for r in passed:
    check_passed(r, peak=1000.0 if r["params"]["peak_gflops"] else None)
assert {r["params"]["dtype"] for r in passed} == set(TYPES), passed
assert {(r["params"]["transa"], r["params"]["transb"]) for r in passed
        if r["params"]["dtype"] == "bfloat16"} == {("no", "no"), ("no", "yes"), ("yes", "no"),
                                                     ("yes", "yes")}
tn = [r for r in skipped if r["params"]["transa"] == "no"]
assert len(tn) == 1 and "supports only the TN layout (transa: yes, transb: no)" in tn[0]["reason"] \
    and "compute capability 9.0" in tn[0]["reason"], tn
m16 = [r for r in skipped if r["params"]["m"] == 72]
assert len(m16) == 1 and "multiples of 16 (got 72 x 56 x 136)" in m16[0]["reason"], m16

bf, f8 = load("cc80")
assert bf["status"] == "passed" and bf["details"]["peak_source"].startswith("unknown"), bf
assert "peak_fraction" not in bf["metrics"] and bf["details"]["peak_gflops"] == 0, bf["metrics"]
assert f8["status"] == "skipped" and "needs compute capability 8.9 or newer; this GPU is 8.0" \
    in f8["reason"], f8.get("reason")
(b200,) = load("cc100")
assert b200["status"] == "passed" and b200["details"]["check"]["wrong"] == 0, b200.get("reason")
assert b200["details"]["gpu"]["name"] == "NVIDIA B200", b200["details"]["gpu"]
(nodev,) = load("nodev")
assert nodev["status"] == "skipped" and "no CUDA device" in nodev["reason"], nodev.get("reason")

(bad,) = load("corrupt")  # D(m-1, n-1) + 1: a corner
assert bad["status"] == "failed", bad["status"]
assert re.search(r"1 of \d+ checked elements wrong, 0 NaN/Inf in C; first C\[95,79\] = ",
                 bad["reason"]), bad["reason"]
(nan,) = load("nan")  # NaN at (1, 2): no sample looks there, the full scan does
assert (1, 2) not in checked_set(96, 80)
assert nan["status"] == "failed" and "0 of %d checked elements wrong, 1 NaN/Inf in C; no sampled " \
    "element wrong" % len(checked_set(96, 80)) in nan["reason"], nan["reason"]
(stale,) = load("stale")
assert stale["status"] == "failed" and re.search(r"(\d+) of \1 checked elements wrong",
                                                 stale["reason"]), stale["reason"]
(f2,) = load("fail2")
check_passed(f2, failed_algos=(66, 21))
assert f2["details"]["algorithm"]["algo_id"] == 67, f2["details"]["algorithm"]
(fa,) = load("failall")
assert fa["status"] == "error" and "every one of cuBLASLt's 3 candidate algorithms failed; " \
    "first: cublasLtMatmul: CUBLAS_STATUS_EXECUTION_FAILED" in fa["reason"], fa.get("reason")

(two,) = load("ranks")
check_passed(two)
assert two["ranks"] == 2 and len(two["per_rank"]) == 2, two["per_rank"]
print("gemm on the CUDA stand-in: %d cases passed, skips and faults as expected"
      % (len(passed) + 3))
PY
echo PASS
