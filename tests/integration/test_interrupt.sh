#!/usr/bin/env bash
# SIGTERM (what Slurm sends at a time limit) and SIGINT: the run stops after
# the current repetition, keeps every finished case, records the interrupted
# one, marks the manifest incomplete and exits non-zero.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/long.yaml" <<'YAML'
name: long
run: {warmup: {iterations: 1}, repetitions: {count: 5}}
cases:
  - suite: null
    sleep_us: 1000
  - suite: null
    sleep_us: 100000
    run: {repetitions: {count: 100000}}
  - suite: null
YAML

wait_for_records() { # wait_for_records DIR N: until results.jsonl has N lines
  for _ in $(seq 1 200); do
    [ -f "$1/results.jsonl" ] && [ "$(wc -l <"$1/results.jsonl")" -ge "$2" ] && return 0
    sleep 0.1
  done
  die "no $2 records in $1"
}

for sig in TERM INT; do
  # one rank alone
  out="$WORK/single-$sig"
  "$STRATA" run "$WORK/long.yaml" -o "$out" >"$WORK/out" 2>&1 &
  pid=$!
  wait_for_records "$out" 1
  sleep 0.5
  kill -"$sig" "$pid"
  set +e; wait "$pid"; code=$?; set -e
  [ "$code" = 3 ] || { cat "$WORK/out"; die "SIG$sig: exit $code, expected 3"; }
  $CHECK "$out" --incomplete --allow interrupted --expect-cases 2
  grep -q "\"interrupted_by\": \"SIG$sig\"" "$out/manifest.json" || die "manifest lacks interrupted_by SIG$sig"
  grep -q '"status":"interrupted"' "$out/results.jsonl" || die "no interrupted record"
done

# two ranks under mpirun; the signal goes to every rank, as Slurm does
out="$WORK/mpi"
mpirun_n 2 "$STRATA" run "$WORK/long.yaml" -o "$out" >"$WORK/out" 2>&1 &
pid=$!
wait_for_records "$out" 1
sleep 0.5
for p in $(/usr/bin/python3 -c 'import json,sys; print(" ".join(r["pid"] for r in json.load(open(sys.argv[1]))["rank_layout"]))' "$out/manifest.json"); do
  kill -TERM "$p"
done
set +e; wait "$pid"; code=$?; set -e
[ "$code" != 0 ] || die "interrupted mpirun exited 0"
$CHECK "$out" --incomplete --allow interrupted --expect-cases 2
echo "PASS"
