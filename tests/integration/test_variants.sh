#!/usr/bin/env bash
# Variants: interleaved by default (blocks of repetitions alternate between
# variants within each case), sequential on request; each variant's env is
# in effect while its repetitions run (and the user's own value comes back
# afterwards), its params override the case's, and records align by key.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/v.yaml" <<'YAML'
name: variants
run: {warmup: {iterations: 1}, repetitions: {count: 6}, variants: {block: 2}}
cases:
  - {suite: null, sleep_us: 50, env_probe: STRATA_TEST_KNOB}
  - {suite: allreduce, size: 4K}
variants:
  - label: base
  - label: knob
    env: {STRATA_TEST_KNOB: "on"}
    params: {sleep_us: 400}
YAML

check() { # check DIR ORDER
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
d, order = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
assert len(recs) == 4, len(recs)
by = {(r["suite"], r["variant"]): r for r in recs}
base, knob = by[("null", "base")], by[("null", "knob")]
# env in effect for the knob variant only; the user's own value otherwise
assert base["details"]["env_probe"] == "user", base["details"]
assert knob["details"]["env_probe"] == "on", knob["details"]
# params override: 400 us vs 50 us
assert knob["params"]["sleep_us"] == 400 and base["params"]["sleep_us"] == 50
# (minima: a 400 us sleep bounds the knob's from below; medians move with load)
assert knob["stats"]["min"] >= 400e-6 > base["stats"]["min"], (knob["stats"], base["stats"])
# keys align: same case, differing only in the label
assert base["metric_key"].rsplit("@", 1)[0] == knob["metric_key"].rsplit("@", 1)[0]
for r in recs:
    assert r["stats"]["n"] == 6, r["stats"]["n"]
    if order == "interleaved":
        il = r["interleave"]
        assert il["variants"] == ["base", "knob"] and il["block"] == 2 and il["blocks"] >= 3, il
    else:
        assert "interleave" not in r
if order == "interleaved":
    # both variants of a case are recorded next to each other
    assert [r["suite"] for r in recs] == ["null", "null", "allreduce", "allreduce"]
else:
    assert [r["variant"] for r in recs] == ["base", "base", "knob", "knob"]
print("variants ok:", order)
PY
}

export STRATA_TEST_KNOB=user
expect_exit 0 mpirun_n 2 -x STRATA_TEST_KNOB "$STRATA" run "$WORK/v.yaml" -o "$WORK/inter"
$CHECK "$WORK/inter"
check "$WORK/inter" interleaved

sed 's/variants: {block: 2}/variants: {order: sequential}/' "$WORK/v.yaml" >"$WORK/s.yaml"
expect_exit 0 mpirun_n 2 -x STRATA_TEST_KNOB "$STRATA" run "$WORK/s.yaml" -o "$WORK/seq"
$CHECK "$WORK/seq"
check "$WORK/seq" sequential
echo "PASS"
