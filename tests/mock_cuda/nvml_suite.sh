#!/usr/bin/env bash
# NVML end to end: kernels/gpu/nvml.c, gpu_case.c, gpu_manifest.c and
# gpu_peak.c under `strata run` of membw device cuda, kernel h2d (small
# copies on the CUDA stand-in), with the fake libnvidia-ml.so.1
# (tests/mock_cuda/nvml/mock_nvml.c, built into <build>/tests/mock_nvml and
# found through LD_LIBRARY_PATH only).  Asserts: the manifest's GPU facts
# and derived peaks come from NVML, for the right device (UUID by PCI bus
# id); each case record carries the cool-down wait, telemetry min/median/max,
# energy and GB/J, health counters; a throttled GPU is flagged; a GPU that
# never cools is waited for until the timeout and recorded as not reached;
# a busy GPU is waited for until idle; a GPU without a temperature sensor, an
# NVML that fails to initialise and no NVML at all still run, and say so.
# `strata report` shows the conditions table and flags the throttled, the
# warm and the ECC-error cases (reports/report_gpu.c).
# The knobs (MOCK_NVML_*) are described at the top of mock_nvml.c.
# $1 = strata_mock_cuda, $2 = source dir (tests/integration/lib.sh).
source "$2/tests/integration/lib.sh" "$1" "$2"
MOCK_NVML_DIR="$(cd "$(dirname "$1")" && pwd)/mock_nvml"
[ -f "$MOCK_NVML_DIR/libnvidia-ml.so.1" ] || die "no fake NVML at $MOCK_NVML_DIR"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MOCK_CUDA_DEVICES=2
export STRATA_GPU_SAMPLE_MS=20 STRATA_GPU_COOL_TIMEOUT_S=10 STRATA_GPU_SETTLE_S=0.3
unset STRATA_GPU_COOL_C

# Two small h2d cases, one per "GPU" (bus 0x18 and 0x19).
cat >"$WORK/h2d.yaml" <<YAML
name: nvml-mock
run: {warmup: {iterations: 1}, repetitions: {count: 3, min_seconds: 0}, timeout_s: 60}
cases:
  - suite: membw
    device: cuda
    kernel: h2d
    array_bytes: 1M
    gpu: [0, 1]
YAML

# run_nvml NAME [VAR=value ...]: strata run with the fake NVML (and the
# given knobs) into $WORK/NAME.
run_nvml() {
	local name="$1"; shift
	expect_exit 0 env LD_LIBRARY_PATH="$MOCK_NVML_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@" \
		timeout -k 5 120 "$STRATA" run "$WORK/h2d.yaml" -o "$WORK/$name"
}
check() { # check NAME: python (stdin) on $WORK/NAME's records (recs) and manifest (gpus)
	/usr/bin/python3 - "$WORK/$1" <<PY
import json, math, sys
d = sys.argv[1]
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
gpus = json.load(open(d + "/manifest.json"))["systems"][0]["gpus"]
assert len(recs) == 2, [r.get("reason") for r in recs]
for r in recs:
    assert r["status"] == "passed", (r["status"], r.get("reason"))
    assert r["backend"] == "cuda", r["backend"]
    assert r["details"]["kernel"] == "h2d", r["details"]["kernel"]
def close(a, b, rel=0.02):
    return abs(a - b) <= rel * abs(b)
$(cat)
PY
}

# 1. A GPU that comes in hot (60 C, cooling 20 C/s) behind a link that
#    idles at gen1: the wait, the facts, the peaks, telemetry and energy.
run_nvml main MOCK_NVML_TEMP_START=60 MOCK_NVML_COOL_C_PER_S=20 STRATA_GPU_COOL_C=45 \
	MOCK_NVML_PCIE=1x16 MOCK_NVML_PCIE_MAX=5x16 MOCK_NVML_POWER_W=400
check main <<'PY'
assert "nvml_error" not in gpus["software"], gpus["software"]
assert len(gpus["devices"]) == 2, gpus["devices"]
for i, dev in enumerate(gpus["devices"]):
    n, bus = dev["nvml"], 0x18 + i
    assert dev["pci_bus_id"] == "0000:%02X:00.0" % bus, dev["pci_bus_id"]
    # The handle NVML gave for this bus id is this device's.
    assert n["uuid"].startswith("GPU-") and n["uuid"].endswith("%012x" % bus), n["uuid"]
    assert n["name"] == dev["name"] == "NVIDIA H100 80GB HBM3", n["name"]
    assert n["driver_version"] == "570.124.06" and n["cuda_driver_version"] == 12080, n
    assert n["power_limit_w"] == 700.0 and n["ecc_enabled"] is True, n
    assert n["memory_total_bytes"] == dev["memory_bytes"], n
    assert n["sm_clock_max_mhz"] == 1980 and n["mem_clock_max_mhz"] == 2619, n
    assert n["pcie"] == {"gen": 1, "width": 16, "gen_max": 5, "width_max": 16}, n["pcie"]
    assert n["nvlink"] == {"links_active": 18, "version_reported": 4}, n["nvlink"]
    assert 35 <= n["temperature_c"] <= 60, n["temperature_c"]
    p = dev["derived_peaks"]
    # gen5 x16: 16 lanes x 32 GT/s x 128/130 / 8 = 63.02 GB/s, from the
    # link's maximum, not the idle gen1 (3.9 GB/s).
    assert close(p["pcie_gbps_per_direction"], 16 * 32 * 128 / 130 / 8, 1e-9), p
    assert "max link" in p["pcie_rule"] and "current gen1 x16" in p["pcie_rule"], p["pcie_rule"]
    assert p["nvlink_gbps_per_direction"] == 18 * 25.0, p
    assert p["model"] == "H100 SXM5 80GB" and p["hbm_gbps"] == 3350.0, p
for i, r in enumerate(recs):
    dt = r["details"]
    g = dt["gpu"]
    assert g["index"] == i and g["pci_bus_id"] == "0000:%02X:00.0" % (0x18 + i), g
    assert g["nvml"]["uuid"] == gpus["devices"][i]["nvml"]["uuid"], g["nvml"]["uuid"]
    q = dt["quiescence"]
    assert q["target_c"] == 45.0 and q["reached"] is True and q["timeout_s"] == 10.0, q
    assert q["end_temperature_c"] <= 45.0 and q["utilization_at_start_pct"] == 0, q
    t = dt["telemetry"]
    assert t["samples"] >= 2 and t["span_s"] > 0 and t["interval_ms"] == 20.0, t
    for k, v in (("sm_clock", 1980.0), ("mem_clock", 2619.0), ("power", 400.0)):
        assert t[k]["min"] == t[k]["median"] == t[k]["max"] == v, (k, t[k])
        assert t[k]["n"] == t["samples"], (k, t[k])
    assert 35.0 <= t["temperature"]["min"] <= t["temperature"]["median"] <= t["temperature"]["max"] <= 45.0, t["temperature"]
    assert t["utilization_gpu"]["max"] == 0.0, t["utilization_gpu"]
    assert t["throttled"] is False and t["throttled_samples"] == 0, t
    assert t["clock_event_reasons_seen"] == "none", t
    e = dt["energy"]
    assert e["source"] == "nvmlDeviceGetTotalEnergyConsumption over the timed phase", e
    assert e["joules"] > 0 and e["seconds"] > 0 and e["work_unit"] == "GB", e
    # The counter grows at 400 W; counter and clock are read 1 mJ / 1 ns apart.
    assert close(e["average_power_w"], 400.0, 0.05), e
    assert e["timed_launches"] >= 3 and close(e["work"], e["timed_launches"] * dt["bytes_per_launch"] / 1e9, 1e-9), e
    eff = e["efficiency"]
    assert eff["unit"] == "GB/J" and close(eff["value"], e["work"] / e["joules"], 1e-6), eff
    h = dt["health"]
    assert h["ecc_uncorrected_volatile"] == {"start": 0, "end": 0, "delta": 0}, h
    assert h["remapped_rows_correctable"]["delta"] == 0 and h["remap_failure"] is False, h
    assert h["retired_pages_sbe"] is None, h  # Not Supported on Hopper
    # The copy peak is the link the GPU trains to (gen5), not the idle gen1.
    assert dt["peak_source"].startswith("PCIe gen5 x16 (NVML max link)"), dt["peak_source"]
# The hot GPU was waited for: the first case found it above 45 C.
q0 = recs[0]["details"]["quiescence"]
assert q0["start_temperature_c"] > 45.0 and q0["wait_s"] >= 0.1, q0
print("nvml: facts, peaks, cool-down %.2f s from %.0f C, telemetry, %.1f J (%.3f GB/J)" % (
    q0["wait_s"], q0["start_temperature_c"], recs[0]["details"]["energy"]["joules"],
    recs[0]["details"]["energy"]["efficiency"]["value"]))
PY

report_says() { # report_says NAME TEXT: `strata report` on run NAME writes TEXT in summary.md
	expect_exit 0 "$STRATA" report "$WORK/$1"
	grep -qF -- "$2" "$WORK/$1/summary.md" || { cat "$WORK/$1/summary.md" >&2; die "$1's report lacks '$2'"; }
}
report_says main "| case | GPU | start C (cool-down s) | SM MHz min / median |"
report_says main "| no |"

# 1b. No STRATA_GPU_COOL_C, a GPU still cooling from earlier work (60 C,
#     10 C/s down to 35): the first case on it waits until the temperature
#     stops falling (1 s settle window), the next one on the same GPU aims
#     at what it settled at + 5 C and does not wait.
cat >"$WORK/settle.yaml" <<YAML
name: nvml-settle
run: {warmup: {iterations: 0}, repetitions: {count: 2, min_seconds: 0}, timeout_s: 60}
cases:
  - {suite: membw, device: cuda, kernel: h2d, array_bytes: [64K, 128K], gpu: 0}
YAML
expect_exit 0 env LD_LIBRARY_PATH="$MOCK_NVML_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	MOCK_NVML_TEMP_START=60 MOCK_NVML_COOL_C_PER_S=10 STRATA_GPU_SETTLE_S=1 \
	timeout -k 5 120 "$STRATA" run "$WORK/settle.yaml" -o "$WORK/settle"
check settle <<'PY'
q0, q1 = (r["details"]["quiescence"] for r in recs)
# 25 C of cooling at 10 C/s, then 1 s without a 1 C drop.
assert q0["settle_s"] == 1.0 and q0["reached"] is True and q0["end_temperature_c"] == 35.0, q0
assert 3.2 <= q0["wait_s"] < 8.0, q0
assert q1["settle_s"] == 0.0 and q1["target_c"] == 40.0 and q1["wait_s"] < 0.5, q1
print("nvml: first case waited %.2f s for the GPU to settle at %.0f C" % (q0["wait_s"], q0["end_temperature_c"]))
PY

# 2. Clock-event reasons sw_power_cap|sw_thermal: flagged, not failed.
run_nvml throttle MOCK_NVML_THROTTLE=1
check throttle <<'PY'
for r in recs:
    t = r["details"]["telemetry"]
    assert t["throttled"] is True and t["throttled_samples"] == t["samples"] >= 2, t
    assert t["clock_event_reasons_seen"] == "sw_power_cap,sw_thermal", t
    assert t["sm_clock"]["max"] == 1410.0, t["sm_clock"]
print("nvml: throttling flagged")
PY
report_says throttle "| yes: "
report_says throttle "clocks throttled (sw_power_cap,sw_thermal)"
# strata compare names the GPUs and driver of each run, and says which
# case's clocks throttled in one run only (a confounder of the change).
expect_exit 0 "$STRATA" compare "$WORK/main" "$WORK/throttle" -o "$WORK/cmp"
for want in "2 x NVIDIA H100 80GB HBM3 (driver 570.124.06, CUDA runtime" \
	"clocks throttled in B only: its figures there may be low for that reason"; do
	grep -qF -- "$want" "$WORK/cmp/compare.md" || { cat "$WORK/cmp/compare.md" >&2; die "compare lacks '$want'"; }
done

# 3. A GPU that never cools below 95 C: waited for until the timeout, then
#    the case runs and the record says the target was not reached.
run_nvml hot MOCK_NVML_TEMP_START=95 MOCK_NVML_COOL_C_PER_S=0 STRATA_GPU_COOL_C=45 \
	STRATA_GPU_COOL_TIMEOUT_S=0.5
check hot <<'PY'
for r in recs:
    q = r["details"]["quiescence"]
    assert q["reached"] is False and q["timeout_s"] == 0.5, q
    assert 0.5 <= q["wait_s"] < 3.0, q
    assert q["start_temperature_c"] == q["end_temperature_c"] == 95.0, q
    assert r["details"]["telemetry"]["temperature"]["min"] == 95.0, r["details"]["telemetry"]
print("nvml: too hot -> waited %.2f s, recorded as not reached" % recs[0]["details"]["quiescence"]["wait_s"])
PY
report_says hot "started warm: 95 C after the 0.5 s cool-down limit (target 45 C)"

# 4. Busy (100% utilisation for 1 s after init), no target set: the first
#    case has no idle temperature to aim at, so it waits for idle only.
run_nvml busy MOCK_NVML_BUSY_S=1.0
check busy <<'PY'
q = recs[0]["details"]["quiescence"]
assert q["utilization_at_start_pct"] == 100 and q["reached"] is True, q
assert q["target_c"] is None and q["wait_s"] > 0.1, q
print("nvml: busy GPU -> waited %.2f s for idle" % q["wait_s"])
PY

# 5. Uncorrectable ECC errors appearing during the case: in the health delta.
run_nvml ecc MOCK_NVML_ECC_UNC_PER_S=1000
check ecc <<'PY'
for r in recs:
    u = r["details"]["health"]["ecc_uncorrected_volatile"]
    assert u["delta"] > 0 and u["end"] == u["start"] + u["delta"], u
print("nvml: uncorrectable ECC errors during the case recorded")
PY
report_says ecc "new uncorrectable ECC error(s)"

# 6. No temperature sensor: the wait and the record go on without one.
run_nvml notemp MOCK_NVML_NO_TEMP=1 STRATA_GPU_COOL_C=45
check notemp <<'PY'
for r in recs:
    q, t = r["details"]["quiescence"], r["details"]["telemetry"]
    assert q["start_temperature_c"] is None and q["reached"] is True, q
    assert t["temperature"] is None and t["power"]["n"] >= 2, t
    assert r["details"]["energy"]["joules"] > 0, r["details"]["energy"]
assert gpus["devices"][0]["nvml"]["temperature_c"] is None, gpus["devices"][0]["nvml"]
print("nvml: no temperature sensor -> null, still waits for idle")
PY

# 7. nvmlInit_v2 fails (driver not loaded): said in the manifest and records.
run_nvml initfail MOCK_NVML_INIT_FAIL=1
check initfail <<'PY'
why = "nvmlInit_v2 failed: Driver Not Loaded (9)"
assert gpus["software"]["nvml_error"] == why, gpus["software"]
for dev in gpus["devices"]:
    assert "nvml" not in dev and "pcie_gbps_per_direction" not in dev["derived_peaks"], dev
for r in recs:
    dt = r["details"]
    assert dt["gpu"]["nvml_error"] == why, dt["gpu"]
    assert "telemetry" not in dt and "quiescence" not in dt and "health" not in dt, dt.keys()
    assert dt["energy"]["joules"] is None and dt["energy"]["source"] == "none: NVML unavailable", dt["energy"]
print("nvml: init failure recorded, cases run")
PY
report_says initfail "GPU conditions: no telemetry, energy or cool-down figures (nvmlInit_v2 failed"

# 8. No libnvidia-ml.so.1 at all (unless this host has a real driver).
if /sbin/ldconfig -p 2>/dev/null | grep 'libnvidia-ml\.so\.1 ' >/dev/null; then  # not -q: an early exit would SIGPIPE ldconfig under pipefail
	echo "nvml: a real libnvidia-ml.so.1 is installed here; the no-NVML run is skipped"
else
	expect_exit 0 timeout -k 5 120 "$STRATA" run "$WORK/h2d.yaml" -o "$WORK/none"
	check none <<'PY'
why = gpus["software"]["nvml_error"]
assert why.startswith("NVML not available (no NVIDIA driver): libnvidia-ml.so.1"), why
for dev in gpus["devices"]:
    assert "nvml" not in dev and "model" in dev["derived_peaks"], dev
for r in recs:
    dt = r["details"]
    assert dt["gpu"]["nvml_error"] == why, dt["gpu"]
    assert dt["energy"]["joules"] is None and "telemetry" not in dt, dt
    assert dt["peak_source"].startswith("unknown"), dt["peak_source"]
print("nvml: no library -> 'NVML not available' in the manifest and records, cases run")
PY
fi
echo "nvml: all checks passed"
