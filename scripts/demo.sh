#!/usr/bin/env bash
# Builds the examples and runs the main demo (installing missing dependencies first).
# Arguments are passed to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
configure -DGPM_BUILD_EXAMPLES=ON
cmake --build "$GPM_BUILD_DIR" --target closed_form_flows
"$GPM_BUILD_DIR/examples/closed_form_flows" "$@"
