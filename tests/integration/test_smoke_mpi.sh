#!/usr/bin/env bash
# The smoke plan under mpirun -np 2: the results directory exists, the
# manifest says complete, every record matches the schema and passed
# validation (skips allowed: e.g. bf16 GEMM without sbgemm), every suite is
# there, and the report is written from it.
source "$(dirname "$0")/lib.sh"

expect_exit 0 mpirun_n 2 "$STRATA" run "$SRC/configs/smoke.yaml" -o "$WORK/smoke"
expect_output "results written to $WORK/smoke"
$CHECK "$WORK/smoke" --allow skipped \
  --require-suites gemm membw allreduce allgather reduce_scatter broadcast alltoall p2p \
  storage storage_meta storage_loader

/usr/bin/python3 - "$WORK/smoke" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
assert m["ranks"] == 2, m["ranks"]
assert len(m["rank_layout"]) == 2
assert m["exit_code"] == 0 and m["complete"] is True
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
skipped = [r for r in recs if r["status"] == "skipped"]
for r in skipped:
    assert r["suite"] == "gemm" and r["params"]["dtype"] == "bfloat16", r["metric_key"]
for r in recs:
    if r["status"] != "passed":
        continue
    assert r["ranks"] == 2
    assert len(r["per_rank"]) == 2
    assert r["stats"]["n"] == len(r["samples_s"]) >= 10, r["metric_key"]
    assert r["validation"]["checked"] and r["validation"]["wrong"] == 0
    figs = r["metrics"].values()
    assert all(f["median"] >= 0 for f in figs), r["metric_key"]
    assert any(f["median"] > 0 for f in figs), r["metric_key"]
print("smoke records: %d passed, %d skipped" % (len(recs) - len(skipped), len(skipped)))
PY

expect_exit 0 "$STRATA" report "$WORK/smoke"
grep -q "^## System" "$WORK/smoke/summary.md" || die "summary.md lacks the system table"
grep -q "^### allreduce" "$WORK/smoke/summary.md" || die "summary.md lacks allreduce"

# A run cut short mid-write (the last line truncated) is reported up to the
# last good record, with a warning, never a crash.
cp -r "$WORK/smoke" "$WORK/cut"
head -c -40 "$WORK/smoke/results.jsonl" >"$WORK/cut/results.jsonl"
rm -f "$WORK/cut/summary.md"
expect_exit 0 "$STRATA" report "$WORK/cut"
expect_output "truncated or corrupt"
[ -s "$WORK/cut/summary.md" ] || die "no summary for a truncated run"
echo "PASS"
