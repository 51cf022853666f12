#!/bin/bash
# How the cost of gpm's 2-D steps grows with the batch, the networks' width and the number of
# integration steps: `gpm bench --preset reference` at each point of each series, then a table with a
# least-squares line per series (seconds per call = fixed + slope × x) written into
# docs/performance.md (between its "scaling" markers).
#
# Usage: benchmarks/scaling.sh [GPM_BINARY]
#   THREADS=T    intra-op threads (default 2)
#   OUT_DIR=DIR  JSON results (default /tmp/gpm-scaling); DOC=FILE the page to write (docs/performance.md)
#   ONLY=<bash regex>  the series whose name matches (default: all)
# About 6 minutes on 2 cores. Time it on a quiet machine: each window records the CPU time other
# processes took during it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
GPM="$(realpath "${1:-$ROOT/build/examples/gpm}")"
THREADS="${THREADS:-2}"
OUT_DIR="$(realpath -m "${OUT_DIR:-/tmp/gpm-scaling}")"
DOC="${DOC:-$ROOT/docs/performance.md}"
ONLY="${ONLY:-.}"
[ -x "$GPM" ] || { echo "no gpm runner at $GPM: build it, or pass its path" >&2; exit 2; }
mkdir -p "$OUT_DIR"

# series | x | gpm bench arguments ({} in a config is replaced by x). Each series varies one thing
# from the reference's configuration of compare.sh's rows: the batch of a training step or of a
# sampler call, the width of every hidden layer (the same at batch 128), or the steps of a sampler
# and of the Discriminator Flow's simulation inside a training step.
POINTS=(
  "gan_train_batch|32 128 1024|--model gan --batch {}"
  "gan_train_width|128 512|--model gan --config {\"generator\":{\"width\":{}},\"discriminator\":{\"width\":{}}}"
  "edm_train_batch|32 128 1024|--model edm --batch {}"
  "edm_train_width|128 512|--model edm --config {\"network\":{\"mlp\":{\"width\":{}}}}"
  "discr_flow_train_batch|32 128 1024|--model discr-flow --batch {}"
  "discr_flow_train_width|128 512|--model discr-flow --config {\"discriminator\":{\"mlp\":{\"width\":{}}}}"
  "discr_flow_train_steps|14 56 112|--model discr-flow --config {\"generation_steps\":{}}"
  "edm_sample_batch|32 128 1024|--model edm --what sample --batch {}"
  "edm_sample_steps|14 56 112|--model edm --what sample --batch 1024 --config {\"sampling_steps\":{}}"
  "discr_flow_sample_steps|14 56 112|--model discr-flow --what sample --batch 1024 --config {\"generation_steps\":{}}"
)

echo "gpm: $GPM; threads $THREADS; results in $OUT_DIR"
for series in "${POINTS[@]}"; do
  IFS='|' read -r name xs args <<< "$series"
  [[ $name =~ $ONLY ]] || continue
  for x in $xs; do
    echo "--- $name: $x"
    point_args=()
    for word in ${args//\{\}/$x}; do
      if [[ $word == \{* ]]; then  # an inline config: gpm bench reads configs from files
        echo "$word" > "$OUT_DIR/$name.$x.config.json"
        word="$OUT_DIR/$name.$x.config.json"
      fi
      point_args+=("$word")
    done
    "$GPM" bench --threads "$THREADS" --preset reference --data ring --warmup 3 --window-seconds 3 \
      "${point_args[@]}" > "$OUT_DIR/$name.$x.json"
  done
done
python3 "$HERE/scaling_table.py" "$OUT_DIR" "$DOC" "$THREADS"
