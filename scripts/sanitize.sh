#!/usr/bin/env bash
# CI's sanitizer stage, run after scripts/test.sh. Builds and runs, each in a build directory of its own:
#  - build-asan: gpm_sanitized_tests, the tests of parsing, I/O, checkpoints, options and the core
#    under gcc's AddressSanitizer and UBSan (tests/sanitizers), without the [statistical] ones;
#  - build-fuzz: one libFuzzer target per parser of outside input (tests/fuzz), each for
#    GPM_FUZZ_SECONDS (default 30), two at a time, from its corpus in tests/fuzz/corpus.
# Exits non-zero on a failed test, a sanitizer report or a fuzzing finding; a finding's input is
# kept in build-fuzz/findings/ (replay it with build-fuzz/tests/fuzz/NAME_fuzzer FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --fuzz
source scripts/env.sh
fuzz_seconds="${GPM_FUZZ_SECONDS:-30}"

GPM_BUILD_DIR=build-fuzz configure -DCMAKE_CXX_COMPILER=clang++ -DGPM_BUILD_FUZZERS=ON -DGPM_BUILD_TESTS=OFF \
  -DGPM_BUILD_EXAMPLES=OFF
GPM_BUILD_DIR=build-asan configure -DGPM_SANITIZE=ON -DGPM_BUILD_TESTS=OFF -DGPM_BUILD_EXAMPLES=OFF
cmake --build build-fuzz -j "$(nproc)"
cmake --build build-asan -j "$(nproc)"

# Every sanitizer report ends the run. LibTorch's own leaks are suppressed one by one
# (tests/sanitizers/lsan.supp), and [runtime] is left out: it checks glibc's allocator, which ASan
# replaces.
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
echo "sanitize: gpm_sanitized_tests"
build-asan/tests/sanitizers/gpm_sanitized_tests "~[statistical]~[runtime]"

# One fuzz target; its output goes to build-fuzz/logs/NAME.log and its exit status to NAME.status.
# New inputs go to build-fuzz/corpus/NAME, so the corpus checked in stays as it is.
fuzz() {
  local name="$1" dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=("-dict=tests/fuzz/$name.dict")
  mkdir -p "build-fuzz/corpus/$name"
  local status=0
  "build-fuzz/tests/fuzz/${name}_fuzzer" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$name-" "${dict[@]}" \
    "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"build-fuzz/logs/$name.log" 2>&1 || status=$?
  echo "$status" >"build-fuzz/logs/$name.status"
}
fuzzers=(csv spec config manifest)
rm -rf build-fuzz/logs build-fuzz/findings
mkdir -p build-fuzz/logs build-fuzz/findings
echo "sanitize: fuzzing ${fuzzers[*]}, ${fuzz_seconds} s each, two at a time"
running=0
for name in "${fuzzers[@]}"; do
  fuzz "$name" &
  if ((++running >= 2)); then
    wait -n
    ((running--))
  fi
done
wait

failed=0
for name in "${fuzzers[@]}"; do
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/logs/$name.log" | grep -o '[0-9]*$' || true)"
  if [ "$(cat "build-fuzz/logs/$name.status")" != 0 ]; then
    echo "sanitize: ${name}_fuzzer found a problem (input in build-fuzz/findings/):" >&2
    tail -n 60 "build-fuzz/logs/$name.log" >&2
    failed=1
  else
    echo "sanitize: ${name}_fuzzer: ${runs:-?} inputs, no finding"
  fi
done
exit "$failed"
