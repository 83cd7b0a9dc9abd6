#!/usr/bin/env bash
# strata report on a fixed results directory (tests/fixtures/run-small, a real
# 2-rank run kept as a fixture) must reproduce the golden summary exactly, and
# the fixture itself must still match the record and manifest schemas.
source "$(dirname "$0")/lib.sh"

cp -r "$SRC/tests/fixtures/run-small" "$WORK/run"
$CHECK "$WORK/run" --allow failed skipped
expect_exit 0 "$STRATA" report "$WORK/run"
if ! diff -u "$SRC/tests/fixtures/run-small.summary.md" "$WORK/run/summary.md"; then
  die "summary.md differs from the golden file (if the change is intended, regenerate it)"
fi

# No results directory at all: a clear error, exit 2
expect_exit 2 "$STRATA" report "$WORK/nothing-here"
expect_output "nothing-here/manifest.json"
echo "PASS"
