#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite through ctest:
# once in a normal Release build, once under AddressSanitizer and
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
source scripts/env.sh
jobs="$(nproc)"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs")

# libFuzzer (clang): each parser fuzzed for STRATA_FUZZ_SECONDS (default 60)
# per target; any crash, leak or sanitizer report fails (tests/fuzz/run.sh).
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSTRATA_FUZZ=ON \
  -DSTRATA_CUDA=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_targets
bash tests/fuzz/run.sh build-fuzz "${STRATA_FUZZ_SECONDS:-60}"
