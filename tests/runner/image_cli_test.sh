#!/usr/bin/env bash
# End-to-end tests of the gpm runner on MNIST: every model with an image form trains a few steps with
# tiny networks, evaluates with the image metrics, resumes bit-exactly, samples to .npy and .png, plots
# and evaluates its samples; bad input gets a clear message. Needs the MNIST package
# (scripts/fetch-mnist.sh). Usage: image_cli_test.sh PATH_TO_GPM WORK_DIR
set -uo pipefail
source "$(dirname "$0")/harness.sh" "$1" "$2"

# Tiny networks; one evaluation every 3 steps on 16 samples (which trains gpm's digit classifier once,
# then reads it from its cache beside the MNIST package).
common='"batch_size": 8, "eval_every": 3, "eval_samples": 16'
unet='{"model_channels": 4, "embedding_size": 8, "channel_mult": [1, 1], "attention_resolutions": []}'
echo "{\"generator.width\": 8, \"discriminator.width\": 8, \"latent_dim\": 8, $common}" >gan.json
echo "{\"network\": $unet, \"sampling_steps\": 2, $common}" >edm.json
echo "{\"discriminator\": {\"network.width\": 8, \"embedding_size\": 8}, \"generation_steps\": 2, $common}" >df.json
echo "{\"generator.width\": 8, \"latent_dim\": 8, \"denoiser\": $unet, $common}" >sgan.json
echo "{\"edm\": {\"network\": $unet, \"sampling_steps\": 2}, \"discriminator.width\": 8, $common}" >asm.json
# SMaRt on every other generator step, from the EDM's U-Net: a resume restores the regularity's count.
echo "{\"smart\": {\"weight\": 0.5, \"every\": 2}, \"gan\": {\"generator.width\": 8, \"discriminator.width\": 8, \"latent_dim\": 8}, $common}" >smart.json

G train --model edm --data mnist --out edm_base --steps 3 --config edm.json --quiet >/dev/null || fail "EDM base run on MNIST"

check_model() {
  local model="$1" config="$2"
  shift 2
  train_twice "$model" mnist 3 12 npy "$config" "$@" || return
  cmp -s "${model}_a.npy" "${model}_b.npy" && pass || fail "$model: 3 + resume + 3 steps differs from 6 steps on MNIST"
  # The .npy file is float32 [12, 1, 32, 32] with pixel values in [0, 1].
  head -c 128 "${model}_a.npy" | grep -qF "'shape': (12, 1, 32, 32)" && pass || fail "$model: .npy shape"
  # Each evaluation logs the image metrics, finite, and keeps a PNG grid of the samples.
  local evals
  evals=$(grep -c '"eval"' "${model}_b/log.jsonl")
  [ "$evals" -eq 2 ] && pass || fail "$model: expected 2 evaluations in 6 steps, got $evals"
  grep '"eval"' "${model}_b/log.jsonl" | grep -q '"fd_lenet":[0-9]' &&
    grep '"eval"' "${model}_b/log.jsonl" | grep -q '"confident_fraction":[0-9]' &&
    ! grep -qi 'nan\|inf' "${model}_b/log.jsonl" && pass || fail "$model: evaluations should log finite image metrics"
  [ -s "${model}_b/snapshots/step_000000006.png" ] && pass || fail "$model: snapshot PNG at step 6"
  expect 0 "wrote 9 samples" G sample --run "${model}_b" -n 9 --out "${model}.png"
  [ -s "${model}.png" ] && pass || fail "$model: sample grid"
  expect 0 '"fd_lenet"' G eval --samples "${model}_b.npy" --reference mnist
  expect 0 "samples.png" G plot --run "${model}_b"
}
check_model gan gan.json
check_model edm edm.json
check_model discr-flow df.json
check_model score-gan sgan.json --data-denoiser edm_base
check_model adversarial-edm asm.json
check_model smart-gan smart.json --data-denoiser edm_base
for model in edm discr-flow adversarial-edm; do
  [ -s "${model}_b/figures/generation.png" ] && pass || fail "$model: the generation strip"
  [ ! -e "${model}_b/figures/interpolations.png" ] && pass || fail "$model: a particle model has no latent to interpolate"
done
for model in gan score-gan smart-gan; do
  [ -s "${model}_b/figures/interpolations.png" ] && pass || fail "$model: the latent interpolations"
done

# --- a folder of one's own images: colour, no digit metrics ------------------------------------------
mkdir -p faces/a && for i in 1 2 3 4; do cp gan.png "faces/a/$i.png"; done && cp edm.png faces/5.png
echo "not an image" >faces/broken.png
expect 0 "run saved" G train --model gan --data images:faces,size=32,channels=3 --out faces_gan --steps 2 \
  --config <(echo "{\"generator.width\": 8, \"discriminator.width\": 8, \"latent_dim\": 8, \"batch_size\": 4, \"eval_samples\": 4}")
grep -q "skipped 1 of 6 image files" err.txt && pass || fail "the broken file should be counted in a warning: $(cat err.txt)"
expect 0 "wrote 4 samples" G sample --run faces_gan -n 4 --out faces.npy
head -c 128 faces.npy | grep -qF "'shape': (4, 3, 32, 32)" && pass || fail "colour samples: .npy shape"
! grep '"eval"' faces_gan/log.jsonl | grep -q fd_lenet && pass || fail "digit metrics are for MNIST runs only"
expect 0 "samples.png" G plot --run faces_gan
# run.json holds the folder's absolute path: the run resumes from another working directory.
grep -qF "\"data\": \"images:$PWD/faces,size=32,channels=3\"" faces_gan/run.json && pass ||
  fail "run.json should hold the image folder's absolute path"
(cd faces/a && G train --resume ../../faces_gan --steps 3 --quiet >/dev/null) && pass ||
  fail "a run on an image folder should resume from another working directory"

# --- bad input --------------------------------------------------------------------------------------
expect 2 "has no preset 'quick'" G train --model gan --data mnist --out q --preset quick
echo '{"standardize": "always"}' >std.json
expect 2 "images train on their pixels" G train --model gan --data mnist --out s --config std.json
G train --model edm --data ring --out edm_ring --steps 2 \
  --config <(echo '{"network": {"mlp": {"width": 16, "depth": 2}, "embedding_size": 8}}') --quiet >/dev/null
expect 2 "train the EDM on the same data" G train --model score-gan --data mnist --out wrong --data-denoiser edm_ring
expect 2 "a PNG grid is for runs on images" G sample --run edm_ring -n 4 --out x.png
expect 2 "write samples to a .csv, .npy" G sample --run edm_b -n 4 --out x.txt
expect 2 "unknown field 'network.mlp'" G train --model edm --data mnist --out m --config <(echo '{"network": {"mlp": {"width": 4}}}')
G train --model gan --data mnist --help >help.txt && grep -q "discriminator.first_bias" help.txt && pass ||
  fail "gpm train --model gan --data mnist --help should list the image GAN's fields"

finish
