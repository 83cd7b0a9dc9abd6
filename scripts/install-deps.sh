#!/usr/bin/env bash
# Install strata's build and test dependencies from Debian packages, only those
# that are missing (so running it twice is cheap).  Needs root, or sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin
  libhwloc-dev hwloc
  libopenblas-dev
  libyaml-dev libjansson-dev
  liburing-dev
  libsqlite3-dev                        # strata history
  libcmocka-dev
  python3 python3-jsonschema
  # tests/integration/test_report_browser.sh: the HTML report in headless Chromium
  chromium chromium-driver python3-selenium
  python3-prometheus-client             # test_history.sh parses the OpenMetrics export
  # tests/integration/test_slurm.sh: a real single-host Slurm with munge
  # (slurm-wlm pulls in slurmctld, slurmd, slurm-client, their plugins and
  # liblua5.1: 7 packages, about 10 MB)
  slurm-wlm munge
  # tests/fuzz (scripts/test.sh): clang with libFuzzer and the sanitizer
  # runtimes, and clang's OpenMP runtime for the core library
  clang libclang-rt-dev libomp-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all dependencies present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 3
  fi
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
