#!/usr/bin/env bash
# Fuzz every libFuzzer target of a STRATA_FUZZ=ON build for a bounded time.
#   usage: tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET (default 60)]
# Each target starts from its seed corpus (tests/fuzz/corpus/<target>, read
# only) plus its dictionary, in a scratch corpus under BUILD_DIR/fuzz-work.
# Any crash, leak, timeout (10 s per input) or sanitizer report fails the
# script; the input that did it is left in BUILD_DIR/fuzz-work/<target>/ and
# belongs in the seed corpus (as regress-*) once the bug is fixed.
set -euo pipefail
build="$1"
seconds="${2:-60}"
src="$(cd "$(dirname "$0")" && pwd)"
status=0
for seeds in "$src"/corpus/*/; do
  target="$(basename "$seeds")"
  bin="$build/tests/fuzz/$target"
  [ -x "$bin" ] || { echo "fuzz: $bin not built" >&2; status=1; continue; }
  work="$build/fuzz-work/$target"
  mkdir -p "$work/corpus"
  dict=()
  [ -f "$src/${target#fuzz_}.dict" ] && dict=(-dict="$src/${target#fuzz_}.dict")
  echo "fuzz: $target for $seconds s"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$work/" "${dict[@]}" "$work/corpus" "$seeds" >"$work/log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^Done" "$work/log" | sed "s/^/fuzz: $target: /"
  else
    tail -60 "$work/log" >&2
    echo "fuzz: $target FAILED; the input is in $work/" >&2
    status=1
  fi
done
exit $status
