#!/usr/bin/env bash
# A model registered with one entry (toy_model.cpp) gets every runner command: train, sample,
# resume (bit-exact), eval and --help. Usage: toy_model_test.sh PATH_TO_TOY_RUNNER WORK_DIR
set -uo pipefail
source "$(dirname "$0")/harness.sh" "$1" "$2"

G models | grep -q "toy-mmd" && pass || fail "gpm models should list the registered model"
G train --model toy-mmd --help | grep -q "the generator's Adam learning rate" && pass || fail "--help should list its fields"
G train --model toy-mmd --data ring --out a --steps 20 --quiet >/dev/null && G train --resume a --steps 40 --quiet >/dev/null &&
  G train --model toy-mmd --data ring --out b --steps 40 --quiet >/dev/null &&
  G sample --run a -n 300 --out a.csv --seed 3 >/dev/null && G sample --run b -n 300 --out b.csv --seed 3 >/dev/null &&
  cmp -s a.csv b.csv && pass || fail "20 steps + resume to 40 should equal 40 steps"
G data --data ring -n 300 --seed 5 --out ref.csv --centers centers.csv >/dev/null &&
  G eval --samples a.csv --reference ref.csv --centers centers.csv --std 0.5 | grep -q energy_distance && pass ||
  fail "eval of the toy model's samples"
echo '{"lr": -1}' >bad.json
G train --model toy-mmd --data ring --out c --config bad.json 2>err.txt
[ $? = 2 ] && grep -q "field 'lr' must be > 0, got -1" err.txt && pass || fail "a bad field of the toy model: $(cat err.txt)"

finish
