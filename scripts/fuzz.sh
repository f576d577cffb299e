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
fuzzers=(recipe loop_state mllog report_json npy_header image_decode hdf5_open list_file)

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

# Leaks inside libhdf5 itself on malformed files are not kakuren's to fix (tests/fuzz/lsan.supp).
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# The innermost frame of a crash input's stack that is not libc (a memcpy, symbolized or not),
# the sanitizers' interceptors (clang 16 names some as the function they wrap: "in free
# (.../kakuren_fuzz_x+0x..)", when libhdf5 frees a bad pointer) or libFuzzer.
innermost_frame() {
  (cd "$root" && ASAN_OPTIONS="allocator_may_return_null=1:fast_unwind_on_malloc=0" \
    ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer-16 llvm-symbolizer | head -1 || true) \
    timeout 120 "$build/tests/fuzz/kakuren_fuzz_$1" -timeout="${3:-10}" "$2" 2>&1) |
    grep -E '^ +#[0-9]+ ' |
    grep -vE 'libc\.so|libc_|sysdeps/|__interceptor_|__sanitizer|__asan|__ubsan|fuzzer::|raise|abort|__chk_fail|__fortify_fail|__libc_message|pthread_kill' |
    grep -vE " in (free|malloc|calloc|realloc|posix_memalign|aligned_alloc|memalign|mem[a-z]+|str[a-z]+) \(.*kakuren_fuzz_$1\+0x" |
    head -1 || true # the crash's own non-zero status, under pipefail, is not the answer
}

# Whose a crash is, from its input's innermost frame (innermost_frame's line): "library" when that frame is in a shared
# library (libhdf5, or what libhdf5 calls: zlib, libaec for szip, ...; "(/lib/.../libz.so.1+0x..)"),
# "kakuren" when it is in the fuzz binary (kakuren's code and what it inlines, linked
# statically), "none" when the input no longer crashes (a timeout of a busy machine: it is rerun
# with half the time limit, so a real hang still shows).
crash_owner() {
  local frame=$1
  if [ -z "$frame" ]; then
    echo none
  elif grep -qE '\.so(\.[0-9]+)*\+0x' <<<"$frame"; then
    echo library
  else
    echo kakuren
  fi
}

# The classifier itself must see libhdf5 in the crashes found in it before (a memcpy inside
# libhdf5 once counted as kakuren's: a symbolized libc frame has no "libc.so" in it).
for known in "$root"/tests/fuzz/libhdf5_known/*_segv.h5; do
  if ! innermost_frame hdf5_open "$known" | grep -q libhdf5; then
    echo "fuzz: $known no longer crashes inside libhdf5 (a newer libhdf5, or a broken classifier):" \
      "$(innermost_frame hdf5_open "$known")" >&2
    exit 1
  fi
done

printf '%-12s %12s %s\n' fuzzer executions result
status=0
for f in "${fuzzers[@]}"; do
  log=$build/fuzz-$f.log
  seeds=$root/tests/fuzz/seeds/$f
  options=(-max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10
           -print_final_stats=1 -artifact_prefix="$build/crashes/$f-")
  asan=${ASAN_OPTIONS:-}
  if [ "$f" = hdf5_open ]; then
    # libhdf5 1.10 mallocs sizes read from the file (a local heap of 8 EiB) and reports a NULL
    # as an error: ASan's malloc returns NULL as glibc's does, instead of aborting. And its
    # parser itself aborts or loops on some malformed files (glibc's fortify check in
    # H5S_select_deserialize, a loop in H5Dopen2, both decoding a virtual dataset's layout;
    # found by this target): fuzz on past crashes, then fail only for one whose innermost frame
    # is not in libhdf5.
    asan="allocator_may_return_null=1${asan:+:$asan}"
    options+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  fi
  before=$(ls "$build/crashes")
  # Run in the source folder: recipe paths (data.path) resolve as in the tests.
  if (cd "$root" && ASAN_OPTIONS="$asan" "$build/tests/fuzz/kakuren_fuzz_$f" "${options[@]}" \
        "$corpus/$f" "$seeds") >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log and $build/crashes/)"
  fi
  if [ "$f" != hdf5_open ]; then
    [ "$result" = ok ] || status=1
  else
    ours=0 theirs=0 gone=0 ours_frames=""
    for crash in $(ls "$build/crashes" | grep "^$f-"); do
      grep -qxF "$crash" <<<"$before" && continue # an earlier run's
      case $crash in
      "$f"-slow-unit-*) continue ;; # finished, only slowly: not a crash
      "$f"-timeout-*) limit=5 ;;
      *) limit=10 ;;
      esac
      frame=$(innermost_frame "$f" "$build/crashes/$crash" "$limit")
      case $(crash_owner "$frame") in
      library) theirs=$((theirs + 1)) ;;
      none) gone=$((gone + 1)) ;;
      *)
        ours=$((ours + 1))
        ours_frames+=" $crash: ${frame#"${frame%%[! ]*}"};"
        ;;
      esac
    done
    if [ "$ours" -gt 0 ]; then
      result="FAILED ($ours crashes in kakuren: see $log and $build/crashes/;$ours_frames)"
    elif [ "$theirs" -gt 0 ] || [ "$gone" -gt 0 ]; then
      result="ok ($theirs crashes inside libhdf5 or the libraries it calls, $gone that do not crash again when rerun, in $build/crashes/)"
    fi
    [ "${result%% *}" = ok ] || status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' "$log" | tail -1) # -fork's lines
  printf '%-12s %12s %s\n' "$f" "${runs:-?}" "$result"
done
exit $status
