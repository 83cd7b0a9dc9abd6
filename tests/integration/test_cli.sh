#!/usr/bin/env bash
# --version names the commit and backends; list shows every suite's
# parameters from the same table validation uses; validate expands sweeps.
source "$(dirname "$0")/lib.sh"

expect_exit 0 "$STRATA" --version
expect_output "strata "
expect_output "backends: cpu"
grep -qE "git [0-9a-f]{7,}" "$WORK/out" || die "--version lacks a git commit"

expect_exit 0 "$STRATA" list
for s in gemm membw allreduce allgather reduce_scatter broadcast alltoall p2p null; do
  grep -q "^$s: " "$WORK/out" || die "list lacks suite $s"
done
expect_output "sleep_us"
expect_exit 2 "$STRATA" list nosuch

for plan in "$SRC"/configs/*.yaml; do
  case "$(basename "$plan")" in acceptance-*|peaks-*) continue ;; esac # strata check / report inputs
  expect_exit 0 "$STRATA" validate "$plan"
done
printf 'name: v\ncases:\n  - {suite: null, bytes: {from: 1K, to: 1M, factor: 4}}\n' >"$WORK/v.yaml"
expect_exit 0 "$STRATA" validate "$WORK/v.yaml"
expect_output "6 case(s)"
echo "PASS"
