#!/usr/bin/env bash
# strata check: thresholds per figure (absolute and fraction of peak), the
# node-outlier rule naming node03 of tests/fixtures/run-cluster-a, the drain
# list, JUnit XML, exit codes 0/2/4, errors with file:line:column; and the
# shipped configs/acceptance-example.yaml loads and runs.
source "$(dirname "$0")/lib.sh"

bash "$SRC/tests/fixtures/golden.sh" "$STRATA" "$SRC" check "$WORK/gout" --check ||
  die "check outputs differ from the golden files"
O="$WORK/gout"
grep -q "^# exit 4" "$O/check-cluster.txt" || die "failed checks must exit 4"
grep -q "^# exit 2" "$O/check-bad.txt" || die "a bad thresholds file must exit 2"
grep -q "bad.yaml:4:5: thresholds: unknown key 'minimum'" "$O/check-bad.txt" || die "error location"
grep -q "^# exit 4" "$O/check-example.txt" || die "the example thresholds must load"
[ "$(grep -c '^scontrol update NodeName=' "$O/check-cluster.drain.txt")" = 1 ] || die "one suspect"
grep -q '^scontrol update NodeName=node03 State=DRAIN Reason="strata check: gemm gflops' \
  "$O/check-cluster.drain.txt" || die "node03 must be drained"
/usr/bin/python3 - "$O/check-cluster.junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and root.get("tests") == "13" and root.get("failures") == "6", root.attrib
cases = root.findall("./testsuite/testcase")
assert len(cases) == 13
fails = [c for c in cases if c.find("failure") is not None]
assert len(fails) == 6
assert any("node03" in f.find("failure").get("message") for f in fails)
print("junit ok")
PY

# Everything passing: exit 0, no drain list left behind
cp -r "$SRC/tests/fixtures/run-cluster-a" "$WORK/run"
echo "scontrol stale" >"$WORK/run/drain.txt"
cat >"$WORK/ok.yaml" <<'YAML'
thresholds:
  - {suite: allreduce, where: {size: 128M}, metric: busbw, min: 10}
outliers:
  - {suite: membw, where: {kernel: triad}, metric: bandwidth, max_deviation_pct: 10}
YAML
expect_exit 0 "$STRATA" check "$WORK/run" --against "$WORK/ok.yaml"
expect_output "2 check(s): 2 passed, 0 failed, 0 skipped"
[ ! -e "$WORK/run/drain.txt" ] || die "a stale drain list was left"
grep -q 'failures="0"' "$WORK/run/junit.xml" || die "junit of a pass"
expect_exit 2 "$STRATA" check "$WORK/run"
expect_output "usage: strata check"
echo "PASS"
