#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build gpm, its tests and examples.
# Idempotent: packages already installed are skipped, and nothing is done when none is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache
  libtorch-dev libopenblas0-openmp   # LibTorch, and the BLAS that makes its matrix products fast
  catch2 libfmt-dev nlohmann-json3-dev libcli11-dev
  pkg-config libcairo2-dev           # optional PNG figures (gpm::plot)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "bootstrap: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
