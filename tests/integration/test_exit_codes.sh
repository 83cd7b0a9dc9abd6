#!/usr/bin/env bash
# The exit-code taxonomy, end to end through the null suite under mpirun.
source "$(dirname "$0")/lib.sh"

plan() { # plan FILE CASE-YAML
  printf 'name: codes\nrun: {warmup: {iterations: 1}, repetitions: {count: 3}}\ncases:\n  - %s\n' "$2" >"$1"
}
plan "$WORK/ok.yaml" "{suite: null, sleep_us: 10}"
expect_exit 0 mpirun_n 2 "$STRATA" run "$WORK/ok.yaml" -o "$WORK/ok"
$CHECK "$WORK/ok"

plan "$WORK/wrong.yaml" "{suite: null, fail: verify}"
expect_exit 1 mpirun_n 2 "$STRATA" run "$WORK/wrong.yaml" -o "$WORK/wrong"
$CHECK "$WORK/wrong" --allow failed

plan "$WORK/skip.yaml" "{suite: null, fail: skip}"
expect_exit 0 mpirun_n 2 "$STRATA" run "$WORK/skip.yaml" -o "$WORK/skip"
$CHECK "$WORK/skip" --allow skipped

plan "$WORK/req.yaml" "{suite: null, fail: skip, required: true}"
expect_exit 3 mpirun_n 2 "$STRATA" run "$WORK/req.yaml" -o "$WORK/req"

plan "$WORK/err.yaml" "{suite: null, fail: run}"
expect_exit 3 mpirun_n 2 "$STRATA" run "$WORK/err.yaml" -o "$WORK/err"
$CHECK "$WORK/err" --allow error

# a run directory is never overwritten
expect_exit 3 "$STRATA" run "$WORK/ok.yaml" -o "$WORK/ok"
expect_output "never overwrites"
echo "PASS"
