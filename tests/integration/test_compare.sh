#!/usr/bin/env bash
# strata compare: golden Markdown, CSV and HTML of cluster A against cluster
# B (GEMM known to be slower, all-reduce samples identical), of a run
# against itself (no difference), and of interleaved variants (paired test);
# and the meaning of the results, checked directly.
source "$(dirname "$0")/lib.sh"

bash "$SRC/tests/fixtures/golden.sh" "$STRATA" "$SRC" compare "$WORK/gout" --check ||
  die "compare outputs differ from the golden files"
O="$WORK/gout"
/usr/bin/python3 - "$O" <<'PY'
import csv, sys
o = sys.argv[1]
rows = list(csv.DictReader(open(o + "/compare-ab.csv", newline="")))
assert len(rows[0]) == 21, rows[0].keys()
by = lambda suite, fig: [r for r in rows if r["case"].startswith(suite + "[") and r["figure"] == fig]
# the known difference: every GEMM figure significantly worse, about -6%
for r in by("gemm", "gflops"):
    assert r["verdict"] == "worse" and -8 < float(r["change_pct"]) < -5, r
    assert float(r["ci95_high_pct"]) < 0, r
# identical samples: no difference, the interval straddles 0
for r in by("allreduce", "busbw"):
    assert r["verdict"] == "same" and float(r["change_pct"]) == 0, r
    assert float(r["ci95_low_pct"]) < 0 < float(r["ci95_high_pct"]), r
# constant figures (p2p worst pair) have no interval
assert all(r["verdict"] == "no interval" for r in by("p2p", "bandwidth_worst_pair"))
v = list(csv.DictReader(open(o + "/compare-variants.csv", newline="")))
get = lambda size, fig: [r for r in v if "size=%d]" % size in r["case"] and r["figure"] == fig][0]
big, small = get(16777216, "busbw"), get(4096, "busbw")
assert big["paired"] == "true" and big["test"].startswith("Wilcoxon"), big
assert big["verdict"] == "better" and 8 < float(big["change_pct"]) < 14, big
assert small["verdict"] == "same", small
assert get(16777216, "latency")["verdict"] == "better"   # lower latency is better
print("compare semantics ok")
PY
grep -q "0 significantly better, 0 significantly worse" "$O/compare-aa.md" || die "A vs A must show no difference"
grep -q "^# exit 0" "$O/compare-aa.md" || die "A vs A with --fail-on-worse must exit 0"
grep -q "^# exit 4" "$O/compare-ab.md" || die "A vs B with --fail-on-worse must exit 4"
grep -q "^# exit 2" "$O/compare-single.txt" || die "a single-variant run alone is bad input"
grep -q "Welch" "$O/compare-ab-welch.md" || die "--test welch"
expect_exit 2 "$STRATA" compare "$SRC/tests/fixtures/run-cluster-a" "$WORK/none"
expect_output "none/manifest.json"
echo "PASS"
