# Sourced by the integration tests.  $1 = strata binary, $2 = source dir.
set -euo pipefail
STRATA="$1"
SRC="$2"
CHECK="/usr/bin/python3 $SRC/tests/integration/check_run.py"
WORK="$(mktemp -d /tmp/strata-it-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

mpirun_n() { # mpirun_n N args...: bounded, so a hang fails the test instead of orphaning ranks
  local n="$1"; shift
  timeout -k 10 "${STRATA_TEST_MPI_TIMEOUT:-400}" mpirun --oversubscribe -np "$n" "$@"
}

die() { echo "FAIL: $*" >&2; exit 1; }

# expect_exit CODE command...: run, capture output in $WORK/out, check status
expect_exit() {
  local want="$1"; shift
  set +e
  "$@" >"$WORK/out" 2>&1
  local got=$?
  set -e
  if [ "$got" != "$want" ]; then
    cat "$WORK/out" >&2
    die "'$*' exited $got, expected $want"
  fi
}

expect_output() { # expect_output TEXT: the last command's output contains TEXT
  grep -qF -- "$1" "$WORK/out" || { cat "$WORK/out" >&2; die "output lacks '$1'"; }
}
