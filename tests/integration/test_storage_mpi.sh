#!/usr/bin/env bash
# The storage suites under mpirun -np 2 in a temporary directory: every
# pattern (seq/rand read/write and checkpoint over the three layouts and both
# engines, buffered and O_DIRECT where the file system takes it; metadata per
# rank and shared; the data loader with a fixed count and with the search).
# Checks that every record passed and matches the schema, that verification
# ran and read data back, that file system and cache facts are recorded, that
# nothing is left in the directory; that a plan needing more than the free
# space is refused with a clear message; and that SIGTERM in the middle of a
# storage case (one rank alone, and two ranks under mpirun) still removes the
# work directory.
source "$(dirname "$0")/lib.sh"

DATA="$WORK/data"
mkdir -p "$DATA"
# O_DIRECT where this file system takes it; buffered only where not.
if dd if=/dev/zero of="$DATA/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
  DIRECT1=true
else
  echo "note: O_DIRECT not supported in $DATA; buffered only"
  DIRECT1=false
fi
rm -f "$DATA/probe"

cat >"$WORK/storage.yaml" <<YAML
name: storage-it
run:
  warmup: {iterations: 1}
  repetitions: {count: 3}
  timeout_s: 120
cases:
  - suite: storage
    pattern: [seq-write, seq-read, rand-write, rand-read, checkpoint]
    layout: [file-per-rank, shared-segmented, shared-strided]
    engine: [io_uring, psync]
    direct: $DIRECT1
    block: 64K
    file_size: 1M
    drop_cache: fadvise
    dir: $DATA
  - suite: storage
    pattern: [seq-write, seq-read, rand-write, rand-read, checkpoint]
    layout: [file-per-rank, shared-strided]
    direct: false
    block: 64K
    file_size: 1M
    drop_cache: fadvise
    dir: $DATA
  - suite: storage
    pattern: seq-read
    direct: false
    block: 64K
    file_size: 1M
    drop_cache: auto
    dir: $DATA
  - suite: storage
    pattern: seq-write
    block: 16K
    file_size: 256K
    fsync_every: 64K
    verify_fraction: 0.5
    dir: $DATA
  - suite: storage_meta
    files: 50
    file_bytes: [0, 1000]
    dir: $DATA
  - suite: storage_loader
    samples: 64
    sample_bytes: 16K
    batch: 2
    compute_us: 300
    accelerators: [0, 2]
    max_accelerators: 4
    readers: 2
    decode_us: 20
    drop_cache: fadvise
    dir: $DATA
YAML

expect_exit 0 mpirun_n 2 "$STRATA" run "$WORK/storage.yaml" -o "$WORK/run"
$CHECK "$WORK/run" --require-suites storage storage_meta storage_loader
[ -z "$(ls -A "$DATA")" ] || { ls -laR "$DATA" >&2; die "files left behind in $DATA"; }

/usr/bin/python3 - "$WORK/run" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl")]
patterns = set()
for r in recs:
    k, d = r["metric_key"], r["details"]
    assert r["status"] == "passed", k
    assert r["validation"]["checked"] and r["validation"]["wrong"] == 0, k
    assert d["filesystem"]["fstype"], k
    assert d["dir"]["workdir"].startswith(d["dir"]["base"] + "/strata-"), k
    assert all(f["median"] >= 0 for f in r["metrics"].values()), k
    assert any(f["median"] > 0 for f in r["metrics"].values()), k
    if r["suite"] == "storage":
        p = r["params"]["pattern"]
        patterns.add(p)
        v = d["verification"]
        # every rank's share read back (or the sample), summed over ranks
        want = 2 * d["bytes_per_rank"] * (1 if r["params"]["verify_fraction"] == 1 else 0.2)
        assert v["bytes_checked"] >= want, (k, v)
        pc = d["page_cache"]
        if p in ("seq-read", "rand-read") and not d["direct"]:
            assert pc["drops"] >= 4 and pc["action"] != "none", (k, pc)  # warm-up + 3 timed
            assert "resident_fraction_max" in pc, k
            assert pc["policy"] == r["params"]["drop_cache"], k
            assert isinstance(d["cache_warm"], bool), k
        if d["direct"]:
            assert "O_DIRECT" in pc["state"] or p.endswith("write"), (k, pc)
        if p == "checkpoint":
            c = d["checkpoint"]
            assert c["repetitions"] == 3 and c["write_s_median"] > 0 and c["read_s_median"] > 0, k
            assert len(c["per_rank_median_s"]) == 2, k
            assert "checkpoint_s" in r["metrics"] and "read_bandwidth" in r["metrics"], k
        assert len(r["per_rank"]) == 2, k
    elif r["suite"] == "storage_meta":
        ph = d["phases"]
        assert ph["repetitions"] == 3 and all(ph[x + "_s_median"] > 0 for x in
                                              ("create", "stat", "open_close", "unlink")), k
        assert "unlink_per_s" in r["metrics"], k
    elif r["suite"] == "storage_loader":
        t = d["time_split"]
        assert t["epochs"] == 3 and t["reader_io_s"] > 0 and t["reader_decode_s"] > 0, k
        assert 0 < r["metrics"]["au"]["median"] <= 100.0001, k
        if r["params"]["accelerators"] == 0:
            s = d["search"]
            assert s["probes"] and s["found_per_node"] == 2 * s["found_per_rank"], k
            assert "accelerators_per_node" in r["metrics"], k
assert patterns == {"seq-write", "seq-read", "rand-write", "rand-read", "checkpoint"}, patterns
print("storage records: %d passed" % len(recs))
PY

# More than the free space: refused (skipped) with the directory and the
# bytes named, before anything is written.
cat >"$WORK/huge.yaml" <<YAML
name: storage-huge
cases:
  - suite: storage
    pattern: seq-write
    file_size: 60T
    dir: $DATA
YAML
expect_exit 0 mpirun_n 2 "$STRATA" run "$WORK/huge.yaml" -o "$WORK/huge"
$CHECK "$WORK/huge" --allow skipped
grep -q '"status":"skipped"' "$WORK/huge/results.jsonl" || die "huge plan not skipped"
grep -q "not enough free space in $DATA" "$WORK/huge/results.jsonl" || die "no free-space message"
grep -q "131941395333120 bytes" "$WORK/huge/results.jsonl" || die "message lacks the bytes needed"
[ -z "$(ls -A "$DATA")" ] || die "files left behind by the refused plan"

# A write failing mid-run (the file size limit standing in for a full disk:
# the same error path): a clear error naming file, offset and errno; the cases
# before and after it are kept; nothing is left behind.
cat >"$WORK/full.yaml" <<YAML
name: storage-full
run: {warmup: {iterations: 1}, repetitions: {count: 2}}
cases:
  - suite: storage
    pattern: seq-write
    file_size: 1M
    direct: false
    dir: $DATA
  - suite: storage
    pattern: seq-write
    file_size: 64M
    block: 256K
    direct: false
    dir: $DATA
  - suite: storage_meta
    files: 10
    dir_mode: per-rank
    dir: $DATA
YAML
set +e
(trap '' XFSZ; ulimit -f 20480; exec "$STRATA" run "$WORK/full.yaml" -o "$WORK/full") >"$WORK/out" 2>&1
code=$?
set -e
[ "$code" = 3 ] || { cat "$WORK/out"; die "write failure: exit $code, expected 3"; }
$CHECK "$WORK/full" --allow error
/usr/bin/python3 - "$WORK/full" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl")]
assert [r["status"] for r in recs] == ["passed", "error", "passed"], [r["status"] for r in recs]
why = recs[1]["reason"]
assert "rank000000.dat" in why and "at offset" in why and "File too large" in why, why
print("write failure:", why)
PY
[ -z "$(ls -A "$DATA")" ] || { ls -la "$DATA" >&2; die "the failed write left files behind"; }

# SIGTERM in the middle of a storage case: the run stops after the current
# repetition, and teardown removes the work directory.
cat >"$WORK/long.yaml" <<YAML
name: storage-long
run: {warmup: {iterations: 1}, repetitions: {count: 100000, min_seconds: 600}, timeout_s: 900}
cases:
  - suite: storage
    pattern: seq-read
    direct: false
    file_size: 8M
    block: 256K
    dir: $DATA
YAML
wait_for_workdir() { # until the case's work directory and the manifest exist
  for _ in $(seq 1 300); do
    ls "$DATA"/strata-* >/dev/null 2>&1 && [ -f "$1/manifest.json" ] && return 0
    sleep 0.1
  done
  die "no work directory appeared in $DATA"
}
# one rank alone
"$STRATA" run "$WORK/long.yaml" -o "$WORK/single" >"$WORK/out" 2>&1 &
pid=$!
wait_for_workdir "$WORK/single"
sleep 1
kill -TERM "$pid"
set +e; wait "$pid"; code=$?; set -e
[ "$code" = 3 ] || { cat "$WORK/out"; die "SIGTERM: exit $code, expected 3"; }
grep -q '"status":"interrupted"' "$WORK/single/results.jsonl" || die "no interrupted record"
[ -z "$(ls -A "$DATA")" ] || { ls -la "$DATA" >&2; die "SIGTERM left files behind (one rank)"; }
# two ranks; the signal to every rank, as Slurm sends it
mpirun_n 2 "$STRATA" run "$WORK/long.yaml" -o "$WORK/mpi" >"$WORK/out" 2>&1 &
pid=$!
wait_for_workdir "$WORK/mpi"
sleep 1
for p in $(/usr/bin/python3 -c 'import json,sys; print(" ".join(r["pid"] for r in json.load(open(sys.argv[1]))["rank_layout"]))' "$WORK/mpi/manifest.json"); do
  kill -TERM "$p"
done
set +e; wait "$pid"; code=$?; set -e
[ "$code" != 0 ] || die "interrupted mpirun exited 0"
$CHECK "$WORK/mpi" --incomplete --allow interrupted --expect-cases 1
[ -z "$(ls -A "$DATA")" ] || { ls -la "$DATA" >&2; die "SIGTERM left files behind (two ranks)"; }
echo "PASS"
