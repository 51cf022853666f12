#!/usr/bin/env bash
# Builds the gpm runner and runs its demo: the four paper models on the 5-mode ring, with metrics
# and figures (installing missing dependencies first). Arguments go to `gpm demo` (--quick, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
configure -DGPM_BUILD_EXAMPLES=ON
cmake --build "$GPM_BUILD_DIR" --target gpm_runner
"$GPM_BUILD_DIR/examples/gpm" demo "$@"
