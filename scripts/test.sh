#!/usr/bin/env bash
# Builds gpm's tests and runs them (installing missing dependencies first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
configure -DGPM_BUILD_TESTS=ON
cmake --build "$GPM_BUILD_DIR"
ctest --test-dir "$GPM_BUILD_DIR" --output-on-failure -j "$(nproc)"
