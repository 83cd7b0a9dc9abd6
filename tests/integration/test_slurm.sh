#!/usr/bin/env bash
# Real Slurm on this one host: munged, slurmctld and slurmd from Debian's
# slurm-wlm and munge packages, with a minimal slurm.conf written here (its
# own ports, state and spool directories, munge socket and key, so it never
# touches a system Slurm).  Then:
#   1. srun -n 2 strata run configs/smoke.yaml: every case passes and the
#      manifest records the launcher: Slurm job id, step id, node list, tasks;
#   2. a Slurm time limit (SIGTERM, then SIGKILL after KillWait): the run
#      stops at a repetition boundary, keeps what it measured, exits 3;
#   3. a rank killed with SIGKILL mid-case under srun: the run ends with a
#      message naming the rank, host and case.
# Installs nothing: scripts/install-deps.sh does.  Exit 77 (a skip for ctest)
# only where Slurm cannot start at all: not installed.  The daemons run as
# the user running the test (root in CI; any user works, since every job
# step is that user's own).
source "$(dirname "$0")/lib.sh"

skip() { echo "SKIP: $*"; exit 77; }

for cmd in munged mungekey slurmctld slurmd srun sinfo scontrol; do
  command -v "$cmd" >/dev/null 2>&1 ||
    skip "$cmd not found: Slurm and munge are not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
done
me="$(id -un)"

S="$WORK/slurm"
mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/tmp" "$S/ompi"
chmod 711 "$WORK" "$S"
chmod 700 "$S/munge"
pids=()
stop_daemons() {
  # Steps still running (a failed check) end first, or their slurmstepd
  # would outlive slurmd.
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    scancel --quiet --user "$me" 2>/dev/null || true
    for _ in $(seq 1 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
}
trap 'stop_daemons; rm -rf "$WORK"' EXIT

show_logs() {
  for f in "$S"/*.log; do echo "---- $f"; tail -30 "$f"; done >&2
}

# ---- munge ---------------------------------------------------------------
mungekey -c -k "$S/munge/munge.key" >/dev/null
munged -F -f --key-file="$S/munge/munge.key" --socket="$S/munge/munge.sock" \
  --pid-file="$S/munge/munged.pid" --seed-file="$S/munge/munged.seed" \
  --log-file="$S/munged.log" >"$S/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [ -S "$S/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$S/munge/munge.sock" ] || { show_logs; die "munged did not start"; }

# ---- slurm.conf ------------------------------------------------------------
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ctld_port="$(free_port)"
slurmd_port="$(free_port)"
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port="$(free_port)"; done
host="$(hostname -s)"
first_job_id=$(( (RANDOM * 32768 + RANDOM) % 60000000 + 1000 ))
# The node line as slurmd itself sees the hardware (CPUs, sockets, cores,
# threads, RealMemory), so slurmd never finds the node smaller than declared.
node_line="$(slurmd -C | head -1)"
case "$node_line" in NodeName=*) ;; *) die "slurmd -C printed '$node_line'";; esac
cat >"$S/slurm.conf" <<EOF
ClusterName=strata-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$me
SlurmdUser=$me
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.sock
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
# The PMIx plugin's per-step directories go under TmpFS (default /tmp, where
# job ids of another test Slurm, or a stale killed step, would collide).
TmpFS=$S/tmp
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: works in containers and VMs without a delegated cgroup tree.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Debian's Open MPI 4.1 starts under Slurm's PMIx plugin only (not pmi2).
MpiDefault=pmix
SwitchType=switch/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
# Job ids (so PMIx namespaces "slurm.pmix.JOB.STEP", and the Open MPI
# session directories named after them) unlike those of another test Slurm
# running on this machine at the same time.
FirstJobId=$first_job_id
# At a time limit (whole minutes, checked every 30 s or so): SIGTERM, then
# SIGKILL 10 s later.
KillWait=10
OverTimeLimit=0
MessageTimeout=20
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=strata Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
export SLURM_CONF="$S/slurm.conf"
# Open MPI's session directory (its shared-memory segments) in ours too.
export OMPI_MCA_orte_tmpdir_base="$S/ompi"

# ---- daemons ---------------------------------------------------------------
slurmctld -D -i -f "$SLURM_CONF" >>"$S/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N "$host" -f "$SLURM_CONF" >>"$S/slurmd.out" 2>&1 &
pids+=($!)
up=0
for _ in $(seq 1 60); do
  state="$(sinfo -h -n "$host" -o %t 2>/dev/null || true)"
  case "$state" in idle*|mix*|alloc*) up=1; break;; esac
  sleep 0.5
done
[ "$up" = 1 ] || { show_logs; cat "$S"/*.out >&2; die "slurmctld/slurmd did not bring node $host up (state '$state')"; }
echo "slurm up: $(sinfo -h -o '%P %a %D %t %N')"

# ---- 1. srun -n 2 strata run configs/smoke.yaml ------------------------------
run="$WORK/smoke"
set +e
timeout 600 srun -n 2 --overcommit --kill-on-bad-exit=1 -t 10 -J strata-smoke \
  "$STRATA" run "$SRC/configs/smoke.yaml" -o "$run" >"$WORK/out" 2>&1
code=$?
set -e
[ "$code" = 0 ] || { tail -40 "$WORK/out"; show_logs; die "srun strata run exited $code"; }
$CHECK "$run" --allow skipped
/usr/bin/python3 - "$run/manifest.json" "$host" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
host = sys.argv[2]
l = m.get("launcher") or sys.exit("manifest has no launcher")
s = l.get("slurm") or sys.exit("launcher has no slurm object: %s" % l)
def need(cond, what):
    if not cond:
        sys.exit("manifest launcher: %s: %s" % (what, json.dumps(l)))
need(l["kind"] == "srun", "kind is not srun")
need(isinstance(s.get("job_id"), int) and s["job_id"] > 0, "job_id")
need(isinstance(s.get("step_id"), int) and s["step_id"] >= 0, "step_id")
need(s.get("nodelist") == host, "nodelist is not %s" % host)
need(s.get("ntasks") == 2 and s.get("nnodes") == 1, "ntasks/nnodes")
need(s.get("job_name") == "strata-smoke" and s.get("mpi") == "pmix", "job_name/mpi")
need(m["ranks"] == 2 and len(m["rank_layout"]) == 2, "ranks")
need(all(r["host"] == host for r in m["rank_layout"]), "rank hosts")
print("launcher OK: job %s step %s on %s, %d tasks" % (s["job_id"], s["step_id"], s["nodelist"], s["ntasks"]))
PY

# ---- 2. a Slurm time limit -------------------------------------------------------
cat >"$WORK/long.yaml" <<'YAML'
name: long
run: {warmup: {iterations: 1}, repetitions: {count: 3}}
cases:
  - suite: null
  - suite: null
    sleep_us: 200000
    run: {repetitions: {count: 100000}, timeout_s: 3600}
YAML
run="$WORK/limit"
t0=$(date +%s)
set +e
# -t 1: one minute, the shortest limit Slurm has (it counts in minutes).
timeout 300 srun -n 2 --overcommit -t 1 -J strata-limit \
  "$STRATA" run "$WORK/long.yaml" -o "$run" >"$WORK/out" 2>&1
code=$?
set -e
echo "time limit: srun exited $code after $(( $(date +%s) - t0 )) s"
[ "$code" != 0 ] || die "a run stopped by the time limit exited 0"
grep -q "TIME LIMIT" "$WORK/out" || { cat "$WORK/out"; die "srun did not report the time limit"; }
$CHECK "$run" --incomplete --allow interrupted --expect-cases 2
grep -q '"interrupted_by": "SIGTERM"' "$run/manifest.json" || { cat "$WORK/out"; die "manifest lacks interrupted_by SIGTERM"; }
grep -q '"exit_code": 3' "$run/manifest.json" || die "manifest lacks exit_code 3"
grep -q '"status":"interrupted"' "$run/results.jsonl" || die "no interrupted record after the time limit"

# ---- 3. a rank killed mid-case ----------------------------------------------------
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
run="$WORK/die"
t0=$(date +%s)
set +e
timeout 300 srun -n 2 --overcommit -t 5 -J strata-die "$STRATA" run "$WORK/die.yaml" -o "$run" >"$WORK/out" 2>&1
code=$?
set -e
took=$(( $(date +%s) - t0 ))
echo "dead rank: srun exited $code after $took s"
[ "$code" != 0 ] || die "a run with a dead rank exited 0"
[ "$took" -lt 60 ] || die "a run with a dead rank took $took s"
expect_output "strata: rank 1 (pid "
expect_output ") on $host died during case null[device=cpu,sleep_us=1000,fail=die,fault_rank=1"
$CHECK "$run" --incomplete --expect-cases 1
echo "PASS"
