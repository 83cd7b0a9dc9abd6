#!/usr/bin/env bash
# strata history: 30 synthetic nightly runs with a 12% GEMM drop from night
# 20: ingest (idempotent), list, trend, regressions (E-divisive finds the
# step, names night 20, exits 4; a noise-only history exits 0), OpenMetrics
# parsed by Prometheus' own parser, CSV; and a database of schema version 1
# written by the sqlite3 shell is migrated.
source "$(dirname "$0")/lib.sh"

bash "$SRC/tests/fixtures/golden.sh" "$STRATA" "$SRC" history "$WORK/gout" --check ||
  die "history outputs differ from the golden files"
O="$WORK/gout"
grep -q "^# exit 4" "$O/history-regressions.txt" || die "a regression must exit 4"
grep -q "| 20261120T020000Z-n00020 | .* | -11.5% | \*\*REGRESSION, in effect\*\* |" \
  "$O/history-regressions.txt" || die "the step at night 20"
[ "$(grep -c 'REGRESSION' "$O/history-regressions.txt")" = 2 ] || die "only the GEMM series (gflops, time) changed"
grep -q "^# exit 0" "$O/history-quiet.txt" || die "noise alone must exit 0"
grep -q "0 change point(s)" "$O/history-quiet.txt" || die "noise alone has no change point"
grep -q "already present, left alone: 20261101T020000Z-n00001" "$O/history-ingest.txt" || die "re-ingest"
if /usr/bin/python3 -c "import prometheus_client" 2>/dev/null; then
  /usr/bin/python3 - "$O/history-openmetrics.txt" <<'PY'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
text = open(sys.argv[1]).read().rsplit("# exit", 1)[0]
fams = {f.name: f for f in om(text)}
assert set(fams) == {"strata_run_info", "strata_figure_median", "strata_figure_best"}, fams
assert len(fams["strata_figure_median"].samples) == 5
print("openmetrics ok")
PY
else
  echo "python3-prometheus-client not installed: OpenMetrics parse skipped"
fi

# Migration: a version-1 database as the sqlite3 shell writes it
if command -v sqlite3 >/dev/null; then
  sqlite3 "$WORK/v1.sqlite" <<'SQL'
CREATE TABLE runs (run_id TEXT PRIMARY KEY, start_time TEXT, plan_name TEXT, hosts INTEGER,
  complete INTEGER, ingested_at TEXT);
CREATE TABLE results (run_id TEXT NOT NULL REFERENCES runs(run_id), metric_key TEXT NOT NULL,
  suite TEXT, variant TEXT, metric TEXT NOT NULL, unit TEXT, higher_is_better INTEGER, median REAL,
  PRIMARY KEY (run_id, metric_key, metric));
INSERT INTO runs VALUES ('v1-run', '2026-10-01T02:00:00.000Z', 'nightly', 2, 1, '2026-10-01T03:00:00Z');
INSERT INTO results VALUES ('v1-run', 'membw[device=cpu,kernel=triad,array_bytes=1073741824,threads=0]@default',
  'membw', 'default', 'bandwidth', 'GB/s', 1, 161.0);
PRAGMA user_version = 1;
SQL
  expect_exit 0 "$STRATA" history --db "$WORK/v1.sqlite" list
  expect_output "| v1-run | 2026-10-01T02:00:00.000Z | nightly | 2 | - | yes | - | 1 | 0 |"
  expect_output "schema version 2"
  [ "$(sqlite3 "$WORK/v1.sqlite" 'PRAGMA user_version')" = 2 ] || die "not migrated"
  # the old run joins the new ones' series
  "$STRATA" history --db "$WORK/v1.sqlite" ingest "$SRC/tests/fixtures/run-cluster-a" >/dev/null
  expect_exit 0 "$STRATA" history --db "$WORK/v1.sqlite" trend --metric bandwidth --where kernel=triad
  expect_output "| 1 | v1-run | 2026-10-01T02:00:00.000Z | 161 |"
fi
expect_exit 2 "$STRATA" history --db "$WORK/v1.sqlite" frobnicate
expect_exit 2 "$STRATA" history --db "$WORK/v1.sqlite" export
expect_output "--format openmetrics or --format csv"
echo "PASS"
