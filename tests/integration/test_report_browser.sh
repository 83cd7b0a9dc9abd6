#!/usr/bin/env bash
# The HTML outputs in a real browser: headless Chromium (Debian packages
# chromium, chromium-driver, python3-selenium) loads report.html, the
# comparison and the history trend from file:// with the network off, with
# no console error, and every chart is there and laid out.  Screenshots of
# each page are kept in $STRATA_SCREENSHOTS (default: ./screenshots under
# the directory ctest runs in) to be looked at.  Exit 77 (skipped) without
# Chromium.
source "$(dirname "$0")/lib.sh"

SHOTS="${STRATA_SCREENSHOTS:-$PWD/screenshots}"
BROWSER="/usr/bin/python3 $SRC/tests/integration/browser_check.py --timeout 60"
cp -r "$SRC/tests/fixtures/run-cluster-a" "$SRC/tests/fixtures/run-variants" "$WORK/"
"$STRATA" report "$WORK/run-cluster-a" --peaks "$SRC/tests/fixtures/peaks-cluster.yaml" >/dev/null
"$STRATA" report "$WORK/run-variants" >/dev/null
"$STRATA" compare "$WORK/run-variants" --html "$WORK/compare.html" >/dev/null 2>&1
/usr/bin/python3 "$SRC/tests/fixtures/gen_runs.py" nightly "$WORK/nights" --nights 12 --step-at 8
"$STRATA" history --db "$WORK/h.sqlite" ingest "$WORK"/nights/night-* >/dev/null
"$STRATA" history --db "$WORK/h.sqlite" trend --metric gflops --html "$WORK/trend.html" >/dev/null

set +e
timeout 300 $BROWSER "$WORK/run-cluster-a/report.html" --min-charts 14 \
  --kinds line,bar,box,heatmap,stacked --screenshots "$SHOTS/cluster-a"
rc=$?
set -e
[ $rc = 77 ] && exit 77
[ $rc = 0 ] || die "report.html of run-cluster-a"
timeout 120 $BROWSER "$WORK/run-variants/report.html" --min-charts 3 --kinds line,box \
  --screenshots "$SHOTS/variants" || die "report.html of run-variants"
timeout 120 $BROWSER "$WORK/compare.html" --min-charts 0 || die "compare.html"
timeout 120 $BROWSER "$WORK/trend.html" --min-charts 1 --kinds line --screenshots "$SHOTS/trend" ||
  die "trend.html"
echo "screenshots: $SHOTS"
echo "PASS"
