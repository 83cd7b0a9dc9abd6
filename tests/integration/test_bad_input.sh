#!/usr/bin/env bash
# Bad input exits 2 with file:line:column naming the key, alone and under
# mpirun with 2 ranks, and writes no results directory.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/bad.yaml" <<'YAML'
name: bad
cases:
  - suite: null
    sleep_us: 1
    colour: blue
YAML
expect_exit 2 "$STRATA" run "$WORK/bad.yaml" -o "$WORK/r1"
expect_output "$WORK/bad.yaml:5:5: unknown key 'colour' for suite null"
[ ! -e "$WORK/r1/manifest.json" ] || die "a bad plan created a run"

expect_exit 2 mpirun_n 2 "$STRATA" run "$WORK/bad.yaml" -o "$WORK/r2"
expect_output "$WORK/bad.yaml:5:5: unknown key 'colour'"

cat >"$WORK/range.yaml" <<'YAML'
name: bad
cases:
  - suite: null
    bytes: 12XB
YAML
expect_exit 2 "$STRATA" validate "$WORK/range.yaml"
expect_output "$WORK/range.yaml:4:12: bytes:"

expect_exit 2 "$STRATA" run "$WORK/missing.yaml"
expect_output "missing.yaml: cannot open"
expect_exit 2 "$STRATA" frobnicate
expect_exit 2 "$STRATA" run
echo "PASS"
