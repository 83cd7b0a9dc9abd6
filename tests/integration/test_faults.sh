#!/usr/bin/env bash
# Faults, end to end under mpirun with 3 ranks (the null suite's test hooks
# fail: die|hang with fault_rank), and a results file system that fills up
# or is read-only:
#   - a rank killed with SIGKILL mid-case: the run ends within seconds with
#     a message naming the rank, its host and pid, and the case; the cases
#     before are in results.jsonl; the manifest says incomplete, and why;
#   - a rank that hangs before the stop vote: rank 0 aborts the run
#     timeout_s + 30 s + 5 s later, naming the case and the rank that did not
#     arrive;
#   - the disk fills up mid-run: exit 3 with the reason, every line of
#     results.jsonl whole; too little room or a read-only directory: a clear
#     error before anything runs.
source "$(dirname "$0")/lib.sh"
host="$(hostname)"

# ---- a rank dies ----------------------------------------------------------------
cat >"$WORK/die.yaml" <<'YAML'
name: die
run: {warmup: {iterations: 1}, repetitions: {count: 5}, timeout_s: 5}
cases:
  - suite: null
  - suite: null
    fail: die
    fault_rank: 1
    sleep_us: 1000
  - suite: null
YAML
t0=$(date +%s)
set +e
timeout 120 mpirun --oversubscribe -np 3 "$STRATA" run "$WORK/die.yaml" -o "$WORK/die" >"$WORK/out" 2>&1
code=$?
set -e
took=$(( $(date +%s) - t0 ))
echo "dead rank: exit $code after $took s"
[ "$code" != 0 ] && [ "$code" != 124 ] || { cat "$WORK/out"; die "dead rank: exit $code"; }
[ "$took" -le 35 ] || die "dead rank: the run took $took s, more than timeout_s + 30 s"
expect_output "strata: rank 1 (pid "
expect_output ") on $host died during case null[device=cpu,sleep_us=1000,fail=die,fault_rank=1"
$CHECK "$WORK/die" --incomplete --expect-cases 1
grep -q '"aborted": "strata: rank 1 (pid' "$WORK/die/manifest.json" || die "manifest does not say why the run was aborted"

# ---- a rank hangs ----------------------------------------------------------------
sed -e 's/fail: die/fail: hang/' -e 's/timeout_s: 5/timeout_s: 2/' "$WORK/die.yaml" >"$WORK/hang.yaml"
t0=$(date +%s)
set +e
timeout 150 mpirun --oversubscribe -np 3 "$STRATA" run "$WORK/hang.yaml" -o "$WORK/hang" >"$WORK/out" 2>&1
code=$?
set -e
took=$(( $(date +%s) - t0 ))
echo "hung rank: exit $code after $took s"
[ "$code" != 0 ] && [ "$code" != 124 ] || { cat "$WORK/out"; die "hung rank: exit $code"; }
# timeout_s 2 + grace 30 + 5 s for the arrivals, plus start-up
[ "$took" -ge 30 ] && [ "$took" -le 60 ] || { cat "$WORK/out"; die "hung rank: the run took $took s"; }
expect_output "case null[device=cpu,sleep_us=1000,fail=hang,fault_rank=1,bytes=0,env_probe=]@default: 1 rank(s) did not arrive"
expect_output "rank(s) 1 ($host)"
$CHECK "$WORK/hang" --incomplete --expect-cases 1

# ---- the results file system ------------------------------------------------------
# A private mount namespace (as root, or as a user through a user namespace)
# holds small tmpfs mounts that vanish with it.
if [ "$(id -u)" = 0 ]; then ns=(unshare -m); else ns=(unshare -r -m); fi
if ! "${ns[@]}" true 2>/dev/null; then
  echo "PASS (dead and hung ranks; the file system part needs unshare -m, not available here)"
  exit 0
fi
cat >"$WORK/slow.yaml" <<'YAML'
name: slow
run: {warmup: {iterations: 1}, repetitions: {count: 5}}
cases:
  - suite: null
    sleep_us: 20000
    bytes: {from: 1, to: 1T, factor: 2}
YAML
mkdir -p "$WORK/fs"
cat >"$WORK/fs.sh" <<'SH'
set -u
STRATA="$1" WORK="$2"
# too little room: refused before anything runs
mount -t tmpfs -o size=512k tmpfs "$WORK/fs"
"$STRATA" run "$WORK/slow.yaml" -o "$WORK/fs/small" >"$WORK/out.small" 2>&1
echo "small $?"
umount "$WORK/fs"
# read-only (root ignores permission bits, not a read-only mount)
mount -t tmpfs -o size=4m,ro tmpfs "$WORK/fs"
"$STRATA" run "$WORK/slow.yaml" -o "$WORK/fs/ro/run" >"$WORK/out.ro" 2>&1
echo "ro $?"
umount "$WORK/fs"
# the disk fills up while the run goes on
mount -t tmpfs -o size=4m tmpfs "$WORK/fs"
"$STRATA" run "$WORK/slow.yaml" -o "$WORK/fs/run" >"$WORK/out.full" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  [ -s "$WORK/fs/run/results.jsonl" ] && break
  sleep 0.1
done
dd if=/dev/zero of="$WORK/fs/filler" bs=4k >/dev/null 2>&1
wait "$pid"
echo "full $?"
rm -f "$WORK/fs/filler"
cp -r "$WORK/fs/run" "$WORK/full"
umount "$WORK/fs"
SH
"${ns[@]}" bash "$WORK/fs.sh" "$STRATA" "$WORK" >"$WORK/out" 2>&1 || { cat "$WORK/out"; die "file system script failed"; }
cat "$WORK/out"
grep -h "^strata: .*\(free\|Read-only\|write failed\)" "$WORK"/out.small "$WORK"/out.ro "$WORK"/out.full || true
grep -qx "small 3" "$WORK/out" || { cat "$WORK/out.small"; die "a nearly full file system was not refused with exit 3"; }
grep -q "bytes free on its file system" "$WORK/out.small" || { cat "$WORK/out.small"; die "no clear message for a full file system"; }
grep -qx "ro 3" "$WORK/out" || { cat "$WORK/out.ro"; die "a read-only results directory was not refused with exit 3"; }
grep -q "Read-only file system" "$WORK/out.ro" || { cat "$WORK/out.ro"; die "no clear message for a read-only directory"; }
grep -qx "full 3" "$WORK/out" || { cat "$WORK/out.full"; die "a run whose disk filled up did not exit 3"; }
grep -q "results.jsonl: write failed: No space left on device; stopping the run" "$WORK/out.full" ||
  { cat "$WORK/out.full"; die "no clear message when the disk filled up"; }
[ "$(tail -c 1 "$WORK/full/results.jsonl" | od -An -c | tr -d ' ')" = '\n' ] || die "results.jsonl ends in half a line"
n="$(wc -l <"$WORK/full/results.jsonl")"
[ "$n" -ge 1 ] && [ "$n" -lt 41 ] || die "$n records after the disk filled up"
$CHECK "$WORK/full" --incomplete --expect-cases "$n"
echo "PASS"
