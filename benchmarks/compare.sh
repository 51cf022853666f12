#!/bin/bash
# gpm against the paper's own code (White-Link/gpm, through ../shared/bench-ref) on identical work:
# the reference's configurations (`gpm bench --preset reference`), the same threads and the same
# OpenBLAS, one workload at a time with the two sides alternating, then the side-by-side table with
# ratios written into docs/performance.md (between its "compare" markers).
#
# Usage: MIRROR=<git dir of a White-Link/gpm mirror> benchmarks/compare.sh [GPM_BINARY]
#   ONLY=<bash regex>  the workloads whose name matches (default: the 2-D ones, '_gaussians_');
#                      ONLY=. runs every one, the MNIST rows too (about 40 min on 2 cores)
#   REPEATS=N          alternations per workload (default 1: reference, then gpm)
#   THREADS=T          intra-op threads of both sides (default 2)
#   OUT_DIR=DIR        JSON results (default /tmp/gpm-compare); DOC=FILE the page to write (docs/performance.md)
#   PRECISION=bfloat16 gpm's side in bfloat16 mixed precision (default float32): no longer identical work,
#                      which the table then says; write it elsewhere than the identical-work table (DOC=...)
# Time it on a quiet machine: both sides record the CPU time other processes took during each window.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
GPM="$(realpath "${1:-$ROOT/build/examples/gpm}")"
BENCH_REF="${BENCH_REF:-$ROOT/../shared/bench-ref}"
MIRROR="${MIRROR:?set MIRROR to the git dir of a White-Link/gpm mirror (see $BENCH_REF/README.md)}"
ONLY="${ONLY:-_gaussians_}"
REPEATS="${REPEATS:-1}"
THREADS="${THREADS:-2}"
PRECISION="${PRECISION:-float32}"
OUT_DIR="$(realpath -m "${OUT_DIR:-/tmp/gpm-compare}")"
DOC="${DOC:-$ROOT/docs/performance.md}"
[ -x "$GPM" ] || { echo "no gpm runner at $GPM: build it, or pass its path" >&2; exit 2; }
[ -x "$BENCH_REF/run_ref.sh" ] || { echo "no bench-ref at $BENCH_REF: set BENCH_REF" >&2; exit 2; }
mkdir -p "$OUT_DIR/ref" "$OUT_DIR/gpm" "$OUT_DIR/runs"

# Both sides on the OpenBLAS (OpenMP) that run_ref.sh unpacks, with the same threads.
DEPS_DIR="${DEPS_DIR:-/tmp/bench-ref-deps}"
export DEPS_DIR OMP_NUM_THREADS="$THREADS" THREADS
OPENBLAS_LIB="$DEPS_DIR/openmp/usr/lib/x86_64-linux-gnu/openblas-openmp"

reference() {  # reference NAME STAGE: one measurement of the reference, kept as ref/NAME.rREP.json
  local name=$1 stage=$2
  ONLY="^${name}\$" OUT_DIR="$OUT_DIR/ref-raw" CKPT_DIR="$OUT_DIR/ref-ckpt" MIRROR="$MIRROR" \
    "$BENCH_REF/run_ref.sh" "$stage" > "$OUT_DIR/ref-raw.log" 2>&1 ||
    { tail -20 "$OUT_DIR/ref-raw.log" >&2; echo "the reference's $name failed (log: $OUT_DIR/ref-raw.log)" >&2; exit 1; }
  cp "$OUT_DIR/ref-raw/$name.json" "$OUT_DIR/ref/$name.r$rep.json"
}

ours() {  # ours NAME ARGS...: one measurement of gpm bench, kept as gpm/NAME.rREP.json
  local name=$1; shift
  LD_LIBRARY_PATH="$OPENBLAS_LIB" "$GPM" bench --threads "$THREADS" --preset reference --precision "$PRECISION" "$@" \
    > "$OUT_DIR/gpm/$name.r$rep.json"
}

# A Score GAN needs a data denoiser; its weights do not change the work, so a one-step EDM run serves.
denoiser_run() {  # denoiser_run DATA: the directory of a one-step EDM run on DATA
  local dir="$OUT_DIR/runs/edm-${1//[^a-z0-9]/_}"
  [ -f "$dir/run.json" ] || "$GPM" train --model edm --preset reference --data "$1" --steps 1 --out "$dir" --quiet > /dev/null
  echo "$dir"
}

# name | reference stage | gpm bench arguments. The reference's samplers load the checkpoints its
# training rows save, and its Score GAN the EDM's: the order matters.
WORKLOADS=(
  "gan_gaussians_train|gaussians|--model gan --data ring --window-seconds 10 --warmup 20"
  "edm_gaussians_train|gaussians|--model edm --data ring --window-seconds 10 --warmup 20"
  "discr_flow_gaussians_train|gaussians|--model discr-flow --data ring --window-seconds 10 --warmup 20"
  "score_gan_gaussians_train|gaussians|--model score-gan --data ring --window-seconds 10 --warmup 20 --data-denoiser @ring"
  "edm_gaussians_sample_b128|sampling|--model edm --data ring --what sample --batch 128 --window-seconds 10 --warmup 2"
  "edm_gaussians_sample_b1024|sampling|--model edm --data ring --what sample --batch 1024 --window-seconds 10 --warmup 2"
  "discr_flow_gaussians_sample_b128|sampling|--model discr-flow --data ring --what sample --batch 128 --window-seconds 10 --warmup 2"
  "discr_flow_gaussians_sample_b1024|sampling|--model discr-flow --data ring --what sample --batch 1024 --window-seconds 10 --warmup 2"
  "edm_mnist_train|mnist|--model edm --data mnist --window-seconds 10 --warmup 3"
  "gan_mnist_train|mnist|--model gan --data mnist --window-seconds 10 --warmup 2"
  "discr_flow_mnist_train|mnist|--model discr-flow --data mnist --window-seconds 1 --warmup 1"
  "score_gan_mnist_train|mnist_scoregan|--model score-gan --data mnist --window-seconds 1 --warmup 1 --data-denoiser @mnist"
)

echo "gpm: $GPM; reference: $BENCH_REF; threads $THREADS; results in $OUT_DIR"
for workload in "${WORKLOADS[@]}"; do
  IFS='|' read -r name stage args <<< "$workload"
  [[ $name =~ $ONLY ]] || continue
  if [[ $args == *@* ]]; then
    data=${args##*@}
    args="${args%@*}$(denoiser_run "$data")"
  fi
  for rep in $(seq 1 "$REPEATS"); do
    echo "--- $name (alternation $rep): reference"
    reference "$name" "$stage"
    echo "--- $name (alternation $rep): gpm"
    # shellcheck disable=SC2086
    ours "$name" $args
  done
done
python3 "$HERE/compare_table.py" "$OUT_DIR" "$DOC" "$GPM" "$THREADS"
