# The runner tests' shared harness, sourced by each script with its two arguments: the program under
# test and a work directory, emptied and entered. Provides G (the program on one thread), pass, fail,
# expect and finish.
gpm="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
failures=0
passes=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { passes=$((passes + 1)); }

# expect CODE "substring of stderr" command...: the command exits with CODE and prints the substring.
expect() {
  local code="$1" text="$2"
  shift 2
  "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" != "$code" ]; then fail "'$*' exited $got, expected $code; stderr: $(cat err.txt)"; return; fi
  if ! grep -qF -- "$text" err.txt out.txt; then fail "'$*' did not print '$text'; stderr: $(cat err.txt)"; return; fi
  pass
}

G() { "$gpm" --threads 1 "$@"; }

# train_twice MODEL DATA HALF SAMPLES EXT CONFIG [train arguments...]: run MODEL_a trains HALF steps
# and resumes to 2·HALF, run MODEL_b trains 2·HALF steps at once; each writes SAMPLES samples (seed 3)
# to MODEL_a.EXT and MODEL_b.EXT. Fails (status 1) if a command does.
train_twice() {
  local model="$1" data="$2" half="$3" samples="$4" ext="$5" config="$6"
  shift 6
  G train --model "$model" --data "$data" --out "${model}_a" --steps "$half" --config "$config" --quiet "$@" >/dev/null &&
    G train --resume "${model}_a" --steps $((2 * half)) --quiet >/dev/null &&
    G train --model "$model" --data "$data" --out "${model}_b" --steps $((2 * half)) --config "$config" --quiet "$@" >/dev/null &&
    G sample --run "${model}_a" -n "$samples" --out "${model}_a.$ext" --seed 3 >/dev/null &&
    G sample --run "${model}_b" -n "$samples" --out "${model}_b.$ext" --seed 3 >/dev/null ||
    { fail "$model: a training or sampling command failed on $data"; return 1; }
}

# The summary line, and the script's exit status.
finish() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}
