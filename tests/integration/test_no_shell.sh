#!/usr/bin/env bash
# No plan value ever reaches a shell.
#   1. The source has no way to start one: no system(), popen(), exec*(),
#      posix_spawn() or wordexp() in harness/, suites/, reports/, kernels/.
#   2. End to end: a variant's environment value full of shell syntax is
#      set verbatim with setenv (the null suite's env_probe records what
#      run_once saw) and nothing it says is executed.
source "$(dirname "$0")/lib.sh"

hits="$(grep -rnE '\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|posix_spawnp?|wordexp)[[:space:]]*\(' \
  "$SRC"/harness "$SRC"/suites "$SRC"/reports "$SRC"/kernels \
  --include='*.c' --include='*.h' --include='*.cu' | grep -vE ':[[:space:]]*(/?\*|//)' || true)"
[ -z "$hits" ] || die "a way to start a shell or a program in the sources:
$hits"

marker="$WORK/pwned"
value="x; touch $marker; \$(touch $marker) \`touch $marker\` | touch $marker && echo '\"'"
cat >"$WORK/env.yaml" <<YAML
name: no-shell
run: {warmup: {iterations: 1}, repetitions: {count: 2}}
cases:
  - suite: null
    env_probe: STRATA_TEST_PROBE
variants:
  - label: hostile
    env: {STRATA_TEST_PROBE: "$(printf '%s' "$value" | sed 's/\\/\\\\/g; s/"/\\"/g')"}
YAML
expect_exit 0 "$STRATA" run "$WORK/env.yaml" -o "$WORK/run"
[ ! -e "$marker" ] || die "a plan value was executed by a shell"
/usr/bin/python3 - "$WORK/run/results.jsonl" "$value" <<'PY'
import json, sys
rec = json.loads(open(sys.argv[1]).readline())
seen = rec["details"]["env_probe"]
if seen != sys.argv[2]:
    sys.exit("run_once saw %r, the plan said %r" % (seen, sys.argv[2]))
PY
echo "PASS"
