#!/usr/bin/env bash
# Reading runs that were killed mid-write or damaged afterwards: report,
# compare, check and history read every good record, warn about the rest,
# and never crash (no signal, no sanitizer report) whatever the bytes.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/plan.yaml" <<'YAML'
name: damaged
run: {warmup: {iterations: 1}, repetitions: {count: 5}}
cases:
  - suite: null
    bytes: [1K, 2K, 4K, 8K]
YAML
expect_exit 0 "$STRATA" run "$WORK/plan.yaml" -o "$WORK/good"
cat >"$WORK/thresholds.yaml" <<'YAML'
name: damaged
thresholds:
  - suite: null
    metric: time
    max: 1000000000
YAML

# run_all RUN: every reader on RUN; each must exit with a strata code (0-4),
# never a signal or a sanitizer report.
run_all() {
  local run="$1" cmd
  for cmd in "report $run -o $WORK/rep" "compare $WORK/good $run -o $WORK/cmp" \
             "check $run --against $WORK/thresholds.yaml" \
             "history --db $WORK/history.sqlite ingest $run"; do
    rm -rf "$WORK/rep" "$WORK/cmp"
    mkdir -p "$WORK/rep" "$WORK/cmp"
    set +e
    # shellcheck disable=SC2086
    "$STRATA" $cmd >"$WORK/out" 2>&1
    local code=$?
    set -e
    if [ "$code" -gt 4 ] || grep -qE "AddressSanitizer|runtime error:|LeakSanitizer" "$WORK/out"; then
      cat "$WORK/out" >&2
      die "strata $cmd: exit $code"
    fi
    echo "  strata ${cmd%% *} on $(basename "$run"): exit $code"
  done
}

# report_says RUN TEXT RECORDS: strata report succeeds, warns TEXT, reports RECORDS records
report_says() {
  mkdir -p "$WORK/rep-$(basename "$1")"
  expect_exit 0 "$STRATA" report "$1" -o "$WORK/rep-$(basename "$1")"
  expect_output "$2"
  grep -q "$3 record" "$WORK/rep-$(basename "$1")/summary.md" ||
    { grep -i record "$WORK/rep-$(basename "$1")/summary.md" | head -3; die "$1: summary does not say $3 records"; }
}

damaged() { rm -rf "$WORK/$1"; cp -r "$WORK/good" "$WORK/$1"; echo "$WORK/$1"; }

# killed mid-write: the last line cut short
d="$(damaged truncated)"
head -c -40 "$WORK/good/results.jsonl" >"$d/results.jsonl"
report_says "$d" "line 4 of 4 is truncated or corrupt" 3
run_all "$d"

# a corrupt line in the middle, with a NUL byte and invalid UTF-8
d="$(damaged corrupt-middle)"
{ sed -n 1p "$WORK/good/results.jsonl"; printf '{"suite": "null", \x00\xff\xfe garbage\n'; sed -n '3,4p' "$WORK/good/results.jsonl"; } >"$d/results.jsonl"
report_says "$d" "1 of 4 line(s) are corrupt (the first is line 2)" 3
run_all "$d"

# the manifest cut in half (a disk that lost its tail)
d="$(damaged manifest-truncated)"
head -c 700 "$WORK/good/manifest.json" >"$d/manifest.json"
report_says "$d" "manifest.json:" 4
expect_output "reporting the records without it"
run_all "$d"

# no manifest at all
d="$(damaged manifest-missing)"
rm "$d/manifest.json"
report_says "$d" "manifest.json: No such file or directory; reporting the records without it" 4
run_all "$d"

# records that parse but have every field of the wrong type
d="$(damaged wrong-types)"
printf '%s\n' '{"suite": 7, "status": [], "metric_key": {}, "params": "x", "metrics": {"time": 5},' \
  '{"suite": "null", "metrics": {"time": {"median": "fast", "ci95_median": [null, "x"], "unit": 3}}, "stats": {"n": -1}, "samples_s": [1, "a", null], "per_rank": [{"rank": "zero"}]}' \
  '[]' '"a string"' '{}' >"$d/results.jsonl"
run_all "$d"

# random bytes, an empty file, an empty manifest
d="$(damaged random)"
head -c 65536 /dev/urandom >"$d/results.jsonl"
run_all "$d"
d="$(damaged empty)"
: >"$d/results.jsonl"
: >"$d/manifest.json"
run_all "$d"

# not a run directory: a clear error, exit 2
mkdir -p "$WORK/not-a-run"
expect_exit 2 "$STRATA" report "$WORK/not-a-run"
expect_output "not a strata run directory"
echo "PASS"
