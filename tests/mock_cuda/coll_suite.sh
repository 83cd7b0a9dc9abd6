#!/usr/bin/env bash
# The collective suites' device-cuda path (suites/coll_gpu.c, kernels/cuda/
# nccl_coll.c, the pattern of nccl_pattern.h) run by `strata run` under
# mpirun on the host stand-in of CUDA and NCCL (strata_mock_cuda:
# tests/mock_cuda/, NCCL over MPI in mock_nccl.c, the fill and check
# kernels in mock_nccl_fill.c):
#  1. on 2 then 3 ranks, one "GPU" each: allreduce, allgather,
#     reduce_scatter, broadcast and alltoall, float/bfloat16/half, in place
#     and not, sizes with and without nccl-tests' 16-byte rounding, twice
#     (variants base and ring, NCCL_ALGO=Ring): every case passes (in-place
#     alltoall skips, saying why), nccl-tests' counts, algbw = S/t and busbw
#     factors hold against the recorded bytes and time, the NCCL version,
#     the NCCL_* variables and the communicator reuse are recorded;
#  2. one wrong element on one rank (MOCK_NCCL_CORRUPT=1) fails every case,
#     naming the rank, the element and both values;
#  3. two ranks on one visible "GPU" are skipped with the reason.
# $1 = strata_mock_cuda, $2 = source dir (tests/integration/lib.sh).
source "$2/tests/integration/lib.sh" "$1" "$2"
export OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export STRATA_GPU_COOL_TIMEOUT_S=0 MOCK_CUDA_DEVICES=3
unset MOCK_NCCL_CORRUPT $(compgen -v NCCL_ || true) # only the plan's NCCL_* may reach the record
mpirun_x() { # mpirun_x N args...
	local n="$1"
	shift
	mpirun_n "$n" -x MOCK_CUDA_DEVICES -x STRATA_GPU_COOL_TIMEOUT_S "$@"
}

plan() { # plan N: every collective on N ranks, two variants
	cat <<YAML
name: coll-cuda-mock
run:
  warmup: {iterations: 1}
  repetitions: {count: 3, min_seconds: 0}
  timeout_s: 60
cases:
  - {suite: allreduce, device: cuda, dtype: [float, bfloat16, half], inplace: [false, true], size: [8, 1000, 64K]}
  - {suite: allgather, device: cuda, dtype: [float, bfloat16, half], inplace: [false, true], size: [8, 1000, 64K]}
  - {suite: reduce_scatter, device: cuda, dtype: [float, bfloat16, half], inplace: [false, true], size: [8, 1000, 64K]}
  - {suite: broadcast, device: cuda, dtype: [float, bfloat16, half], root: [0, $(($1 - 1))], size: [8, 1000, 64K]}
  - {suite: alltoall, device: cuda, dtype: [float, bfloat16, half], inplace: [false, true], size: [8, 1000, 64K]}
variants:
  - label: base
  - label: ring
    env: {NCCL_ALGO: Ring}
YAML
}

check() { # check N RESULTS
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
recs = [json.loads(l) for l in open(path)]
recs = [r for r in recs if r.get("type") == "case"]
assert len(recs) == 5 * 18 * 2, len(recs)
ELT = {"float": 4, "bfloat16": 2, "half": 2}
FACTOR = {"allreduce": 2 * (n - 1) / n, "allgather": (n - 1) / n, "reduce_scatter": (n - 1) / n,
          "broadcast": 1.0, "alltoall": (n - 1) / n}
CALL = {"allreduce": "ncclAllReduce", "allgather": "ncclAllGather",
        "reduce_scatter": "ncclReduceScatter", "broadcast": "ncclBroadcast",
        "alltoall": "ncclGroupStart; ncclSend"}
def close(a, b, rel=1e-6):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)
seen_variant, versions, passed = set(), set(), 0
for r in recs:
    s, p, d = r["suite"], r["params"], r.get("details", {})
    key = r["metric_key"]
    if s == "alltoall" and p["inplace"]:
        assert r["status"] == "skipped", (key, r["status"])
        assert "in-place all-to-all" in r["reason"], r["reason"]
        continue
    assert r["status"] == "passed", (key, r["status"], r.get("reason"))
    assert r["backend"] == "cuda" and r["ranks"] == n, (key, r["backend"], r["ranks"])
    passed += 1
    # nccl-tests' counts (src/common.cu setupArgs, <coll>GetCollByteCount)
    e = ELT[p["dtype"]]
    count = p["size"] // e
    base = (count // n) & ~(16 // e - 1)
    send, recv, arg = {"allreduce": (count, count, count), "broadcast": (count, count, count),
                       "allgather": (base, base * n, base),
                       "reduce_scatter": (base * n, base, base),
                       "alltoall": (base * n, base * n, base)}[s]
    S = max(send, recv) * e
    assert (d["count"], d["send_bytes"], d["recv_bytes"], d["bytes"], d["typesize"]) == \
        (arg, send * e, recv * e, S, e), (key, d)
    assert d["dtype"] == p["dtype"] and d["nranks"] == n, (key, d["dtype"], d["nranks"])
    assert close(d["busbw_factor"], FACTOR[s]), (key, d["busbw_factor"])
    assert d["backend"] == "cuda: NCCL" and d["implementation"].startswith(CALL[s]), d["implementation"]
    # the figures: one repetition is 20 collectives; algbw = S/t, busbw = algbw * factor
    L = d["launches_per_repetition"]
    assert L == 20, L
    t = r["stats"]["median"] / L
    m = r["metrics"]
    assert t > 0 and close(m["latency"]["median"], t * 1e6), (key, m["latency"], t)
    assert close(m["algbw"]["median"], S / t / 1e9), (key, m["algbw"], S, t)
    assert close(m["busbw"]["median"], m["algbw"]["median"] * FACTOR[s]), (key, m["busbw"])
    assert m["algbw"]["higher_is_better"] and not m["latency"]["higher_is_better"]
    assert d["event_time_per_launch_s"] > 0, d
    assert d["energy"]["timed_launches"] == L * r["method"]["repetitions"], d["energy"]
    # validation: every element, re-run after a refill where the call feeds itself
    v = r["validation"]
    assert v["checked"] and v["wrong"] == 0 and v["passed"], (key, v)
    rerun = p.get("inplace") and s in ("allreduce", "reduce_scatter")
    assert d["validation"].startswith("inputs re-initialised" if rerun else "every output element"), \
        (key, d["validation"])
    # NCCL: its version, the variant's NCCL_* variables, one communicator per variant
    versions.add(d["nccl_version"])
    want_env = {"NCCL_ALGO": "Ring"} if r["variant"] == "ring" else {}
    assert d["nccl_env"] == want_env, (key, d["nccl_env"])
    comm = d["communicator"]
    first = r["variant"] not in seen_variant
    assert comm["reused_from_previous_case"] == (not first), (key, comm)
    assert (comm["init_seconds"] > 0) == first, (key, comm)
    seen_variant.add(r["variant"])
    assert d["gpu"]["name"] == "NVIDIA H100 80GB HBM3", d["gpu"]
assert seen_variant == {"base", "ring"}, seen_variant
assert len(versions) == 1 and min(versions) >= 20000, versions  # NCCL_VERSION_CODE, 2.x
print("cuda (mock) collectives ok on %d ranks: %d passed, NCCL %d" % (n, passed, min(versions)))
PY
}

# 1. Every collective on 2, then 3 ranks.
for n in 2 3; do
	plan $n >"$WORK/coll$n.yaml"
	expect_exit 0 mpirun_x $n "$STRATA" run "$WORK/coll$n.yaml" -o "$WORK/coll$n"
	check $n "$WORK/coll$n/results.jsonl"
done

# 2. One wrong element on the last rank: every case fails and says where.
cat >"$WORK/fault.yaml" <<YAML
name: coll-cuda-mock-fault
run:
  warmup: {iterations: 1}
  repetitions: {count: 2, min_seconds: 0}
cases:
  - {suite: allreduce, device: cuda, dtype: [float, bfloat16, half], inplace: [false, true], size: 1000}
  - {suite: allgather, device: cuda, dtype: half, inplace: [false, true], size: 1000}
  - {suite: reduce_scatter, device: cuda, dtype: bfloat16, inplace: [false, true], size: 1000}
  - {suite: broadcast, device: cuda, dtype: float, root: [0, 2], size: 1000}
  - {suite: alltoall, device: cuda, dtype: float, size: 1000}
YAML
MOCK_NCCL_CORRUPT=1 expect_exit 1 mpirun_x 3 -x MOCK_NCCL_CORRUPT "$STRATA" run "$WORK/fault.yaml" \
	-o "$WORK/fault"
/usr/bin/python3 - "$WORK/fault/results.jsonl" <<'PY'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r.get("type") == "case"]
assert len(recs) == 13, len(recs)
for r in recs:
    s, p, why = r["suite"], r["params"], r.get("reason", "")
    assert r["status"] == "failed", (r["metric_key"], r["status"], why)
    assert r["validation"] == {"checked": True, "wrong": 1, "passed": False}, r["validation"]
    victim = 1 if s == "broadcast" and p["root"] == 2 else 2
    want = "validation: 1 wrong element(s) over all ranks; first: rank %d: %s %s on GPU %d, " \
           "rank %d: 1 wrong output element(s); first at 0: expected " % (
               victim, s, p["dtype"], victim, victim)
    assert why.startswith(want), (why, want)
    m = re.search(r"expected (\S+), got (\S+?)( \(bit patterns as integers\))?$", why)
    assert m, why
    exp, got = float(m.group(1)), float(m.group(2))
    if s in ("allreduce", "reduce_scatter"):  # a sum one unit off
        assert abs(got - exp) == 1 and not m.group(3), why
    else:  # a copy with its lowest bit flipped
        assert int(got) == int(exp) ^ 1 and m.group(3), why
print("cuda (mock) collectives: a wrong element fails the case: %s" % recs[0]["reason"])
PY

# 3. Two ranks, one visible GPU: NCCL needs one GPU per rank, so skipped.
MOCK_CUDA_DEVICES=1 expect_exit 0 mpirun_x 2 "$STRATA" run "$WORK/coll2.yaml" -o "$WORK/one-gpu"
/usr/bin/python3 - "$WORK/one-gpu/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r.get("type") == "case"]
assert len(recs) == 180, len(recs)
for r in recs:
    assert r["status"] == "skipped", (r["metric_key"], r["status"])
    assert "ranks 0 and 1 on host" in r["reason"] and "both use GPU 0" in r["reason"] \
        and "NCCL needs one GPU per rank" in r["reason"], r["reason"]
PY

# 4. Two ranks, each seeing only its own GPU (one device per process, distinct
#    PCI buses, as under Slurm's --gpus-per-task): a valid layout, so it runs.
MOCK_CUDA_DEVICES=1 MOCK_CUDA_BUS_BY_RANK=1 expect_exit 0 mpirun_x 2 -x MOCK_CUDA_BUS_BY_RANK \
  "$STRATA" run "$WORK/coll2.yaml" -o "$WORK/own-gpu"
/usr/bin/python3 - "$WORK/own-gpu/results.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r.get("type") == "case"]
assert len(recs) == 180, len(recs)
for r in recs:  # in-place all-to-all is the only skip, as in the first run
    skip = r["suite"] == "alltoall" and r["params"]["inplace"]
    assert r["status"] == ("skipped" if skip else "passed"), (r["metric_key"], r["status"], r.get("reason"))
PY
echo "PASS"
