#!/usr/bin/env bash
# End-to-end tests of the gpm runner: bit-exact resume for every model, and bad input that must
# give a clear message and the right exit code (0 success, 2 usage or input error, 1 runtime
# failure) without losing anything. Usage: cli_test.sh PATH_TO_GPM WORK_DIR
set -uo pipefail
docs="$(cd "$(dirname "$0")/../../docs" && pwd)"
stored="$(cd "$(dirname "$0")/stored_runs" && pwd)"
source "$(dirname "$0")/harness.sh" "$1" "$2"

# --- bit-exact resume: N steps + resume + N steps == 2N steps, for every model -------------------
# Every model keeps a weight average (the default), and learning rates are large enough for the
# average to differ visibly from the last iterate, so a resume that lost the average would show.
# The GAN's learning-rate decay (by default over the second half) follows the steps in total, which
# extending a run from 15 to 30 changes: these runs keep a constant rate.
# Nested fields are written both ways: as objects and as dotted keys.
echo '{"generator": {"width": 32, "depth": 2}, "discriminator.width": 32, "discriminator.depth": 2, "latent_dim": 8,
  "generator_optimizer.lr": 0.01, "discriminator_optimizer.lr": 0.01, "lr_decay": 0}' >gan.json
echo '{"network": {"mlp": {"width": 32, "depth": 2}, "embedding_size": 8}, "optimizer.lr": 0.01}' >edm.json
echo '{"discriminator": {"mlp.width": 32, "mlp.depth": 2, "embedding_size": 8}, "generation_steps": 8,
  "optimizer.lr": 0.01}' >df.json
echo '{"generator": {"width": 32, "depth": 2}, "latent_dim": 8, "score_steps": 2, "denoiser": {"mlp": {"width": 32,
  "depth": 2}, "embedding_size": 8}, "generator_optimizer.lr": 0.01}' >sgan.json
# The extensions' models: an f-divergence flow, an f-divergence GAN, a GAN with instance noise annealed
# within the 30 steps (so that a resume must restore the noise's stream and its update count).
echo '{"divergence": "reverse_kl", "flow": {"discriminator": {"mlp.width": 32, "mlp.depth": 2, "embedding_size": 8},
  "generation_steps": 8, "optimizer.lr": 0.01}}' >fflow.json
gan_fields='"generator": {"width": 32, "depth": 2}, "discriminator.width": 32, "discriminator.depth": 2, "latent_dim": 8,
  "generator_optimizer.lr": 0.01, "discriminator_optimizer.lr": 0.01'
echo "{\"divergence\": \"chi_squared\", \"gan\": {$gan_fields}, \"lr_decay\": 0}" >fgan.json
echo "{\"instance_noise\": {\"std\": 0.3, \"anneal_updates\": 20}, \"gan\": {$gan_fields}, \"lr_decay\": 0}" >noisy.json
# SMaRt on every other generator step (a resume must restore the regularity's stream and its count);
# top-k with a fraction annealed within the 30 steps.
echo "{\"smart\": {\"weight\": 0.5, \"every\": 2}, \"gan\": {$gan_fields}, \"lr_decay\": 0}" >smart.json
echo "{\"top_k\": {\"decay\": 0.8, \"min_fraction\": 0.25, \"epoch_evaluations\": 2}, \"gan\": {$gan_fields}, \"lr_decay\": 0}" >topk.json
# Diffusion-GAN adapting T every 2 updates, so that the resume at step 15 falls between two adaptations.
echo "{\"diffusion\": {\"target\": 0.0, \"adapt_every\": 2, \"adapt_samples\": 5000, \"initial_level\": 0.3},
  \"gan\": {$gan_fields}, \"lr_decay\": 0}" >dgan.json
echo "{\"latent_optimisation\": {\"step_size\": 0.5, \"natural_gradient\": false}, \"gan\": {$gan_fields}, \"lr_decay\": 0}" >logan.json
# Adversarial score matching: a resume must restore the discriminator, its optimiser and its stream.
echo '{"edm": {"network": {"mlp": {"width": 32, "depth": 2}, "embedding_size": 8}, "optimizer.lr": 0.01},
  "discriminator": {"width": 16, "depth": 2}, "adversarial": {"optimizer.lr": 0.01}}' >asm.json
G train --model edm --data ring --out edm_base --steps 20 --config edm.json --quiet >/dev/null || fail "EDM base run"
check_resume() {
  local model="$1" config="$2"
  shift 2
  train_twice "$model" ring 15 200 csv "$config" "$@" || return
  # Same samples, and one more step from each (which uses every network and optimiser state) agrees too.
  G train --resume "${model}_a" --steps 31 --quiet >/dev/null && G train --resume "${model}_b" --steps 31 --quiet >/dev/null &&
    G sample --run "${model}_a" -n 200 --out "${model}_a31.csv" --seed 3 >/dev/null &&
    G sample --run "${model}_b" -n 200 --out "${model}_b31.csv" --seed 3 >/dev/null || { fail "$model: step 31"; return; }
  if cmp -s "${model}_a.csv" "${model}_b.csv" && cmp -s "${model}_a31.csv" "${model}_b31.csv"; then
    pass
  else
    fail "$model: 15 + resume + 15 steps differs from 30 steps"
  fi
  # Sampling a stored run uses its trained average, not the initial weights of an untrained model.
  G train --model "$model" --data ring --out "${model}_0" --steps 0 --config "$config" --quiet "$@" >/dev/null &&
    G sample --run "${model}_0" -n 200 --out "${model}_0.csv" --seed 3 >/dev/null || { fail "$model: untrained run"; return; }
  cmp -s "${model}_0.csv" "${model}_b.csv" && fail "$model: a stored run samples like an untrained one" || pass
}
check_resume gan gan.json
check_resume edm edm.json
check_resume discr-flow df.json
check_resume score-gan sgan.json --data-denoiser edm_base
check_resume f-flow fflow.json
check_resume f-gan fgan.json
check_resume instance-noise-gan noisy.json
check_resume smart-gan smart.json --data-denoiser edm_base
check_resume top-k-gan topk.json
check_resume diffusion-gan dgan.json
check_resume logan-gan logan.json
check_resume adversarial-edm asm.json
# Mixed precision: a run in bfloat16 records it, resumes bit-exactly in it, and samples and plots in
# it; its samples are not the float32 run's (gan_b: the same config and seed).
for precision_model in gan discr-flow; do
  config=$([ $precision_model = gan ] && echo gan.json || echo df.json)
  G train --model $precision_model --data ring --out bf16_$precision_model --steps 30 --config $config --precision bfloat16 \
    --quiet >/dev/null && grep -q '"precision": "bfloat16"' bf16_$precision_model/run.json &&
    G train --model $precision_model --data ring --out bf16h_$precision_model --steps 15 --config $config \
      --precision bfloat16 --quiet >/dev/null && G train --resume bf16h_$precision_model --steps 30 --quiet >/dev/null &&
    G sample --run bf16_$precision_model -n 200 --out bf16_$precision_model.csv --seed 3 >/dev/null &&
    G sample --run bf16h_$precision_model -n 200 --out bf16h_$precision_model.csv --seed 3 >/dev/null &&
    cmp -s bf16_$precision_model.csv bf16h_$precision_model.csv &&
    ! cmp -s bf16_$precision_model.csv ${precision_model}_b.csv &&
    G plot --run bf16_$precision_model --out bf16_${precision_model}_figures >/dev/null && pass ||
    fail "$precision_model in bfloat16: run.json should record it, a resume repeat it bit for bit, and sampling and plotting run in it"
done
expect 2 "must be one of float32, bfloat16" G train --model gan --data ring --out bad_precision --config <(echo '{"precision": "float16"}')
expect 2 "field 'divergence' must be one of kl, reverse_kl, jensen_shannon, chi_squared" \
  G train --model f-flow --data ring --out bad_divergence --config <(echo '{"divergence": "hellinger"}')
# Every snapshot holds finite velocities: a particle model's are its field's at the time of its last
# step (EDM's smallest noise level; its probability flow is undefined at the final σ = 0).
for model in gan edm discr-flow score-gan; do
  files=(${model}_b/snapshots/*.csv)
  [ -f "${files[0]}" ] && head -1 "${files[0]}" | grep -qx 'x,y,vx,vy' && ! grep -qi nan "${files[@]}" && pass ||
    fail "$model: the snapshots should hold x, y, vx, vy, all finite"
done

# same_as_stored FILE STORED: the samples in FILE are those stored, to 1e-5 relative to 1 + |x|. The
# stored files were written on one CPU; another one's vector units round the last digits of a float
# differently (1e-8 here), while a run loaded wrongly samples points that differ in the first digits.
same_as_stored() {
  [ "$(wc -l <"$1")" = "$(wc -l <"$2")" ] &&
    paste -d, "$1" "$2" | awk -F, '{ if (NF % 2) exit 1; n = NF / 2
      for (i = 1; i <= n; i++) { d = $i - $(i + n); m = $(i + n); if (d < 0) d = -d; if (m < 0) m = -m
        if (d > 1e-5 * (1 + m)) exit 1 } }'
}

# Runs stored by earlier versions (tests/runner/stored_runs: flat fields, networks and optimisers
# not yet nested) load, sample as they did when stored, and resume. The EDM and the
# Discriminator Flow were stored without input features in raw coordinates; without those two fields
# in run.json (runs stored before the fields existed) they must load the same, not with today's
# defaults (which would fail to load their checkpoints), and a resume records "standardize": "never".
for model in gan edm discr-flow score-gan; do
  rm -rf old_$model && cp -r "$stored/$model" old_$model && chmod -R u+w old_$model &&
    G sample --run old_$model -n 50 --out old_$model.csv --seed 3 >/dev/null && same_as_stored old_$model.csv "$stored/$model/samples.csv" &&
    G train --resume old_$model --steps 8 --quiet >/dev/null && grep -q '"steps": 8' old_$model/run.json &&
    grep -q '"step": 8' old_$model/checkpoint.json && pass ||
    fail "a $model run stored by an earlier version (without a checkpoint manifest) should sample as it did and resume"
done
for model in edm discr-flow; do
  rm -rf older_$model && cp -r "$stored/$model" older_$model && chmod -R u+w older_$model &&
    grep -v -e '"input_features"' -e '"standardize"' "$stored/$model/run.json" >older_$model/run.json &&
    G sample --run older_$model -n 50 --out older_$model.csv --seed 3 >/dev/null && same_as_stored older_$model.csv "$stored/$model/samples.csv" &&
    G train --resume older_$model --steps 8 --quiet >/dev/null && grep -q '"standardize": "never"' older_$model/run.json && pass ||
    fail "a $model run without input_features and standardize in its run.json should load, sample and resume as trained on raw coordinates"
done
G train --model score-gan --data ring --out sgan_on_raw --steps 2 --config sgan.json --data-denoiser older_edm --quiet >/dev/null &&
  G sample --run sgan_on_raw -n 20 --out sgan_on_raw.csv >/dev/null && pass ||
  fail "a Score GAN should train and sample on an EDM run stored without input_features"

# Early stop applies to particle models and to a refinement of a generator's samples (by default the
# GAN's flow takes 20 steps and the Score GAN's denoiser 10), not to a single generator pass.
expect 0 "wrote 10 samples" G sample --run discr-flow_b -n 10 --out early.csv --steps 4
expect 0 "wrote 10 samples" G sample --run gan_b -n 10 --out early.csv --refine flow --steps 4
expect 0 "wrote 10 samples" G sample --run score-gan_b -n 10 --out early.csv --refine denoiser --steps 4
expect 2 "cannot stop after 9 steps of a 8-step grid" G sample --run discr-flow_b -n 10 --out x.csv --steps 9
expect 2 "cannot stop after 21 steps of a 20-step grid" G sample --run gan_b -n 10 --out x.csv --refine flow --steps 21
expect 2 "cannot stop after 11 steps of a 10-step grid" G sample --run score-gan_b -n 10 --out x.csv --refine denoiser --steps 11
expect 2 "samples in one generator pass" G sample --run gan_b -n 10 --out x.csv --steps 4
expect 2 "unknown refinement 'denoiser'" G sample --run gan_b -n 10 --out x.csv --refine denoiser
expect 2 "this model has no refinement" G sample --run discr-flow_b -n 10 --out x.csv --refine flow
expect 2 "field 'time' must be > 0, got -1" G sample --run gan_b -n 10 --out x.csv --refine flow:time=-1
expect 2 "unknown field 'sigma'" G sample --run gan_b -n 10 --out x.csv --refine flow:sigma=1
expect 0 "wrote 10 samples" G sample --run gan_b -n 10 --out x.csv --refine flow:integrator=heun
expect 2 "euler, heun" G sample --run score-gan_b -n 10 --out x.csv --refine denoiser:integrator=rk4

# A generator's samples are its own: a refinement moves them only when asked, and a refinement of 0
# steps is the generator alone. A run stored with the refinement fields it once had samples the same.
for pair in gan:flow score-gan:denoiser; do
  model=${pair%%:*} kind=${pair##*:}
  G sample --run ${model}_b -n 200 --out ${model}_own.csv --seed 3 >/dev/null &&
    G sample --run ${model}_b -n 200 --out ${model}_refined.csv --seed 3 --refine $kind >/dev/null &&
    G sample --run ${model}_b -n 200 --out ${model}_zero.csv --seed 3 --refine $kind:steps=0 >/dev/null &&
    cp -r ${model}_b ${model}_old && sed 's/"lr_decay"/"refine_steps": 20, "lr_decay"/' ${model}_b/run.json >${model}_old/run.json &&
    G sample --run ${model}_old -n 200 --out ${model}_old.csv --seed 3 >/dev/null &&
    cmp -s ${model}_own.csv ${model}_zero.csv && cmp -s ${model}_own.csv ${model}_old.csv &&
    ! cmp -s ${model}_own.csv ${model}_refined.csv && pass ||
    fail "$model: samples should be the generator's own unless --refine $kind is given"
done

# A run stored with the flat fields of earlier versions (penalty_*, denoiser_*, s_*) loads with them
# nested, and samples as before. Without the upgrade the flat names are unknown fields.
flatten() {  # flatten FILE OBJECT PREFIX LAST_KEY: the object's fields become PREFIX<key> at top level
  sed -e "/\"$2\": {/,/}/{ /\"$2\": {/d; /^ *},\?\$/d; s/\"$4\": \(.*\)\$/\"$4\": \1,/; s/^\( *\)\"\([a-z_0-9]*\)\":/\1\"$3\2\":/ }" "$1"
}
for spec in gan:penalty:penalty_:weight score-gan:denoiser:denoiser_:width edm:churn::s_noise; do
  IFS=: read -r model object prefix last <<<"$spec"
  rm -rf ${model}_flat && cp -r "$stored/$model" ${model}_flat && chmod -R u+w ${model}_flat &&
    flatten "$stored/$model/run.json" $object "$prefix" $last >${model}_flat/run.json &&
    ! grep -q "\"$object\": {" ${model}_flat/run.json &&
    G sample --run ${model}_flat -n 50 --out ${model}_flat.csv --seed 3 >/dev/null && same_as_stored ${model}_flat.csv "$stored/$model/samples.csv" && pass ||
    fail "a $model run stored with flat ${prefix:-s_}* fields should load and sample as before"
done
echo '{"penalty_weight": 0.1}' >flat.json
expect 2 "unknown field 'penalty_weight'" G train --model gan --data ring --out bad0 --config flat.json

# Presets, field tables and the generated docs.
G train --model gan --preset reference --data ring --out gan_ref --steps 0 --quiet >/dev/null &&
  grep -q '"discriminator_steps": 1' gan_ref/run.json && grep -q '"weight_average": 0.0' gan_ref/run.json && pass ||
  fail "--preset reference should train the reference's GAN"
expect 2 "has no preset 'fast'; presets: default, quick, reference" G train --model gan --preset fast --data ring --out bad0
expect 0 "penalty.point" "$gpm" train --model discr-flow --help
expect 0 "churn.s_noise" "$gpm" train --model edm --help
"$gpm" models --markdown >options.md && cmp -s options.md "$docs/options.md" && pass ||
  fail "docs/options.md differs from \`gpm models --markdown\`; regenerate it with that command"

# The dataset listing: every built-in dataset with its spec at the defaults, which gives the same
# points as its bare name, and its options with their ranges; spec errors name what is valid.
"$gpm" datasets >datasets.txt && [ "$(grep -c '^  with the defaults: ' datasets.txt)" = 7 ] &&
  grep -qF "ring:modes=5,radius=3,std=0.5" datasets.txt && grep -qE '^  cells +4 +≥ 2 ' datasets.txt &&
  grep -qF "images:DIR,size=32,channels=0" datasets.txt && pass ||
  fail "gpm datasets should list the seven datasets with their defaults and ranges"
for spec in $(sed -n 's/^  with the defaults: //p' datasets.txt); do
  case "$spec" in mnist:* | images:*) continue ;; esac  # they read files: tests/image_data_test.cpp
  G data --data "$spec" -n 20 --seed 1 --out listed.csv >/dev/null && G data --data "${spec%%:*}" -n 20 --seed 1 \
    --out named.csv >/dev/null && cmp -s listed.csv named.csv && pass || fail "gpm data --data $spec differs from ${spec%%:*}"
done
expect 2 "unknown parameter 'mode'; valid parameters: modes, radius, std" G data --data ring:mode=3 -n 10 --out m.csv
expect 2 "the parameter 'std' must be > 0, got 0" G data --data ring:std=0 -n 10 --out m.csv
expect 2 "unknown dataset 'rings'; valid names: ring (modes, radius, std)" G data --data rings -n 10 --out m.csv

# Reference data: the same seed gives the same points; a mixture's centres on request.
G data --data ring -n 300 --seed 5 --out ref_a.csv --centers centers.csv >/dev/null &&
  G data --data ring -n 300 --seed 5 --out ref_b.csv >/dev/null && cmp -s ref_a.csv ref_b.csv &&
  [ "$(wc -l <centers.csv)" = 5 ] && pass || fail "gpm data: same seed should give the same file, and 5 centres"
expect 0 '"modes_covered": 5' G eval --samples ref_b.csv --reference ref_a.csv --centers centers.csv --std 0.5
expect 2 "not a Gaussian mixture" G data --data moons -n 10 --out m.csv --centers c.csv
expect 2 "-n: must be an integer ≥ 1, got '0'" G data --data ring -n 0 --out m.csv
# The global --threads is accepted after the subcommand too, as `gpm train ... --threads T`.
expect 0 "wrote 10 points" "$gpm" data --data ring -n 10 --out t.csv --threads 1

# --- threads: at most the cores this process may use (its CPU affinity), named in the message ------
cores=$(nproc)
for threads in -1 10000 99999999999 $((cores + 1)); do
  expect 2 "--threads: must be an integer from 0 to $cores (0: one per core this process may use), got '$threads'" \
    "$gpm" data --data ring -n 10 --out t.csv --threads $threads
done
if command -v taskset >/dev/null && [ "$cores" -ge 2 ]; then  # the affinity, not the machine's cores, bounds it
  expect 2 "must be an integer from 0 to 1 (0: one per core" taskset -c 0 "$gpm" --threads 2 data --data ring -n 10 --out t.csv
  expect 0 "wrote 10 points" taskset -c 0 "$gpm" --threads 1 data --data ring -n 10 --out t.csv
fi

# --- integers: checked in the type they are stored in, before any conversion could wrap them -------
# (A run told 99999999999999999999 steps used to train without end: timeout guards against that.)
expect 2 "must be an integer ≥ 0, got '-1'" G data --data ring -n 10 --out t.csv --seed -1
expect 2 "--seed: must be an integer from 0 to 18446744073709551615, got '18446744073709551616'" \
  G data --data ring -n 10 --out t.csv --seed 18446744073709551616
expect 2 "-n: must be an integer from 1 to 9223372036854775807, got '99999999999999999999'" \
  G data --data ring -n 99999999999999999999 --out t.csv
expect 2 "--steps: must be an integer from 0 to 9223372036854775807, got '99999999999999999999'" \
  timeout 60 "$gpm" --threads 1 train --model gan --data ring --out wrapped --steps 99999999999999999999 --quiet
expect 2 "--checkpoint-every: must be an integer from 0 to" \
  G train --model gan --data ring --out wrapped --steps 1 --checkpoint-every 99999999999999999999
expect 2 "--seed: must be an integer from 0 to 18446744073709551615" \
  G train --model gan --data ring --out wrapped --steps 0 --seed 99999999999999999999
expect 2 "--steps: must be an integer ≥ 0, got '-1'" G sample --run gan_b -n 10 --out x.csv --steps -1
[ ! -e wrapped ] && pass || fail "a refused integer argument should leave no run behind"
# refused_config MODEL FILE JSON TEXT: training MODEL on ring with the config JSON, written to FILE,
# exits 2 printing TEXT.
refused_config() {
  echo "$3" >"$2"
  expect 2 "$4" G train --model "$1" --data ring --out refused --config "$2"
}
refused_config gan seed_beyond.json '{"seed": 18446744073709551616}' \
  "field 'seed' is 1.8446744073709552e+19, beyond the largest value 18446744073709551615"
refused_config gan steps_below.json '{"steps": -9223372036854775809}' \
  "field 'steps' is -9.223372036854776e+18, below the smallest value -9223372036854775808"
refused_config gan steps_beyond.json '{"steps": 18446744073709551615}' \
  "field 'steps' is 18446744073709551615, beyond the largest value 9223372036854775807"
expect 2 "--refine 'flow:steps=3,steps=4': 'steps' is given twice; keep one" \
  G sample --run gan_b -n 10 --out x.csv --refine flow:steps=3,steps=4
# Discriminator-guided sampling of a GAN run: refined latents and rejection, each its own samples,
# reproducible from the seed; refused for a model without a discriminator, with an unknown kind, or
# beside --truncation.
G sample --run gan_b -n 50 --out guided_latent.csv --seed 4 --guided latent:steps=5,eta=0.05 >/dev/null &&
  G sample --run gan_b -n 50 --out guided_latent2.csv --seed 4 --guided latent:steps=5,eta=0.05 >/dev/null &&
  G sample --run gan_b -n 50 --out guided_drs.csv --seed 4 --guided drs:burn_in=200,batch=100 2>drs_err.txt >/dev/null &&
  G sample --run gan_b -n 50 --out unguided.csv --seed 4 >/dev/null &&
  cmp -s guided_latent.csv guided_latent2.csv && ! cmp -s guided_latent.csv unguided.csv &&
  ! cmp -s guided_drs.csv unguided.csv && [ "$(wc -l <guided_drs.csv)" = 50 ] && grep -q "kept" drs_err.txt && pass ||
  fail "--guided latent and drs should sample a GAN run reproducibly, each differently from the generator alone"
expect 2 "--guided latent: this model has no discriminator" G sample --run edm_b -n 10 --out x.csv --guided latent
expect 2 "--guided: unknown sampler 'ddpm' for this model; choose one of latent, drs" \
  G sample --run gan_b -n 10 --out x.csv --guided ddpm
expect 2 "--guided draws its own latents" G sample --run gan_b -n 10 --out x.csv --guided drs --truncation 1
expect 2 "'percentile' must be in [0, 1], got 2" G sample --run gan_b -n 10 --out x.csv --guided drs:percentile=2

# --- learning-rate decay: the rates fall linearly over the last lr_decay of the steps ----------------
# Training lines only (evaluations interleave), without the wall-clock time and the logged factor.
training_lines() { grep '"discriminator_loss"' "$1/log.jsonl" | sed -e 's/,"time":[^,}]*//' -e 's/,"lr_scale":[^,}]*//'; }
sed 's/"lr_decay": 0/"log_every": 1, "lr_decay": 0/' gan.json >constant.json
sed 's/"lr_decay": 0/"lr_decay": 0.5/' constant.json >decaying.json
G train --model gan --data ring --out constant --steps 20 --config constant.json --quiet >/dev/null &&
  G train --model gan --data ring --out decaying --steps 20 --config decaying.json --quiet >/dev/null ||
  fail "training with lr_decay"
# Step k logs the factor of its updates and their losses: the factor is 1 through step 11 and falls
# by 0.1 from step 12 to 0.1 at step 20, so the losses part at step 12, whose generator loss comes
# after its discriminator update.
[ "$(grep -o '"lr_scale":[^,}]*' decaying/log.jsonl | sed -n '1p;11p;12p;20p' | tr '\n' ' ')" = \
  '"lr_scale":1.0 "lr_scale":1.0 "lr_scale":0.9 "lr_scale":0.1 ' ] && pass ||
  fail "lr_decay 0.5 over 20 steps should scale the rates by 1 through step 11, 0.9 at 12 and 0.1 at 20"
cmp -s <(training_lines constant | head -11) <(training_lines decaying | head -11) &&
  ! cmp -s <(training_lines constant | sed -n 12p) <(training_lines decaying | sed -n 12p) && pass ||
  fail "a decaying run should train as a constant one through step 11 and differently from step 12"
# A run stored before lr_decay existed resumes at the constant rate it was trained with.
cp -r decaying predating && grep -v '"lr_decay"' decaying/run.json >predating/run.json &&
  G train --resume predating --steps 24 --quiet >/dev/null && [ "$(grep -c '"lr_scale"' predating/log.jsonl)" = 20 ] &&
  grep -q '"lr_decay": 0.0' predating/run.json && pass ||
  fail "a GAN run without lr_decay in its run.json should resume at a constant rate"
echo '{"lr_decay": 1.5}' >long_decay.json
expect 2 "field 'lr_decay' must be in [0, 1], got 1.5" G train --model edm --data ring --out bad3 --config long_decay.json

# --- standardized coordinates ---------------------------------------------------------------------
# A point cloud 100 times wider and far from the origin trains in standardized coordinates ("auto"),
# and its samples are the samples of the cloud it was scaled from, scaled back (up to rounding).
G data --data ring -n 2000 --seed 8 --out small.csv >/dev/null
awk -F, '{ printf "%.9g,%.9g\n", 100 * $1 + 500, 100 * $2 - 300 }' small.csv >big.csv
sed 's/}$/, "standardize": "always"}/' edm.json >edm_always.json
sed 's/}$/, "standardize": "never"}/' edm.json >edm_never.json
expect 0 "trains on standardized data" G train --model edm --data big.csv --out big_edm --steps 30 --config edm.json --quiet
G train --model edm --data small.csv --out small_edm --steps 30 --config edm_always.json --quiet >/dev/null &&
  G sample --run big_edm -n 200 --seed 3 --out big_s.csv >/dev/null &&
  G sample --run small_edm -n 200 --seed 3 --out small_s.csv >/dev/null || fail "standardized runs: train or sample failed"
paste -d, big_s.csv small_s.csv |
  awk -F, '{ d = ($1 - 100 * $3 - 500) ^ 2 + ($2 - 100 * $4 + 300) ^ 2; if (d > m) m = d } END { exit !(NR == 200 && m < 1) }' &&
  pass || fail "samples of the scaled cloud are not the scaled samples of the original cloud"
# Data at the defaults' scale stays as it is; "never" keeps raw coordinates; plots draw in data coordinates.
grep -q standardization edm_base/run.json && fail "the ring should train in its own coordinates" || pass
G train --model edm --data big.csv --out big_raw --steps 1 --config edm_never.json --quiet >/dev/null &&
  ! grep -q standardization big_raw/run.json && pass || fail '"standardize": "never" should keep raw coordinates'
expect 0 "final.png" G plot --run big_edm
# A Score GAN trains in its data denoiser's coordinates, and refuses a setting that contradicts them.
G train --model score-gan --data big.csv --out big_sgan --steps 2 --config sgan.json --data-denoiser big_edm --quiet >/dev/null &&
  [ "$(sed -n '/"standardization"/,/}/p' big_sgan/run.json)" = "$(sed -n '/"standardization"/,/}/p' big_edm/run.json)" ] &&
  pass || fail "a Score GAN should take its EDM's standardization"
echo '{"standardize": "never"}' >sgan_never.json
expect 2 "conflicts with the data denoiser" G train --model score-gan --data big.csv --out bad3 --config sgan_never.json \
  --data-denoiser big_edm
echo '{"standardize": "sometimes"}' >sometimes.json
expect 2 "must be one of auto, always, never" G train --model gan --data ring --out bad3 --config sometimes.json
cp -r big_edm badscale && sed -i 's/"scale": [0-9.e+-]*/"scale": -1/' badscale/run.json
expect 2 "scale must be finite and > 0, got -1" G sample --run badscale -n 5 --out x.csv
sed -i 's/"scale": -1/"scale": "wide"/' badscale/run.json
expect 2 "the field 'standardization' must be" G sample --run badscale -n 5 --out x.csv

# --- bad data -------------------------------------------------------------------------------------
expect 2 "does not exist" G train --model gan --data missing.csv --out bad1
: >empty.csv
expect 2 "empty.csv" G train --model gan --data empty.csv --out bad1
printf '1,2\n3,x\n' >text.csv
expect 2 "line 2" G train --model gan --data text.csv --out bad1
printf '1,2\n3,4,5\n' >ragged.csv
expect 2 "line 2" G train --model gan --data ragged.csv --out bad1
printf '1,2\nnan,4\n' >nan.csv
expect 2 "line 2" G train --model gan --data nan.csv --out bad1
printf '1,2,3\n4,5,6\n' >three.csv
expect 2 "2-dimensional data" G train --model score-gan --data three.csv --out bad1 --data-denoiser edm_base
expect 2 "unknown dataset" G train --model gan --data spiral --out bad1

# --- numbers checked in the type they are stored in: data are float32, where 1e39 is infinite -------
printf '1e39,2\n3,4\n' >big.csv
expect 2 "'big.csv' line 1, column 1: '1e39' is beyond the largest value of dtype Float, 3.40282e+38" \
  G train --model gan --data big.csv --out bad1
expect 2 "'big.csv' line 1, column 1: '1e39' is beyond the largest value of dtype Float" G eval --samples big.csv --reference big.csv
expect 2 "GaussianRing: its points reach 1e+300" G data --data ring:radius=1e300 -n 3 --out overflow.csv
expect 2 "TwoMoons: its points reach 1e+39" G data --data moons:noise=1e38 -n 3 --out overflow.csv
[ ! -e overflow.csv ] && pass || fail "a dataset whose points overflow float32 should write nothing"

# --- CSV headers: a first line is a header when none of its cells is or begins like a number, data
# when every cell is a number, and an error otherwise; so no row of numbers is taken for a header. ---
printf '1,2\n3,4\n' >plain.csv
printf '\xef\xbb\xbf1,2\n3,4\n' >bom.csv           # a UTF-8 byte order mark, then data
printf 'x , "y"\n1,2\n3,4\n' >named.csv              # a header
for file in bom.csv named.csv; do
  expect 0 '"sliced_wasserstein": 0.0' G eval --samples $file --reference plain.csv
done
printf '2.o,1\n3,4\n' >typo.csv
expect 2 "'typo.csv' line 1, column 1: '2.o' is not a number, but column 2 ('1') is" G eval --samples typo.csv --reference plain.csv
printf '0x1F,0x2\n3,4\n' >hex.csv
expect 2 "line 1, column 1: '0x1F' is not a number (hexadecimal is not read: write it in decimal) but begins like one" \
  G eval --samples hex.csv --reference plain.csv
printf 'x,y\n1,2\n3,0x4\n' >hex_later.csv
expect 2 "'hex_later.csv' line 3, column 2: '0x4' is not a number (hexadecimal is not read" G train --model gan --data hex_later.csv --out bad1
printf 'x,y\n1,2\n3,four\n' >word_later.csv
expect 2 "'word_later.csv' line 3, column 2: 'four' is not a number; every cell after the optional header line must be a number" \
  G train --model gan --data word_later.csv --out bad1
# --header yes|no|auto (train, data, eval): yes skips any first line, even one that reads as numbers or
# begins like one; no reads it as data, so text in it is an error naming line 1; auto is the rule above.
printf '9,9\n1,2\n1,2\n' >numbers_head.csv
G data --data numbers_head.csv --header yes -n 50 --out skipped.csv >/dev/null && ! grep -q 9 skipped.csv &&
  G data --data numbers_head.csv -n 50 --out kept.csv >/dev/null && grep -q 9 kept.csv &&
  G data --data numbers_head.csv --header auto -n 50 --out auto.csv >/dev/null && cmp -s kept.csv auto.csv && pass ||
  fail "--header yes should skip a first line of numbers, and auto (the default) keep it as data"
printf '1st,2nd\n1,2\n3,4\n' >ordinal.csv
expect 2 "'ordinal.csv' line 1, column 1: '1st' is not a number but begins like one" G data --data ordinal.csv -n 5 --out x.csv
expect 0 '"sliced_wasserstein": 0.0' G eval --samples ordinal.csv --reference named.csv --header yes
expect 2 "'named.csv' line 1, column 1: 'x' is not a number; the file is read without a header line (header \"no\")" \
  G eval --samples plain.csv --reference named.csv --header no
expect 0 '"sliced_wasserstein": 0.0' G eval --samples plain.csv --reference plain.csv --header no
expect 2 "--header says how to read the first line of a CSV file, and 'ring' is a built-in dataset: drop --header" \
  G train --model gan --data ring --out bad1 --header yes
expect 2 "and every file eval reads here is a .npy file" G eval --samples a.npy --reference b.npy --header no
expect 2 "--header: maybe not in {auto,yes,no}" G data --data plain.csv -n 5 --out x.csv --header maybe
# The choice is kept in run.json: resume and plot read the data as the training did; a run.json
# without it (stored before the option) reads its data with auto; --resume takes no --header.
G train --model edm --data ordinal.csv --header yes --out headed --steps 2 --config edm.json --quiet >/dev/null &&
  grep -q '"csv_header": "yes"' headed/run.json && G train --resume headed --steps 4 --quiet >/dev/null &&
  G plot --run headed --out headed_figures >/dev/null && pass ||
  fail "a run trained with --header yes should keep it in run.json, and resume and plot with it"
expect 2 "only --steps and --checkpoint-every may be given with it" G train --resume headed --steps 6 --header no
sed -i 's/"csv_header": "yes"/"csv_header": "maybe"/' headed/run.json
expect 2 "'headed/run.json': the field 'csv_header' must be how its CSV data's first line is read: \"auto\", \"yes\" or \"no\", got \"maybe\"" \
  G train --resume headed --steps 6
G train --model edm --data named.csv --out unheaded --steps 2 --config edm.json --quiet >/dev/null &&
  grep -q '"csv_header": "auto"' unheaded/run.json && sed -i '/"csv_header"/d' unheaded/run.json &&
  G train --resume unheaded --steps 4 --quiet >/dev/null && pass ||
  fail "a run.json without csv_header (stored before it existed) should read its CSV data with auto"

# --- eval of large sets: the metrics whose cost grows with the square of the points (energy distance,
# MMD) see at most --max-points of each set, drawn with --seed; the output says what each metric used --
# points_used FILE METRIC SET: how many points of SET (samples, reference) METRIC used, from eval's JSON.
points_used() { sed -n '/"points_used"/,$p' "$1" | sed -n "/\"$2\": {/,/}/p" | sed -n "s/.*\"$3\": \([0-9]*\).*/\1/p"; }
G data --data ring -n 60000 --out big_a.csv --seed 1 >/dev/null && G data --data ring -n 60000 --out big_b.csv --seed 2 >/dev/null ||
  fail "gpm data should write 60,000 points"
expect 0 "gpm eval: energy_distance and squared_mmd, whose cost grows with the square of the points, use 100 of the 60000 samples and 100 of the 60000 reference points, drawn at random with --seed 0 (--max-points 100; 0 uses every point); sliced_wasserstein uses every point" \
  G eval --samples big_a.csv --reference big_b.csv --max-points 100
cp out.txt big.json
[ "$(points_used big.json energy_distance samples)" = 100 ] && [ "$(points_used big.json squared_mmd reference)" = 100 ] &&
  [ "$(points_used big.json sliced_wasserstein samples)" = 60000 ] && [ "$(points_used big.json sliced_wasserstein reference)" = 60000 ] &&
  pass || fail "eval's points_used should say 100 points of each set for energy_distance and squared_mmd, 60000 for sliced_wasserstein: $(cat big.json)"
# The draw is the seed's: the same seed gives the same metrics, another seed other subsets (and the
# same sliced_wasserstein, which uses every point).
G eval --samples big_a.csv --reference big_b.csv --max-points 100 >again.json 2>/dev/null && cmp -s big.json again.json &&
  G eval --samples big_a.csv --reference big_b.csv --max-points 100 --seed 1 >reseeded.json 2>/dev/null &&
  ! cmp -s <(grep '"energy_distance": [-0-9]' big.json) <(grep '"energy_distance": [-0-9]' reseeded.json) &&
  cmp -s <(grep '"sliced_wasserstein": [-0-9]' big.json) <(grep '"sliced_wasserstein": [-0-9]' reseeded.json) && pass ||
  fail "eval --seed should choose the subsets, and only them"
# Sets within the limit are used whole, and nothing is said; the default limit is 10,000.
G eval --samples plain.csv --reference named.csv --centers plain.csv --std 1 >small.json 2>small_err.txt &&
  [ ! -s small_err.txt ] && [ "$(points_used small.json energy_distance samples)" = 2 ] &&
  [ "$(points_used small.json mode_coverage samples)" = 2 ] && pass ||
  fail "eval of small sets should use every point, silently: $(cat small_err.txt small.json)"
expect 0 "(default 10000; 0: every point)" "$gpm" eval --help
expect 2 "--max-points 1 would leave one point of each set, and the metrics compare pairs of points" \
  G eval --samples plain.csv --reference plain.csv --max-points 1
expect 2 "--max-points: must be an integer ≥ 0, got '-5'" G eval --samples plain.csv --reference plain.csv --max-points -5

# --- bad configs and arguments --------------------------------------------------------------------
echo '{"widht": 3}' >unknown.json
expect 2 "valid fields: steps, batch_size" G train --model gan --data ring --out bad2 --config unknown.json
echo '{"generator": {"width": "wide"}}' >type.json
expect 2 "field 'generator.width' must be an integer" G train --model gan --data ring --out bad2 --config type.json
echo '{"generator.wdth": 3}' >dotted.json
expect 2 "unknown field 'generator.wdth'; valid fields of 'generator': width, depth" G train --model gan --data ring --out bad2 --config dotted.json
echo '{"latent_dim.size": 3}' >scalar.json
expect 2 "field 'latent_dim' is an integer, not an object with fields" G train --model gan --data ring --out bad2 --config scalar.json
echo '{"width": 32}' >flat_width.json
expect 2 "unknown field 'width'" G train --model gan --data ring --out bad2 --config flat_width.json
echo '{"batch_size": 0}' >zero.json
expect 2 "field 'batch_size' must be ≥ 1, got 0" G train --model gan --data ring --out bad2 --config zero.json
echo '{"weight_average": 1.5}' >decay.json
expect 2 "weight_average' must be in [0, 1)" G train --model edm --data ring --out bad2 --config decay.json
echo '{"penalty": {"point": "middle"}}' >point.json
expect 2 "field 'penalty.point' must be one of interpolation, real, fake" G train --model gan --data ring --out bad2 --config point.json
echo '{"steps": -5}' >negative.json
expect 2 "field 'steps' must be ≥ 0, got -5" G train --model gan --data ring --out bad2 --config negative.json
refused_config gan huge.json '{"lr": 1e400}' \
  "'huge.json': the field 'lr' is 1e400, beyond the largest number (1.7976931348623157e+308)"
refused_config gan nested_huge.json '{"generator": {"width": 8, "depth": -1e999}}' \
  "'nested_huge.json': the field 'generator.depth' is -1e999, beyond the largest number"
refused_config gan beta.json '{"generator_optimizer": {"beta1": 5}}' \
  "config 'gan': field 'generator_optimizer.beta1' must be in [0, 1), got 5"
# Batch norm needs two rows per batch in training: a batch of one is refused naming both fields.
refused_config gan bn_one.json '{"generator.batch_norm": true, "discriminator.batch_norm": true, "batch_size": 1}' \
  "config 'gan': 'discriminator.batch_norm' and 'generator.batch_norm' are true, and batch norm normalises over the rows of a batch, which needs 'batch_size' ≥ 2, got 1"
refused_config edm bn_edm_one.json '{"network.mlp.batch_norm": true, "batch_size": 1}' "config 'edm': 'network.mlp.batch_norm' is true"
[ ! -e refused ] && pass || fail "a refused config should leave no run behind"
echo '{"latent_dim": 3, "generator": {"width": 8, "width": 16}}' >twice.json
expect 2 "gives the field 'width' twice" G train --model gan --data ring --out bad2 --config twice.json
echo '{"latent_dim": 3' >broken.json
expect 2 "is not valid JSON" G train --model gan --data ring --out bad2 --config broken.json
expect 2 "--steps" G train --model gan --data ring --out bad2 --steps -5
expect 2 "--model" G train --model vae --data ring --out bad2
expect 2 "needs --data-denoiser" G train --model score-gan --data ring --out bad2
touch plainfile
expect 2 "cannot create the output directory" G train --model gan --data ring --out plainfile/run
expect 2 "already holds a run" G train --model gan --data ring --out gan_a --config gan.json
[ ! -e bad2 ] || [ -z "$(ls bad2)" ] && pass || fail "a refused run left files in bad2"

# --- bad checkpoints: refused, naming the file, and nothing overwritten -----------------------------
cp -r gan_a trunc && head -c 2000 gan_a/checkpoint.pt >trunc/checkpoint.pt && cp trunc/run.json trunc.json.before
expect 2 "trunc/checkpoint.pt" G train --resume trunc --steps 40
cmp -s trunc/run.json trunc.json.before && cmp -s <(head -c 2000 gan_a/checkpoint.pt) trunc/checkpoint.pt && pass ||
  fail "a failed resume changed the run directory"
cp -r edm_a foreign && cp gan_a/checkpoint.pt gan_a/checkpoint.json foreign/
expect 2 "foreign/checkpoint.pt': it was written for a different model" G train --resume foreign --steps 40
printf 'not a checkpoint' >junk.pt && cp -r gan_a junk && cp junk.pt junk/checkpoint.pt
expect 2 "junk/checkpoint.pt" G sample --run junk -n 5 --out x.csv
expect 2 "is not a run directory" G sample --run nowhere -n 5 --out x.csv
# Every checkpoint has a manifest, checkpoint.json: its format, step, size and SHA-256 (the digest
# sha256sum prints).
[ "$(sha256sum <gan_a/checkpoint.pt | cut -d' ' -f1)" = "$(sed -n 's/^ *"sha256": "\([0-9a-f]*\)",$/\1/p' gan_a/checkpoint.json)" ] &&
  grep -q "\"size\": $(stat -c %s gan_a/checkpoint.pt)," gan_a/checkpoint.json && grep -q '"step": 31$' gan_a/checkpoint.json &&
  pass || fail "gan_a/checkpoint.json should record the checkpoint's SHA-256, size and step: $(cat gan_a/checkpoint.json)"
# One bit flipped inside a stored tensor changes neither the file's size nor its structure: the
# manifest refuses it before anything is loaded, and sample and resume write nothing (the lock file,
# which a resume takes, aside).
flip_bit() {  # flip_bit FILE: flips the lowest bit of the byte in the middle of FILE
  local at=$(($(stat -c %s "$1") / 2))
  printf "$(printf '\\%03o' $(($(od -An -tu1 -j $at -N1 "$1") ^ 1)))" | dd of="$1" bs=1 seek=$at conv=notrunc status=none
}
for model in gan edm discr-flow score-gan; do
  rm -rf flipped flipped.csv && cp -r ${model}_b flipped && flip_bit flipped/checkpoint.pt &&
    ! cmp -s flipped/checkpoint.pt ${model}_b/checkpoint.pt && tar --exclude=.gpm-lock -cf flipped.tar flipped
  expect 2 "'flipped/checkpoint.pt' does not match its manifest 'flipped/checkpoint.json'" G sample --run flipped -n 5 --out flipped.csv
  expect 2 "'flipped/checkpoint.pt' does not match its manifest" G train --resume flipped --steps 40
  [ ! -e flipped.csv ] && cmp -s flipped.tar <(tar --exclude=.gpm-lock -cf - flipped) && pass ||
    fail "$model: a refused checkpoint should leave the run directory as it was and write no samples"
done
echo '{"format": 1' >broken_manifest.json && rm -rf unlisted && cp -r gan_b unlisted && cp broken_manifest.json unlisted/checkpoint.json
expect 2 "'unlisted/checkpoint.json' is not a checkpoint manifest" G sample --run unlisted -n 5 --out x.csv
# A training stopped between renaming its new checkpoint and its new manifest left the manifest that
# describes the checkpoint under its temporary name: the run loads.
rm -rf renamed && cp -r gan_b renamed && mv renamed/checkpoint.json renamed/checkpoint.json.tmp && cp edm_b/checkpoint.json renamed/
expect 0 "wrote 5 samples" G sample --run renamed -n 5 --out renamed.csv
# A checkpoint write that fails (a full disk; here a file-size limit) keeps the previous checkpoint and
# its manifest as they were, leaves no temporary file, and the run resumes from them.
sed 's/}$/, "eval_samples": 10}/' edm.json >small_eval.json
G train --model edm --data ring --out full_ckpt --steps 5 --config small_eval.json --quiet >/dev/null &&
  cp full_ckpt/checkpoint.pt full_ckpt/checkpoint.json . || fail "training full_ckpt"
(trap '' XFSZ && ulimit -f 64 && G train --resume full_ckpt --steps 10 --quiet >out.txt 2>err.txt)
code=$?
[ $code = 1 ] && grep -qF "full_ckpt/checkpoint.pt.tmp' failed (File too large) at step 10; stopping. The last checkpoint is 'full_ckpt/checkpoint.pt' (step 5)" err.txt &&
  cmp -s checkpoint.pt full_ckpt/checkpoint.pt && cmp -s checkpoint.json full_ckpt/checkpoint.json && ! ls full_ckpt/*.tmp 2>/dev/null &&
  pass || fail "a failed checkpoint write should keep the previous checkpoint; got exit $code: $(cat err.txt)"
expect 0 "trained 5 more steps to step 10" G train --resume full_ckpt --steps 10 --quiet

# --- run.json and the data of a run: a field of the wrong type, or data replaced, named -----------------
for edit in 's/"dim": 2/"dim": "two"/|the field '"'"'dim'"'"' must be an integer ≥ 1, got "two"' \
  's/"model": "gan"/"model": 3/|the field '"'"'model'"'"' must be a model'"'"'s name (a string), got 3' \
  's/"config": {/"config": 7, "old": {/|the field '"'"'config'"'"' must be an object of config fields, got 7' \
  's/"beta1": 0.5/"beta1": 5/g|config '"'"'gan'"'"': field '"'"'generator_optimizer.beta1'"'"' must be in [0, 1), got 5' \
  's/"latent_dim": [0-9]*/"latent_dim": "many"/|config '"'"'gan'"'"': field '"'"'latent_dim'"'"' must be an integer, got "many"'; do
  rm -rf edited && cp -r gan_a edited && sed -i "${edit%%|*}" edited/run.json
  expect 2 "'edited/run.json': ${edit#*|}" G sample --run edited -n 5 --out x.csv
done
cp -r score-gan_a edited_sgan && sed -i 's/"run": "/"run": 5, "was": "/' edited_sgan/run.json
expect 2 "'edited_sgan/run.json': the field 'data_denoiser.run' must be a run directory (a string), got 5" \
  G sample --run edited_sgan -n 5 --out x.csv
# A data file replaced by one of another dimension: resume and plot name the run and the file.
printf '1,2\n3,4\n5,6\n' >swap.csv
G train --model edm --data swap.csv --out swapped --steps 2 --config edm.json --quiet >/dev/null || fail "training on swap.csv"
printf '1,2,3\n4,5,6\n' >swap.csv
expect 2 "the run in 'swapped' was trained on 2-dimensional data, but its data '$PWD/swap.csv' now hold 3-dimensional data" \
  G train --resume swapped --steps 4
expect 2 "the run in 'swapped' was trained on 2-dimensional data" G plot --run swapped --out swapped_figures
# Sampling one point from a model whose network has batch norm (an EDM's denoiser) works: models sample
# in eval mode, where batch norm uses its running statistics.
sed 's/"network": {"mlp": {/"network": {"mlp": {"batch_norm": true, /' edm.json >bn_edm.json
G train --model edm --data ring --out bn_edm --steps 2 --config bn_edm.json --quiet >/dev/null || fail "training an EDM with batch norm"
expect 0 "wrote 1 samples" G sample --run bn_edm -n 1 --out one.csv
expect 0 "wrote 2 samples" G sample --run bn_edm -n 2 --out x.csv

# --- a non-finite loss stops the run, names the step, and keeps the last good checkpoint -----------
sed 's/"optimizer.lr": 0.01/"optimizer.lr": 1000/' edm.json >diverge.json
expect 1 "training step 2 produced a non-finite" G train --model edm --data ring --out blowup --steps 50 --checkpoint-every 1 \
  --config diverge.json
grep -qF "lower the learning rate (optimizer.lr = 1000)" err.txt && pass || fail "the stop should name the learning rate: $(cat err.txt)"
# The checkpoint of step 1 loads, but that step's update had already thrown the weights so far that
# they sample NaN: sampling refuses to write them.
expect 1 "sampling 'blowup' produced non-finite values in" G sample --run blowup -n 5 --out x.csv
grep -q '"model": "edm"' blowup/run.json && pass || fail "run.json should still describe the run"

# --- results that are not numbers are failures, never a success with NaN rows or a null metric ------
# Noise levels whose squares overflow float32 (σ_max = 1e35) turn some samples into NaN: the first
# evaluation stops the training (exit 1, naming the cause), and log.jsonl holds no null.
sed 's/}$/, "preconditioning.sigma_max": 1e35}/' edm.json >wide_sigma.json
expect 1 "the evaluation at step 1 drew non-finite values in" G train --model edm --data ring --out wide --steps 3 \
  --config wide_sigma.json
grep -qF "noise levels are beyond float32's range (preconditioning.sigma_max = 1e+35" err.txt && pass ||
  fail "the stop should name the noise levels as the cause: $(cat err.txt)"
grep -q null wide/log.jsonl && fail "log.jsonl should hold no null metric" || pass
# With an evaluation of 2 samples, which happen to be finite, it trains: sampling more refuses to write
# NaN rows, and plot has nothing to draw.
sed 's/}$/, "eval_samples": 2}/' wide_sigma.json >wide_lucky.json
G train --model edm --data ring --out wide_lucky --steps 1 --config wide_lucky.json --quiet >/dev/null ||
  fail "an evaluation of 2 finite samples should pass"
expect 1 "produced non-finite values in" G sample --run wide_lucky -n 1000 --out wide.csv
[ ! -e wide.csv ] && grep -qF "nothing was written to 'wide.csv'" err.txt && pass || fail "sampling NaN should write nothing"
expect 1 "there is nothing to draw" G plot --run wide_lucky --out wide_figures
# Samples that are finite but far wider than the data (σ_max = 1e30) are drawn as they are.
sed 's/1e35/1e30/' wide_sigma.json >wider_sigma.json
G train --model edm --data ring --out wider --steps 1 --config wider_sigma.json --quiet >/dev/null ||
  fail "an EDM with finite samples far wider than the data should train"
expect 0 "generation.png" G plot --run wider --out wider_figures
# gpm eval refuses NaN in a .npy file as it does in a CSV file.
G sample --run edm_b -n 2 --out nan.npy >/dev/null && printf '\x00\x00\xc0\x7f' | dd of=nan.npy bs=1 seek=$(($(stat -c %s nan.npy) - 4)) \
  conv=notrunc status=none
expect 2 "holds 1 NaN or infinite values" G eval --samples nan.npy --reference ref_a.csv

# --- run directories: one writer at a time --------------------------------------------------------
# A run directory belongs to the process that trains into it, a resume included: another training or
# resume into it is refused, naming the holder's PID, and the run stays as its holder wrote it.
# (gpm runs directly in the background, so that $! is its PID.)
wait_for_lock() { for _ in $(seq 300); do grep -qx "$2" "$1/.gpm-lock" 2>/dev/null && return; sleep 0.1; done; }
"$gpm" --threads 1 train --model gan --data ring --out busy --steps 1000000 --config gan.json --quiet >/dev/null 2>&1 &
holder=$!
wait_for_lock busy $holder
expect 2 "PID $holder is writing it" G train --model gan --data moons --out busy --steps 10 --config gan.json --quiet
expect 2 "PID $holder is writing it" G train --resume busy --steps 10
kill $holder && wait $holder 2>/dev/null
grep -q '"data": "ring"' busy/run.json && ! grep -q moons busy/run.json && pass ||
  fail "a refused second training should leave the first one's run.json alone"
cp -r gan_a resuming
"$gpm" --threads 1 train --resume resuming --steps 1000000 --quiet >/dev/null 2>&1 &
holder=$!
wait_for_lock resuming $holder
expect 2 "PID $holder is writing it" G train --resume resuming --steps 40
kill $holder && wait $holder 2>/dev/null
# The lock goes with its process, however it ended: the killed resume's run resumes.
expect 0 "trained 1 more steps to step 32" G train --resume resuming --steps 32 --quiet

# --- nothing overwritten: train starts in a new or empty directory; no output replaces a run's files --
mkdir -p notes && echo '{}' >notes/run.json
expect 2 "holds a run that has no checkpoint" G train --model gan --data ring --out notes --steps 1 --config gan.json
[ "$(cat notes/run.json)" = '{}' ] && [ "$(ls -A notes)" = run.json ] && pass ||
  fail "a refused --out should be left as it was"
mkdir -p mine && echo keep >mine/notes.txt
expect 2 "is not empty (it holds notes.txt)" G train --model gan --data ring --out mine --steps 1 --config gan.json
[ "$(ls -A mine)" = notes.txt ] && pass || fail "train should leave a directory of other files alone"
# The run killed before its first checkpoint (busy, above) is not trained over by another.
expect 2 "holds a run that has no checkpoint" G train --model gan --data moons --out busy --steps 1 --config gan.json
grep -q '"data": "ring"' busy/run.json && pass || fail "a retraining should not overwrite a stopped run's run.json"
mkdir -p empty_out && expect 0 "run saved to empty_out" G train --model gan --data ring --out empty_out --steps 1 \
  --config gan.json --quiet
expect 2 "is not a run directory (it has no run.json)" G train --resume mine --steps 1
[ "$(ls -A mine)" = notes.txt ] && pass || fail "a refused --resume should write nothing in the directory"
# Samples, data, centres and figures go anywhere but into a run's own files (also through a link).
cp -r gan_b guarded && snapshot="guarded/snapshots/$(ls gan_b/snapshots | head -1)" && tar -cf guarded.tar guarded
expect 2 "one of the own files of the run" G sample --run guarded -n 5 --out guarded/run.json
expect 2 "one of the own files of the run" G sample --run guarded -n 5 --out "$snapshot"
expect 2 "one of the own files of the run" G data --data ring -n 5 --out guarded/log.jsonl
expect 2 "one of the own files of the run" G data --data ring -n 5 --out x.csv --centers guarded/checkpoint.pt
ln -sf guarded/run.json run_link.csv
expect 2 "one of the own files of the run" G data --data ring -n 5 --out run_link.csv
expect 2 "one of the own files of the run" G plot --run guarded --out guarded/snapshots
expect 2 "one of the own files of the run" G train --model gan --data ring --out guarded/snapshots/run --steps 1
cmp -s guarded.tar <(tar -cf - guarded) && pass || fail "a refused output changed the run directory"
expect 0 "wrote 5 samples" G sample --run guarded -n 5 --out guarded/samples.csv

# --- the log: every write checked, and a resume does not repeat what was logged past its checkpoint ----
# A write that fails stops training with exit 1 naming the log: here writes beyond a file-size limit
# fail as on a full disk (SIGXFSZ ignored, so that the write returns its error), early in the log of
# every step and before the first evaluation.
sed 's/"log_every": 1/"log_every": 1, "eval_every": 1000/' constant.json >every_step.json
(trap '' XFSZ && ulimit -f 4 && G train --model gan --data ring --out full_log --steps 200 --config every_step.json --quiet \
  >out.txt 2>err.txt)
code=$?
[ $code = 1 ] && grep -q "full_log/log.jsonl' failed at step" err.txt && pass ||
  fail "a log write that fails should stop training with exit 1 naming the log; got exit $code: $(cat err.txt)"
# A training stopped at step 30 with its last checkpoint at step 20 (made here from a run of 30 steps'
# log and one of 20 steps' checkpoint) resumes from step 20 and logs steps 21 to 30 once.
G train --model gan --data ring --out stopped --steps 20 --checkpoint-every 10 --config constant.json --quiet >/dev/null &&
  G train --model gan --data ring --out went_on --steps 30 --config constant.json --quiet >/dev/null &&
  cp went_on/log.jsonl stopped/log.jsonl && printf '{"step":31,"ti' >>stopped/log.jsonl &&
  G train --resume stopped --steps 40 --quiet >/dev/null || fail "the stopped run should resume"
steps=$(grep '"discriminator_loss"' stopped/log.jsonl | grep -o '"step":[0-9]*' | tr '\n' ' ')
[ "$steps" = "$(seq -f '"step":%g' 1 40 | tr '\n' ' ')" ] && pass ||
  fail "the resumed log should hold steps 1 to 40 once each, got: $steps"
# Its logged time counts on from the kept lines' (the run's wall time summed over resumes): never decreasing.
grep -o '"time":[0-9.e+-]*' stopped/log.jsonl | cut -d: -f2 | awk 'NR > 1 && $1 < last { bad = 1 } { last = $1 } END { exit bad }' &&
  pass || fail "the logged time should go on from the resumed checkpoint's, never back: $(grep -o '"time":[0-9.e+-]*' stopped/log.jsonl | tr '\n' ' ')"
# Evaluations every 6 steps of 30 up to step 20, then every 8 of 40.
[ "$(grep '"eval"' stopped/log.jsonl | grep -o '"step":[0-9]*' | tr '\n' ' ')" = '"step":6 "step":12 "step":18 "step":24 "step":32 "step":40 ' ] &&
  pass || fail "the resumed log should keep the evaluations up to step 20 and add its own"

# --- gpm sample --sampler: an EDM run sampled with another stepper, its run left as it was ---------------
cp edm_base/run.json edm_base_run.json
for sampler in heun als cas; do
  G sample --run edm_base -n 300 --seed 4 --sampler $sampler --out sampler_$sampler.csv >/dev/null || fail "--sampler $sampler"
done
G sample --run edm_base -n 300 --seed 4 --out sampler_default.csv >/dev/null
cmp -s sampler_heun.csv sampler_default.csv && ! cmp -s sampler_als.csv sampler_heun.csv && ! cmp -s sampler_cas.csv sampler_als.csv &&
  cmp -s edm_base/run.json edm_base_run.json && pass ||
  fail "--sampler heun should sample as the config does, als and cas differently, and run.json stay as it was"
expect 2 "--sampler ode: config 'edm': field 'sampler' must be one of" G sample --run edm_base -n 5 --sampler ode --out x.csv
expect 2 "--sampler cas: a gan run has no sampler to choose" G sample --run gan_a -n 5 --sampler cas --out x.csv

# --- gpm sample --truncation: a generator's latents truncated to [-TAU, TAU] ---------------------------
G sample --run gan_a -n 300 --seed 4 --out plain.csv >/dev/null &&
  G sample --run gan_a -n 300 --seed 4 --truncation 0.5 --out truncated.csv >/dev/null &&
  G sample --run gan_a -n 300 --seed 4 --truncation 0.5 --out truncated_again.csv >/dev/null &&
  G sample --run gan_a -n 300 --seed 4 --truncation 0.000001 --out pinned.csv >/dev/null &&
  ! cmp -s plain.csv truncated.csv && cmp -s truncated.csv truncated_again.csv &&
  [ "$(tail -n +2 pinned.csv | cut -c1-4 | sort -u | wc -l)" -le 2 ] && pass ||
  fail "--truncation should sample the generator from truncated latents, reproducibly, near g(0) for a tiny TAU"
expect 2 "--truncation: a discr-flow run samples along its own flow, from no latent" \
  G sample --run discr-flow_a -n 5 --truncation 1 --out x.csv
expect 2 "--truncation must be > 0" G sample --run gan_a -n 5 --truncation -1 --out x.csv

# --- a run serves from any working directory, and --resume continues it where it is ------------------
cp -r gan_a resume_here && tar -cf resume_here.tar resume_here
expect 2 "continues the run in 'resume_here', in place" G train --resume resume_here --out resume_there --steps 40
[ ! -e resume_there ] && cmp -s resume_here.tar <(tar -cf - resume_here) && pass ||
  fail "--resume with --out should be refused before anything is written"
# run.json holds the data file's absolute path: a run trained here resumes, samples and plots from elsewhere.
mkdir -p away
G train --model edm --data small.csv --out csv_run --steps 10 --config edm.json --quiet >/dev/null &&
  (cd away && G train --resume ../csv_run --steps 20 --quiet >/dev/null && G sample --run ../csv_run -n 5 --out s.csv >/dev/null &&
    G plot --run ../csv_run --out figures >/dev/null) && pass ||
  fail "a run on a CSV file should resume, sample and plot from another working directory"
grep -qF "\"data\": \"$PWD/small.csv\"" csv_run/run.json && pass || fail "run.json should hold the data file's absolute path"

# --- data-parallel training: gpm launch, the rendezvous options, a rank that stops ------------------------
# close_to A B TOL: two sample files of the same shape agree to TOL relative to 1 + |x|.
close_to() {
  [ "$(wc -l <"$1")" = "$(wc -l <"$2")" ] &&
    paste -d, "$1" "$2" | awk -F, -v tol="$3" '{ if (NF % 2) exit 1; n = NF / 2
      for (i = 1; i <= n; i++) { d = $i - $(i + n); m = $(i + n); if (d < 0) d = -d; if (m < 0) m = -m
        if (d > tol * (1 + m)) exit 1 } }'
}
# 2 processes × batch 16 train as 1 process × batch 32: every rank draws the whole batch's random
# numbers and keeps its rows, and gradients are averaged. Only the order of the sums over the ranks
# differs (float rounding, amplified by 20 Adam steps; a rank training on the other's data or noise,
# or gradients not averaged, moves samples by 1e-1 and more).
echo "{$gan_fields, \"batch_size\": 16, \"lr_decay\": 0}" >par16.json
echo "{$gan_fields, \"batch_size\": 32, \"lr_decay\": 0}" >par32.json
G launch -n 2 -- train --model gan --data ring --steps 20 --config par16.json --out par_two --quiet >/dev/null 2>launch_err.txt &&
  G train --model gan --data ring --steps 20 --config par32.json --out par_one --quiet >/dev/null &&
  G sample --run par_two -n 200 --seed 3 --out par_two.csv >/dev/null && G sample --run par_one -n 200 --seed 3 --out par_one.csv >/dev/null &&
  close_to par_two.csv par_one.csv 1e-3 && grep -qF '"world_size": 2' par_two/run.json && pass ||
  fail "2 ranks × batch 16 should train as 1 process × batch 32: $(cat launch_err.txt)"
# With batch norm in the discriminator, only when the ranks sum its statistics. Compared on the first
# step's discriminator gradient norm and penalty (the statistics of 16 rows against 32 change them
# by 1–25 %): later steps amplify float rounding into differences as large (Adam's first steps
# move the biases ahead of a batch norm, whose gradient is zero up to rounding, by ±lr).
bn_fields="$gan_fields, \"discriminator.batch_norm\": true, \"lr_decay\": 0, \"log_every\": 1"
echo "{$bn_fields, \"batch_size\": 16, \"sync_batch_norm\": true}" >bn16sync.json
echo "{$bn_fields, \"batch_size\": 16}" >bn16.json
echo "{$bn_fields, \"batch_size\": 32}" >bn32.json
first_step() {  # first_step RUN: the first log line's discriminator gradient norm and penalty
  head -n 1 "$1/log.jsonl" | grep -o '"discriminator_grad_norm":[^,]*\|"gradient_penalty":[^,]*' | cut -d: -f2 | tr '\n' ' '
}
same_first_step() {  # same_first_step A B: both to 1e-4, relative
  echo "$(first_step "$1") $(first_step "$2")" | awk '{ for (i = 1; i <= 2; i++) { d = $i - $(i + 2); if (d < 0) d = -d
    m = $(i + 2); if (m < 0) m = -m; if (NF != 4 || d > 1e-4 * m) exit 1 } }'
}
G launch -n 2 -- train --model gan --data ring --steps 1 --config bn16sync.json --out bn_sync --quiet >/dev/null 2>launch_err.txt &&
  G launch -n 2 -- train --model gan --data ring --steps 1 --config bn16.json --out bn_ranks --quiet >/dev/null 2>>launch_err.txt &&
  G train --model gan --data ring --steps 1 --config bn32.json --out bn_one --quiet >/dev/null &&
  same_first_step bn_sync bn_one && ! same_first_step bn_ranks bn_one && pass ||
  fail "2 ranks × batch 16 with sync_batch_norm should take a GAN's first step with batch norm as 1 process × batch 32, and not without it: $(first_step bn_sync) / $(first_step bn_ranks) / $(first_step bn_one) $(cat launch_err.txt)"
expect 2 "was trained by 2 processes" G train --resume par_two --steps 30
G launch -n 2 -- train --resume par_two --steps 30 --quiet >/dev/null 2>launch_err.txt && grep -qF '"step": 30' par_two/checkpoint.json &&
  [ "$(grep -c '"step":' par_two/log.jsonl)" -ge 2 ] && pass || fail "gpm launch should resume a 2-process run: $(cat launch_err.txt)"
expect 2 "--world-size 2 needs --rank R" G train --model gan --data ring --out x --world-size 2
expect 2 "--rank, --master-addr and --master-port describe a group" G train --model gan --data ring --out x --rank 1
expect 2 "gpm launch sets each rank's --rank itself" G launch -n 2 -- train --model gan --data ring --out x --rank 1
expect 2 "gpm launch runs ranks of a training" G launch -n 2 -- sample --run par_two -n 5 --out x.csv
# A rank whose rank 0 never comes ends within its timeout, saying so, and writes nothing.
expect 1 "did not complete within 2 s" G train --model gan --data ring --out lonely --world-size 2 --rank 1 \
  --master-port $((20000 + RANDOM % 20000)) --dist-timeout 2
[ ! -e lonely ] && pass || fail "a rank that is not rank 0 should write nothing"
# Killing a rank mid-training ends the other within the timeout with a clear message, and the last
# checkpoint stays loadable.
echo "{$gan_fields, \"batch_size\": 16, \"lr_decay\": 0, \"checkpoint_every\": 5}" >kill.json
port=$((20000 + RANDOM % 20000))
for rank in 0 1; do
  WORLD_SIZE=2 RANK=$rank MASTER_PORT=$port "$gpm" --threads 1 train --model gan --data ring --steps 1000000 \
    --config kill.json --out killed --quiet --dist-timeout 30 >/dev/null 2>kill$rank.txt &
  eval "rank$rank=\$!"
done
for _ in $(seq 300); do [ -e killed/checkpoint.json ] && break; sleep 0.2; done
( sleep 90; kill -9 "$rank0" 2>/dev/null ) &
watchdog=$!
started=$SECONDS
kill -9 "$rank1"
wait "$rank1" 2>/dev/null
wait "$rank0"
code=$?
kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null
[ "$code" = 1 ] && [ $((SECONDS - started)) -lt 30 ] && grep -qF "another rank has probably stopped" kill0.txt &&
  G sample --run killed -n 10 --out killed.csv >/dev/null && pass ||
  fail "killing rank 1 should end rank 0 within 30 s, naming the problem, with a loadable checkpoint (exit $code): $(cat kill0.txt)"

# --- gpm bench: a training step's and a sampler's throughput, as JSON -----------------------------------
G bench --model gan --preset quick --warmup 1 --windows 2 --window-seconds 0.2 >bench_train.json 2>bench_err.txt &&
  grep -qF '"unit": "steps/s"' bench_train.json && [ "$(grep -c '"rate":' bench_train.json)" = 2 ] &&
  grep -qE '"flops_per_call": [1-9]' bench_train.json && grep -qE '"share_of_same_ops_alone": ([1-9]|0\.0*[1-9])' bench_train.json &&
  grep -qF '"op": "aten::addmm"' bench_train.json && grep -qF '"peak":' bench_train.json && pass ||
  fail "gpm bench should time a training step and print rates, FLOPs and the same ops' share as JSON: $(cat bench_err.txt)"
G bench --model edm --preset quick --what sample --batch 64 --warmup 1 --windows 1 --window-seconds 0.2 >bench_sample.json &&
  grep -qF '"unit": "samples/s"' bench_sample.json && grep -qF '"batch": 64' bench_sample.json &&
  grep -qF '"generation_steps":' bench_sample.json && pass ||
  fail "gpm bench --what sample should time sampler calls of --batch samples"
expect 2 "needs --data-denoiser" G bench --model score-gan --preset quick
expect 2 "--what" G bench --model gan --what fast
expect 2 "--window-seconds" G bench --model gan --window-seconds 0

# --- devices: --device names cpu or cuda, refused where LibTorch has no CUDA; run.json records the
# kind of device a run trained on, and a run is opened on that kind ---------------------------------
if ! G --device cuda models >/dev/null 2>&1; then
  expect 2 "sees no CUDA device" G --device cuda train --model gan --data ring --out on_cuda --steps 2
  [ ! -e on_cuda ] && pass || fail "a refused --device should leave no run behind"
fi
expect 2 "gpm trains on cpu or cuda" G --device meta sample --run edm_base -n 4 --out meta.csv
expect 2 "name a device as cpu, cuda or cuda:N" G --device gpu0 sample --run edm_base -n 4 --out gpu0.csv
grep -qF '"device": "cpu"' edm_base/run.json && pass || fail "run.json should record the device a run trained on"
G --device cpu sample --run edm_base -n 4 --out on_cpu.csv >/dev/null 2>&1 && pass || fail "--device cpu sample"
cp -r edm_base edm_on_cuda
sed -i 's/"device": "cpu"/"device": "cuda"/' edm_on_cuda/run.json
expect 2 "was trained on cuda" G sample --run edm_on_cuda -n 4 --out from_cuda.csv
if ! G --device cuda models >/dev/null 2>&1; then
  expect 2 "trained on cuda, and its checkpoint holds cuda's random streams" \
    G train --model score-gan --data ring --out from_cuda_edm --data-denoiser edm_on_cuda
fi

# A command on every core says so when another process holds one (a busy loop beside it here).
if [ "$(nproc)" -ge 2 ]; then
  bash -c 'while [ $SECONDS -lt 4 ]; do :; done' &
  busy=$!
  sleep 0.5
  "$gpm" bench --model gan --preset quick --warmup 0 --windows 1 --window-seconds 0.1 >/dev/null 2>busy_err.txt
  kill $busy 2>/dev/null; wait $busy 2>/dev/null
  grep -qF "other processes keep" busy_err.txt && grep -qF -- "pass --threads" busy_err.txt && pass ||
    fail "gpm bench on every core should warn when another process holds one: $(cat busy_err.txt)"
fi
finish
