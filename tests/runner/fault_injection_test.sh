#!/usr/bin/env bash
# Fault injection: 20 `kill -9` at seeded random moments of trainings (mid-step, mid-checkpoint: every
# step writes one), resumes and sampling, on small 2-D runs of three models. After each kill:
#   - a checkpoint left behind is the complete one: its SHA-256 (sha256sum's, not gpm's) is the one its
#     manifest records (or the pending checkpoint.json.tmp's, if the kill fell between the two renames);
#   - the run resumes (trained again from scratch when the kill came before its first checkpoint, which
#     a resume must refuse) and ends as the uninterrupted run did: the same samples (gpm sample --seed 1),
#     byte for byte, the same log (but for wall times) and snapshots, and no temporary file left over;
#   - a killed `gpm sample` leaves at its --out path nothing, the complete samples, or the file that
#     was there before, never a part of one; sampling again gives the uninterrupted samples.
# A kill in a training falls in a random step k, a random fraction of a step's duration after the
# step's log line (every step logs one, then writes its checkpoint), or, for k = 0, a random fraction
# into the program's start-up; a kill in sampling at a random fraction of its duration or, every
# other time, the moment its output file (or the temporary file) appears, so that a writer that fills
# the file in place is caught in the act. The numbers come from a fixed seed (FAULT_SEED, default 1)
# through a generator of the script's own, so the same moments are tried on every machine; each is
# printed. Usage: fault_injection_test.sh PATH_TO_GPM WORK_DIR
set -uo pipefail
source "$(dirname "$0")/harness.sh" "$1" "$2"

seed="${FAULT_SEED:-1}"
kills=20
steps=16
half=$((steps / 2))
samples=20000
models=(gan edm discr-flow)

# Tiny networks, an evaluation (with a snapshot) every 4 steps, a log line and a checkpoint every step.
common='"eval_every": 4, "eval_samples": 200, "log_every": 1, "batch_size": 64'
echo "{\"generator\": {\"width\": 16, \"depth\": 2}, \"discriminator\": {\"width\": 16, \"depth\": 2}, \"latent_dim\": 4,
  \"lr_decay\": 0, $common}" >gan.json
echo "{\"network\": {\"mlp\": {\"width\": 16, \"depth\": 2}, \"embedding_size\": 8}, $common}" >edm.json
echo "{\"discriminator\": {\"mlp.width\": 16, \"mlp.depth\": 2, \"embedding_size\": 8}, \"generation_steps\": 6,
  $common}" >discr-flow.json

# A 31-bit linear congruential generator (the constants of C's rand example): `draw` sets permille to
# the next number in [0, 1000).
rng=$seed
permille=0
draw() {
  rng=$(((rng * 1103515245 + 12345) % 2147483648))
  permille=$(((rng >> 8) % 1000))
}
percent() { echo "$(($1 / 10)).$(($1 % 10))%"; }
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# timed VAR ARGUMENTS...: runs gpm with the arguments and stores its wall time in ms in VAR.
timed() {
  local var=$1 start
  shift
  start=$(now_ms)
  G "$@" >/dev/null 2>timed_err.txt || { fail "'gpm $*' failed: $(cat timed_err.txt)"; return 1; }
  printf -v "$var" '%d' $(($(now_ms) - start))
}

# start ARGUMENTS...: starts gpm in the background (its own process: pid).
start() {
  (exec "$gpm" --threads 1 "$@" >/dev/null 2>killed_err.txt) &
  pid=$!
}

# stop_after MS: kills gpm MS milliseconds from now (SIGKILL); sets outcome to what happened.
stop_after() {
  (($1 == 0)) || sleep "$(seconds "$1")"
  if kill -9 "$pid" 2>/dev/null; then outcome="killed"; else outcome="had finished"; fi
  wait "$pid" 2>/dev/null
}

# kill_in_step LOG STEP MS ARGUMENTS...: starts gpm and kills it MS milliseconds after LOG gets the
# line of step STEP.
kill_in_step() {
  local log=$1 step=$2 ms=$3
  shift 3
  start "$@"
  while kill -0 "$pid" 2>/dev/null && ! grep -q "\"step\":$step[,}]" "$log" 2>/dev/null; do sleep 0.002; done
  stop_after "$ms"
}

# kill_training MODEL DIR FIRST ARGUMENTS...: kills a training into DIR that starts at step FIRST at a
# drawn moment: in step k (FIRST < k ≤ steps) or, for k = FIRST, in its start-up; sets what.
kill_training() {
  local model=$1 dir=$2 first=$3 step ms
  shift 3
  draw
  step=$((first + permille % (steps - first + 1)))
  draw
  if ((step == first)); then
    ms=$((permille * start_ms[$model] / 1000))
    what+=" at $ms ms, $(percent $permille) into its start-up)"
    start "$@"
    stop_after $ms
  else
    ms=$((permille * step_ms[$model] / 1000))
    what+=" $ms ms after step $step's log line, $(percent $permille) of a step)"
    kill_in_step "$dir/log.jsonl" $step $ms "$@"
  fi
}

manifest_digest() { sed -n 's/.*"sha256": *"\([0-9a-f]*\)".*/\1/p' "$1" 2>/dev/null; }
manifest_step() { sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$1" 2>/dev/null; }

# What a run's log says, but for wall times: the log of a resumed run must be the uninterrupted one's.
log_without_times() { sed -E 's/"(time|seconds)":[-+.0-9eE]+,?//g' "$1"; }

# check_checkpoint DIR: a checkpoint a kill left in DIR is the complete one its manifest (or the
# pending manifest) describes, and nothing else is accepted; sets state to a description.
check_checkpoint() {
  local dir=$1 digest writing=""
  [ -e "$dir/checkpoint.pt.tmp" ] && writing=", killed while writing the next one"
  if [ ! -e "$dir/checkpoint.pt" ]; then
    state="no checkpoint yet$writing"
    return
  fi
  digest=$(sha256sum "$dir/checkpoint.pt" | cut -d' ' -f1)
  if [ "$digest" = "$(manifest_digest "$dir/checkpoint.json")" ]; then
    state="checkpoint of step $(manifest_step "$dir/checkpoint.json") intact$writing"
  elif [ -e "$dir/checkpoint.json.tmp" ] && [ "$digest" = "$(manifest_digest "$dir/checkpoint.json.tmp")" ]; then
    state="checkpoint of step $(manifest_step "$dir/checkpoint.json.tmp") intact, its manifest still pending$writing"
  else
    state="DAMAGED checkpoint"
    fail "$what: the kill left a checkpoint.pt that matches no manifest"
    if G sample --run "$dir" -n 10 --out damaged.csv >/dev/null 2>&1; then
      fail "$what: gpm accepted a checkpoint that matches no manifest"
    fi
  fi
}

# finish_run DIR MODEL: resumes the run a kill stopped in DIR (or, stopped before its first
# checkpoint, checks that a resume refuses it and trains it again), then compares it with the
# uninterrupted run.
finish_run() {
  local dir=$1 model=$2
  if [ -e "$dir/checkpoint.pt" ] && [ "$state" != "DAMAGED checkpoint" ]; then
    G train --resume "$dir" --steps $steps --quiet >/dev/null 2>resume_err.txt ||
      { fail "$what: the resume failed: $(cat resume_err.txt)"; return; }
  else
    if [ -e "$dir/run.json" ] && [ "$state" != "DAMAGED checkpoint" ]; then
      expect 2 "has no checkpoint: its training stopped before it wrote the first one" G train --resume "$dir" --quiet
    fi
    rm -rf "$dir"
    G train --model "$model" --data ring --out "$dir" --steps $steps --config "$model.json" --checkpoint-every 1 \
      --quiet >/dev/null 2>train_err.txt || { fail "$what: training again failed: $(cat train_err.txt)"; return; }
  fi
  G sample --run "$dir" -n $samples --out "$dir.csv" --seed 1 >/dev/null 2>sample_err.txt ||
    { fail "$what: sampling the resumed run failed: $(cat sample_err.txt)"; return; }
  cmp -s "$dir.csv" "${model}_ref.csv" && pass || fail "$what: the resumed run samples otherwise than the uninterrupted one"
  cmp -s <(log_without_times "$dir/log.jsonl") <(log_without_times "${model}_ref/log.jsonl") && pass ||
    fail "$what: the resumed run's log.jsonl differs from the uninterrupted run's (wall times aside)"
  diff -rq "$dir/snapshots" "${model}_ref/snapshots" >/dev/null && pass ||
    fail "$what: the resumed run's snapshots differ from the uninterrupted run's"
  local leftover
  leftover=$(find "$dir" -name '*.tmp')
  [ -z "$leftover" ] && pass || fail "$what: temporary files were left in the finished run: $leftover"
}

# --- the uninterrupted runs, which every interrupted one must end as; their durations -----------------
declare -A start_ms step_ms sample_ms
for model in "${models[@]}"; do
  timed train_ms train --model $model --data ring --out ${model}_ref --steps $steps --config $model.json \
    --checkpoint-every 1 --quiet || exit 1
  timed start_ms[$model] train --resume ${model}_ref --steps $steps --quiet || exit 1  # start-up alone: nothing to train
  step_ms[$model]=$(((train_ms - start_ms[$model]) / steps))
  ((step_ms[$model] > 0)) || step_ms[$model]=1
  timed sample_ms[$model] sample --run ${model}_ref -n $samples --out ${model}_ref.csv --seed 1 || exit 1
  G sample --run ${model}_ref -n $samples --out ${model}_old.csv --seed 2 >/dev/null || exit 1
  G train --model $model --data ring --out ${model}_half --steps $half --config $model.json --checkpoint-every 1 \
    --quiet >/dev/null || { fail "$model: the run of $half steps failed"; exit 1; }
  echo "$model: start-up ${start_ms[$model]} ms, a step with its checkpoint about ${step_ms[$model]} ms," \
    "sampling ${sample_ms[$model]} ms"
done

# --- the kills -------------------------------------------------------------------------------------------
echo "kill moments from seed $seed:"
for ((i = 0; i < kills; i++)); do
  model=${models[$((i % 3))]}
  what="kill $((i + 1)) ($model"
  case $((i % 4)) in
    0 | 2)  # a training from its start
      dir=killed_$i
      what+=" training,"
      kill_training $model $dir 0 train --model $model --data ring --out $dir --steps $steps --config $model.json \
        --checkpoint-every 1 --quiet
      check_checkpoint $dir
      echo "$what: $outcome; $state"
      finish_run $dir $model
      ;;
    1)  # a resume from the middle
      dir=killed_$i
      cp -r ${model}_half $dir
      what+=" resume from step $half,"
      kill_training $model $dir $half train --resume $dir --steps $steps --quiet
      check_checkpoint $dir
      echo "$what: $outcome; $state"
      finish_run $dir $model
      ;;
    3)  # sampling: into a file that exists (it must stay whole) or, every other time, a new one
      out=sampled_$i.csv
      draw
      if ((i % 8 == 3)); then
        ms=$((permille * sample_ms[$model] / 1000))
        what+=" sample over an earlier file, at $ms ms, $(percent $permille) of its run)"
        cp ${model}_old.csv $out
        start sample --run ${model}_ref -n $samples --out $out --seed 1
        stop_after $ms
      else
        what+=" sample into a new file, as it appears)"
        start sample --run ${model}_ref -n $samples --out $out --seed 1
        while kill -0 "$pid" 2>/dev/null && [ ! -e $out ] && [ ! -e $out.tmp ]; do :; done
        stop_after 0
      fi
      if [ ! -e $out ]; then left="no file"
      elif cmp -s $out ${model}_ref.csv; then left="the complete samples"
      elif cmp -s $out ${model}_old.csv; then left="the earlier file, whole"
      else left="a PARTIAL file ($(wc -c <$out) bytes)"
      fi
      echo "$what: $outcome; left $left"
      [[ "$left" == *PARTIAL* ]] && fail "$what: a killed sample left $left at its --out path" || pass
      G sample --run ${model}_ref -n $samples --out $out --seed 1 >/dev/null 2>sample_err.txt && cmp -s $out ${model}_ref.csv &&
        pass || fail "$what: sampling again should give the uninterrupted samples: $(cat sample_err.txt)"
      ;;
  esac
done

finish
