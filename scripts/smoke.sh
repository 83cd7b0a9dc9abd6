#!/usr/bin/env bash
# The main job: install what is missing, build, run the default CPU smoke plan
# under mpirun with 2 ranks, and write a report.  Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p results
run_dir="results/$(date -u +%Y%m%dT%H%M%SZ)-smoke-$$"
mpirun --oversubscribe -np 2 build/strata run configs/smoke.yaml -o "$run_dir"
build/strata report "$run_dir"
echo "smoke: results in $run_dir (report: $run_dir/summary.md)"
