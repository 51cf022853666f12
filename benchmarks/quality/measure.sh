#!/usr/bin/env bash
# Quality of the models' own samples on one dataset, with the protocol of docs/results/2d.md:
# train with the defaults, sample 2,000 points (seeds 1 and 2) and score them against 2,000 fresh
# data points (seeds 777 and 778), with the mode metrics where the data has centres.
#
#   benchmarks/quality/measure.sh GPM OUT DATA [MODEL...]
#
# GPM is the runner binary; DATA a built-in spec ("grid:std=0.3") or "heldout" (the mixture of
# heldout_mixture.py, trained from 5,000 points); MODELs default to edm gan discr-flow score-gan
# (a Score GAN or a SMaRt GAN uses the EDM trained in the same OUT). Prints one JSON line per model and draw,
# and appends them to OUT/results.jsonl. Extra train arguments: GPM_TRAIN_ARGS.
set -euo pipefail
gpm=$1 out=$2 data=$3
shift 3
models=("$@")
((${#models[@]})) || models=(edm gan discr-flow score-gan)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"

std_args=()
references=()
if [ "$data" = heldout ]; then
  train_data=$out/heldout-train.csv
  python3 "$here/heldout_mixture.py" 5000 11 "$train_data" >/dev/null
  for seed in 777 778; do
    std=$(python3 "$here/heldout_mixture.py" 2000 "$seed" "$out/ref-$seed.csv" "$out/centers.csv")
  done
  std_args=(--centers "$out/centers.csv" --std "$std")
else
  train_data=$data
  for seed in 777 778; do
    line=$("$gpm" data --data "$data" -n 2000 --seed "$seed" --out "$out/ref-$seed.csv" --centers "$out/centers.csv" 2>/dev/null) ||
      line=$("$gpm" data --data "$data" -n 2000 --seed "$seed" --out "$out/ref-$seed.csv")
    if [[ $line == *"--std "* ]]; then
      std=${line##*--std }
      std_args=(--centers "$out/centers.csv" --std "${std%%)*}")
    fi
  done
fi

for model in "${models[@]}"; do
  run=$out/$model
  extra=()
  case $model in score-gan | smart-gan) extra=(--data-denoiser "$out/edm") ;; esac
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$gpm" --threads 1 train --model "$model" --data "$train_data" --out "$run" "${extra[@]}" ${GPM_TRAIN_ARGS:-} >"$run.train.log" 2>&1
  seconds=$(($(date +%s) - start))
  for draw in 1 2; do
    "$gpm" --threads 1 sample --run "$run" -n 2000 --seed "$draw" --out "$run-samples-$draw.csv" >/dev/null
    metrics=$("$gpm" eval --samples "$run-samples-$draw.csv" --reference "$out/ref-$((776 + draw)).csv" "${std_args[@]}" | tr -d ' \n')
    echo "{\"model\":\"$model\",\"data\":\"$data\",\"draw\":$draw,\"train_seconds\":$seconds,\"metrics\":$metrics}" | tee -a "$out/results.jsonl"
  done
done
