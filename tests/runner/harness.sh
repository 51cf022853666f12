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

# The summary line, and the script's exit status.
finish() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}
