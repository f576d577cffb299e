#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in their own build folder and runs each for
# a bounded time on a seed corpus from the tests. A crash, leak or sanitizer report fails the
# script; the input that caused it is left in <build>/crashes/ (make it a regression test).
# Prints each fuzzer's number of executions.
# Usage: scripts/fuzz.sh [seconds per fuzzer, default 60] [build dir, default build-fuzz]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${2:-$root/build-fuzz}
fuzzers=(recipe loop_state mllog report_json npy_header)

# clang 15 or newer: libstdc++ 12's std::source_location needs its builtin.
cxx=${KAKUREN_FUZZ_CXX:-clang++-16}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx is missing (scripts/setup.sh installs it)" >&2; exit 1; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$cxx" \
  -DKAKUREN_FUZZ=ON \
  "-DCMAKE_CXX_FLAGS=-O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link" \
  >/dev/null
targets=(kakuren_fuzz_seeds)
for f in "${fuzzers[@]}"; do targets+=("kakuren_fuzz_$f"); done
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

# Seed corpora: the tests' recipes and error cases, loop.bin files and an MLPerf log as kakuren
# writes them, and the checked-in seeds (tests/fuzz/seeds/<fuzzer>/).
corpus=$build/corpus
mkdir -p "$build/crashes"
for f in "${fuzzers[@]}"; do mkdir -p "$corpus/$f"; done
cp "$root"/recipes/*.toml "$root"/tests/recipes/errors/*.toml "$corpus/recipe/"
"$build/tests/fuzz/kakuren_fuzz_seeds" "$corpus/loop_state" "$corpus/mllog"
cp "$corpus/mllog/mllog.txt" "$corpus/report_json/" 2>/dev/null || true

printf '%-12s %12s %s\n' fuzzer executions result
status=0
for f in "${fuzzers[@]}"; do
  log=$build/fuzz-$f.log
  seeds=$root/tests/fuzz/seeds/$f
  # Run in the source folder: recipe paths (data.path) resolve as in the tests.
  if (cd "$root" && "$build/tests/fuzz/kakuren_fuzz_$f" -max_total_time="$seconds" \
        -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$f-" "$corpus/$f" "$seeds") >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log and $build/crashes/)"
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  printf '%-12s %12s %s\n' "$f" "${runs:-?}" "$result"
done
exit $status
