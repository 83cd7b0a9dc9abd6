#!/usr/bin/env bash
# Topology, binding and traces end to end: `strata topo` on the 8-GPU/8-NIC
# fixture, on synthetic topologies and on this machine; plan errors for the
# new run settings; a 2-rank run with a binding policy and tracing on, whose
# topology XML, bindings, trace files (every traced case's spans on every
# rank, collective ids that agree across ranks), summary, clock offsets and
# merge are checked; the NUMA matrix on this 1-node machine (1 x 1).
source "$(dirname "$0")/lib.sh"
FIX="$SRC/tests/fixtures/topo/two-socket-8gpu-8nic.xml"

expect_exit 0 "$STRATA" topo --xml "$FIX" --policy gpu-local --ranks-per-node 8
expect_output "GPU 3 (0000:42:00.0), local numa node(s) 0; NIC 3 mlx5_3,ib3 (0000:51:00.0)"
expect_output "GPU 5  0000:93:00.0 [10de:2330] cuda5,nvml5  numa 1  cpus 16-31  -> NIC 5 mlx5_5,ib5 (pcie-switch, 4 hops)"
expect_exit 0 "$STRATA" topo --xml "$FIX" --json
/usr/bin/python3 - "$WORK/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["topology"]
assert len(t["gpus"]) == 8 and len(t["nics"]) == 8 and len(t["nvme"]) == 2, t.keys()
assert [g["nic"] for g in t["gpu_nic"]] == list(range(8)), t["gpu_nic"]
assert t["numa_distances"]["matrix"] == [[10, 21], [21, 10]]
rows = d["bindings"]["gpu-local"]
assert [r["cpus"] for r in rows] == ["0-15"] * 4 + ["16-31"] * 4, rows
assert set(d["bindings"]) == {"core", "numa", "gpu-local"}
PY
expect_exit 0 "$STRATA" topo --synthetic "pack:2 numa:2 core:8 pu:2" --policy numa --ranks-per-node 4
expect_output "48-63"
expect_exit 2 "$STRATA" topo --synthetic "pack:2 numa:2 core:8 pu:2" --policy gpu-local
expect_output "no GPU"
expect_exit 2 "$STRATA" topo --policy socket
expect_output "unknown policy 'socket'"
expect_exit 2 "$STRATA" topo --xml "$WORK/missing.xml"
expect_exit 0 "$STRATA" topo
expect_output "topology: this system"

# Plan errors name file:line:column.
printf 'name: b\nrun: {binding: socket}\ncases: [{suite: null}]\n' >"$WORK/b1.yaml"
expect_exit 2 "$STRATA" validate "$WORK/b1.yaml"
expect_output "b1.yaml:2:16: run.binding must be none, core, numa or gpu-local"
printf 'name: b\nrun: {trace: {enabled: yes, max_reps: 3}}\ncases: [{suite: null}]\n' >"$WORK/b2.yaml"
expect_exit 2 "$STRATA" validate "$WORK/b2.yaml"
expect_output "b2.yaml:2:29: run.trace: unknown key 'max_reps'"
printf 'name: b\nrun: {trace: {max_repetitions: 0}}\ncases: [{suite: null}]\n' >"$WORK/b3.yaml"
expect_exit 2 "$STRATA" validate "$WORK/b3.yaml"
expect_output "run.trace.max_repetitions must be >= 1"

cat >"$WORK/t.yaml" <<'YAML'
name: traced
run:
  warmup: {iterations: 1}
  repetitions: {count: 6}
  binding: core
  trace: {enabled: true, max_repetitions: 5}
cases:
  - {suite: null, sleep_us: 200}
  - {suite: allreduce, size: [8, 64K]}
  - {suite: membw, kernel: triad, array_bytes: 1M, threads: 1, run: {binding: numa}}
  - {suite: numa_matrix, measure: [read, latency], bytes: 8M, steps: 20000}
  - {suite: null, sleep_us: 10, run: {binding: none, trace: {enabled: false}}}
YAML
expect_exit 0 mpirun_n 2 "$STRATA" run "$WORK/t.yaml" -o "$WORK/run"
$CHECK "$WORK/run"
/usr/bin/python3 - "$WORK/run" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
topo = m["systems"][0]["topology"]
xml = os.path.join(d, topo["xml_file"])
assert os.path.isfile(xml) and m["topology_files"] == [topo["xml_file"]], (xml, m.get("topology_files"))
assert topo["pus"] >= 1 and topo["numa_nodes"], topo
assert "trace" in m
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
traced = [r for r in recs if r.get("trace", {}).get("enabled")]
assert len(traced) == 6, [r["metric_key"] for r in traced]
for r in recs:
    b = r["binding"]
    assert b["ok"] and b["mismatched_ranks"] == 0 and len(b["ranks"]) == 2, b
    for pr in b["ranks"]:
        assert pr["asked"] == pr["actual"], pr
    want = {"membw": "numa"}.get(r["suite"], "core")
    if r["suite"] == "null" and r["params"]["sleep_us"] == 10:
        want = "none"
    assert b["policy"] == want, (r["metric_key"], b["policy"])
core = [r for r in recs if r["binding"]["policy"] == "core"][0]["binding"]["ranks"]
assert core[0]["actual"] != core[1]["actual"], core  # one core each
for r in traced:
    t = r["trace"]
    assert t["traced_repetitions"] == 5, t
    assert "overhead_pct" in t and t["untraced_median_s"] > 0 and t["traced_median_s"] > 0, t
    assert r["stats"]["n"] == 6, r["stats"]  # the traced pass never enters the figures
nm = [r for r in recs if r["suite"] == "numa_matrix"]
assert len(nm) == 2
for r in nm:
    mat = r["details"]["matrix"]
    assert len(mat) == 1 and len(mat[0]) == 1 and mat[0][0] > 0, mat
assert all("perf" in r for r in recs if r["backend"] == "cpu")

# Trace files: every traced case has every phase on every rank, and each
# traced repetition; collective ids agree across ranks.
phases = {"setup", "warmup", "timed", "traced", "verify", "teardown"}
files = sorted(glob.glob(d + "/trace/rank-*.json"))
assert [os.path.basename(f) for f in files] == ["rank-0.json", "rank-1.json"], files
colls = []
for rank, f in enumerate(files):
    doc = json.load(open(f))
    evs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert all(e["pid"] == rank for e in evs)
    by_case = {}
    for e in evs:
        by_case.setdefault(e["args"]["case"], []).append(e)
    assert sorted(by_case) == [t["trace"]["case_index"] for t in traced], sorted(by_case)
    for r in traced:
        es = by_case[r["trace"]["case_index"]]
        names = {e["name"] for e in es if e["cat"] == "phase"}
        assert phases <= names, (r["metric_key"], names)
        case = [e for e in es if e["cat"] == "case"]
        assert len(case) == 1 and case[0]["name"] == r["metric_key"], case
        reps = [e for e in es if e["cat"] == "rep"]
        assert sorted(e["args"]["rep"] for e in reps) == [1, 2, 3, 4, 5], reps
        mpi = [e for e in es if e["cat"] == "mpi"]
        assert {e["name"] for e in mpi} == {"MPI_Allreduce", "MPI_Barrier"}, mpi
        assert all("coll_id" in e["args"] for e in mpi)
        for e in es:
            assert case[0]["ts"] <= e["ts"] + 1e-3 and e["ts"] + e["dur"] <= case[0]["ts"] + case[0]["dur"] + 1e-3, e
    colls.append(sorted((e["args"]["coll_id"], e["name"]) for e in evs if e["cat"] == "mpi"))
assert colls[0] == colls[1] and len(colls[0]) > 0
s = json.load(open(d + "/trace/summary.json"))
assert s["ranks"] == 2 and len(s["cases"]) == 6 and phases <= set(s["time_per_phase"]), s.keys()
assert s["collectives"]["count"] == len(colls[0])
off = json.load(open(d + "/trace/clock-offsets.json"))
assert [x["when"] for x in off["measurements"]] == ["start", "end"]
assert all(len(x["offset_ns"]) == 2 for x in off["measurements"])
# Same host, same clock: the estimate is within its own error bound.
for x in off["measurements"]:
    assert abs(x["offset_ns"][1]) <= x["rtt_ns"][1] / 2 + 1000, x
print("traced run: %d records, %d traced, %d collectives" % (len(recs), len(traced), len(colls[0])))
PY
expect_exit 0 "$STRATA" topo --xml "$WORK/run/$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["topology_files"][0])' "$WORK/run/manifest.json")"
expect_exit 0 "$STRATA" trace merge "$WORK/run"
/usr/bin/python3 - "$WORK/run" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/trace/merged.json"))
pids = {e["pid"] for e in m["traceEvents"]}
assert pids == {0, 1}, pids
names = {e["args"]["name"] for e in m["traceEvents"] if e["ph"] == "M" and e["name"] == "process_name"}
assert len(names) == 2, names
PY
expect_exit 2 "$STRATA" trace merge "$WORK/nothing"
expect_output "no trace directory"
echo "PASS"
