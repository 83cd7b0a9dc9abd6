#!/usr/bin/env bash
# The main job: install what is missing, build, run the default CPU smoke plan
# under mpirun with 2 ranks, and write a report.  Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# strata picks a fresh results/<UTC time>-<id>/ and says where
mpirun --oversubscribe -np 2 build/strata run configs/smoke.yaml | tee "$log"
run_dir="$(sed -n 's/^strata: results written to //p' "$log" | tail -n 1)"
[ -n "$run_dir" ] || { echo "smoke: strata did not say where the results are" >&2; exit 3; }
build/strata report "$run_dir"
echo "smoke: results in $run_dir (report: $run_dir/summary.md)"
