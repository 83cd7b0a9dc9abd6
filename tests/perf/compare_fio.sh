#!/usr/bin/env bash
# compare_fio.sh: accuracy benchmark of strata's storage suite against fio
# (Debian package `fio`), same parameters, same file system.
#
# What it is: a script a person runs by hand on a quiet node.  Each round runs
# fio and strata one after the other (A B, then B A in the next round, so
# drift hits both alike) on files in the same directory, with the same
# parameters:
#   sequential write  1 MiB blocks, O_DIRECT, io_uring, queue depth 16,
#                     fsync at the end (fio --end_fsync=1, --overwrite=1 so
#                     both rewrite allocated blocks; strata allocates in its
#                     warm-up pass)
#   sequential read   1 MiB blocks, O_DIRECT, io_uring, queue depth 16
#   random read       4 KiB blocks, O_DIRECT, io_uring, queue depth 16, each
#                     block once per pass (fio's random map; strata's shuffle)
# strata registers its buffers with the ring (READ/WRITE_FIXED, recorded as
# fixed_buffers) and sets the ring up as fio's engine does (COOP_TASKRUN,
# SINGLE_ISSUER, DEFER_TASKRUN); fio gets --fixedbufs=1 to match (measured
# here: fio's 1 MiB O_DIRECT writes went from 3.3-4.4 to 4.0-4.7 GB/s with
# it, its system time from 14% to 5-10%).
# strata's buffers are one 2 MiB-aligned region advised for transparent huge
# pages, so a 1 MiB transfer is one physically contiguous segment; fio's
# malloc'd buffers are 4 KiB pages, and on a queue taking fewer segments than
# a transfer has (virtio-blk here: max_segments 254 < 256) each 1 MiB read
# becomes two requests.  Measured here: fio 1.4-2.0 GB/s against strata
# 2.9-4.0; with --mem=shmhuge fio gave 3.1-3.7 and strata 3.1-3.7.  So fio
# gets --mem=shmhuge whenever enough hugetlb pages are free (-H reserves them).
# The script prints both figures per round and the median over rounds of
# strata / fio.
#
# Note (2-vCPU VM, ext4 on virtio-blk, kernel 6.18, fio 3.33, 1 GiB, 8 rounds,
# -H): median strata / fio = 1.001 sequential write (10.4 GB/s, the host's
# cache), 0.993 sequential read (4.5 GB/s), 1.011 random 4 KiB read (125k
# IOPS).  Single rounds scatter by +-25% on a shared VM: quote the median.  Goals: >= 0.95 for sequential GB/s, >= 0.90 for random
# 4 KiB IOPS.  What it is not: a ctest (timings are too noisy here for a
# pass mark).
#
# Figures: fio's bw_bytes (bytes/s over the job's runtime, all --loops
# passes) and read iops; strata's median repetition (`bandwidth`, GB/s, and
# `iops`).  Both in decimal GB/s here (fio prints MiB/s too).
#
# Usage: tests/perf/compare_fio.sh [options]
#   -b DIR   strata build directory (default: build); needs DIR/strata
#   -d DIR   directory to test in (default: $TMPDIR, else /tmp); it must take
#            O_DIRECT: if it does not, /var/tmp and then $HOME are tried and the
#            one used is printed
#   -s SIZE  file size (default: 1G; fio and strata size syntax)
#   -r N     rounds (default: 5)
#   -l N     passes per measurement: fio --loops, strata repetitions (default: 3)
#   -H       (root) reserve 32 hugetlb pages (vm.nr_hugepages) for fio's
#            --mem=shmhuge during the run, and restore the old value on exit
# Environment: STRATA_LAUNCH, a prefix for strata (e.g. "mpirun -np 1");
# default none (a singleton MPI process).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$REPO/build
DIR=${TMPDIR:-/tmp}
SIZE=1G
ROUNDS=5
LOOPS=3
RESERVE_HUGE=0
while getopts "b:d:s:r:l:Hh" opt; do
	case $opt in
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	d) DIR=$OPTARG ;;
	s) SIZE=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	l) LOOPS=$OPTARG ;;
	H) RESERVE_HUGE=1 ;;
	h) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d'; exit 0 ;;
	*) exit 2 ;;
	esac
done
STRATA=$BUILD/strata
[ -x "$STRATA" ] || { echo "compare_fio: no $STRATA (build first, or -b DIR)" >&2; exit 2; }
command -v fio >/dev/null || { echo "compare_fio: fio not found (apt-get install fio)" >&2; exit 2; }
source "$REPO/scripts/env.sh"

# A directory where O_DIRECT works (overlayfs and some tmpfs refuse it).
direct_ok() { dd if=/dev/zero of="$1/.strata-direct-probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; local rc=$?; rm -f "$1/.strata-direct-probe"; return $rc; }
chosen=
for d in "$DIR" /var/tmp "$HOME"; do
	if [ -d "$d" ] && [ -w "$d" ] && direct_ok "$d"; then chosen=$d; break; fi
	echo "compare_fio: O_DIRECT does not work in $d" >&2
done
[ -n "$chosen" ] || { echo "compare_fio: no directory takes O_DIRECT" >&2; exit 3; }
DIR=$chosen
WORK=$(mktemp -d "$DIR/strata-compare-fio-XXXXXX")
old_huge=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
	rm -rf "$WORK"
	if [ "$RESERVE_HUGE" = 1 ]; then echo "$old_huge" >/proc/sys/vm/nr_hugepages; fi
}
trap cleanup EXIT
if [ "$RESERVE_HUGE" = 1 ]; then
	echo $((old_huge + 32)) >/proc/sys/vm/nr_hugepages ||
		{ echo "compare_fio: -H needs root" >&2; exit 2; }
fi
huge_free_kb=$(awk '/HugePages_Free/ {f=$2} /Hugepagesize/ {s=$2} END {print f*s}' /proc/meminfo)
FIO_MEM=()
if [ "${huge_free_kb:-0}" -ge 65536 ]; then
	FIO_MEM=(--mem=shmhuge)
	echo "compare_fio: fio buffers in hugetlb pages (--mem=shmhuge), strata's in transparent huge pages"
else
	echo "compare_fio: NOTE: no free hugetlb pages: fio's buffers are 4 KiB pages, strata's huge;"
	echo "compare_fio: NOTE: sequential ratios above 1 then reflect buffer contiguity (see -H)"
fi
fstype=$(stat -f -c %T "$DIR")
echo "compare_fio: directory $DIR ($fstype), file size $SIZE, $ROUNDS rounds, $LOOPS passes each"
echo "compare_fio: fio $(fio --version), strata $("$STRATA" --version | head -1)"

FIOFILE=$WORK/fio.dat
fio_run() { # fio_run NAME RW BS -> prints GB/s or IOPS
	local rw=$2 bs=$3 extra=()
	[ "$rw" = write ] && extra=(--end_fsync=1 --overwrite=1)
	fio --name="$1" --filename="$FIOFILE" --size="$SIZE" --bs="$bs" --rw="$rw" --direct=1 \
	    --ioengine=io_uring --iodepth=16 --fixedbufs=1 "${FIO_MEM[@]}" --loops="$LOOPS" \
	    "${extra[@]}" \
	    --output-format=json >"$WORK/fio.json"
	/usr/bin/python3 - "$WORK/fio.json" "$rw" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
rw = sys.argv[2]
side = j["write"] if rw == "write" else j["read"]
print(side["iops"] if rw == "randread" else side["bw_bytes"] / 1e9)
PY
}

cat >"$WORK/plan.yaml" <<YAML
name: compare-fio
run:
  warmup: {iterations: 1}
  repetitions: {count: $LOOPS}
  timeout_s: 3600
cases:
  - suite: storage
    pattern: [seq-write, seq-read]
    engine: io_uring
    direct: true
    iodepth: 16
    block: 1M
    file_size: $SIZE
    dir: $WORK
  - suite: storage
    pattern: rand-read
    engine: io_uring
    direct: true
    iodepth: 16
    block: 4K
    file_size: $SIZE
    dir: $WORK
YAML

strata_run() { # -> "seqwrite_gbs seqread_gbs randread_iops"
	rm -rf "$WORK/run"
	${STRATA_LAUNCH:-} "$STRATA" run "$WORK/plan.yaml" -o "$WORK/run" >"$WORK/strata.out" 2>&1 ||
		{ cat "$WORK/strata.out" >&2; return 1; }
	/usr/bin/python3 - "$WORK/run/results.jsonl" <<'PY'
import json, sys
out = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    m = r["metrics"]
    p = r["params"]["pattern"]
    out[p] = m["iops"]["median"] if p == "rand-read" else m["bandwidth"]["median"]
print(out["seq-write"], out["seq-read"], out["rand-read"])
PY
}

results=$WORK/rounds.txt
: >"$results"
for round in $(seq 1 "$ROUNDS"); do
	if [ $((round % 2)) = 1 ]; then order="fio strata"; else order="strata fio"; fi
	for who in $order; do
		if [ "$who" = fio ]; then
			fw=$(fio_run w write 1M); fr=$(fio_run r read 1M); fi_=$(fio_run rr randread 4k)
			rm -f "$FIOFILE"
		else
			read -r sw sr si < <(strata_run)
		fi
	done
	printf "round %d (%s): seq-write fio %.3f strata %.3f GB/s | seq-read fio %.3f strata %.3f GB/s | rand-read 4K fio %.0f strata %.0f IOPS\n" \
		"$round" "$order" "$fw" "$sw" "$fr" "$sr" "$fi_" "$si"
	echo "$fw $sw $fr $sr $fi_ $si" >>"$results"
done

/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
def med(i):
    return statistics.median(r[i] for r in rows)
def ratio(i, j):
    return statistics.median(r[j] / r[i] for r in rows if r[i] > 0)
print()
print("%-22s %12s %12s %14s %6s" % ("", "fio median", "strata median", "ratio (median)", "goal"))
for name, i, goal, unit in (("seq write 1M GB/s", 0, 0.95, ""), ("seq read 1M GB/s", 2, 0.95, ""),
                            ("rand read 4K IOPS", 4, 0.90, "")):
    r = ratio(i, i + 1)
    print("%-22s %12.4g %12.4g %14.3f %6.2f %s" % (name, med(i), med(i + 1), r, goal,
                                                 "ok" if r >= goal else "BELOW GOAL"))
PY
