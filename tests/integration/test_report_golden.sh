#!/usr/bin/env bash
# strata report on fixed results directories must reproduce the golden
# summary.md and report.html exactly: tests/fixtures/run-small (a real 2-rank
# run), run-cluster-a (4 synthetic nodes: every suite, heat maps, a storage
# sweep, a step-time breakdown, a peaks file) and run-variants (two
# interleaved variants).  The fixtures must still match the schemas.
source "$(dirname "$0")/lib.sh"

$CHECK "$SRC/tests/fixtures/run-small" --allow failed skipped
for r in run-cluster-a run-cluster-b run-variants; do
  $CHECK "$SRC/tests/fixtures/$r"
done
bash "$SRC/tests/fixtures/golden.sh" "$STRATA" "$SRC" report "$WORK/gout" --check ||
  die "report outputs differ from the golden files"

# What a reader looks for is there, whatever the golden files say
S="$WORK/gout/run-cluster-a.summary.md"
grep -q "^| host_processor_model_name | AMD EPYC 7763 64-Core Processor |" "$S" || die "system table"
grep -q "^| number_of_nodes | 4 |" "$S" || die "node count"
grep -q "Lowest fraction of peak: p2p bandwidth at 1M at 58.6%" "$S" || die "limits section"
grep -q "storage aggregate_bandwidth | 5.327 GB/s | 6.5 GB/s | 82.0% | storage_bandwidth = 6.5 (vendor sheet" "$S" ||
  die "peaks file not used"
grep -q "33 of the 33 case(s) that ran meet every run rule" "$S" || die "compliance"
grep -q "^| \`null\[device=cpu,sleep_us=0,fail=verify,bytes=0\]@default\` | yes .* | NO: 2 wrong | .* | \*\*NO\*\* |" \
  "$WORK/gout/run-small.summary.md" || die "a failed validation must break compliance"
[ "$(grep -c '<svg xmlns' "$WORK/gout/run-cluster-a.report.html")" -ge 14 ] || die "charts missing"
! grep -q "https\?://[a-z]" <(grep -v 'xmlns="http://www.w3.org/2000/svg"' "$WORK/gout/run-cluster-a.report.html") ||
  die "the HTML must not load anything from the network"

# The shipped example peaks file loads and is used
mkdir -p "$WORK/ex"
expect_exit 0 "$STRATA" report "$SRC/tests/fixtures/run-cluster-a" --peaks "$SRC/configs/peaks-example.yaml" -o "$WORK/ex"
grep -q "peaks file .*peaks-example.yaml" "$WORK/ex/summary.md" || die "peaks-example.yaml not used"

# No results directory at all: a clear error, exit 2
expect_exit 2 "$STRATA" report "$WORK/nothing-here"
expect_output "nothing-here/manifest.json"
# A bad peaks file: file:line:column, exit 2
printf 'memory_bandwidth: 100\nnetwork_bandwith: 3\n' >"$WORK/peaks.yaml"
cp -r "$SRC/tests/fixtures/run-small" "$WORK/run"
expect_exit 2 "$STRATA" report "$WORK/run" --peaks "$WORK/peaks.yaml"
expect_output "peaks.yaml:2:1: unknown peak 'network_bandwith'"
# A run killed mid-write: the records before the torn line are reported
head -c -200 "$SRC/tests/fixtures/run-small/results.jsonl" >"$WORK/run/results.jsonl"
expect_exit 0 "$STRATA" report "$WORK/run"
expect_output "warning: "
grep -q "line(s) of results.jsonl are truncated or corrupt" "$WORK/run/summary.md" || die "no warning in the summary"
echo "PASS"
