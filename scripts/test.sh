#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh test: the main job's packages plus the test tools, every
# target) and runs every test: labels unit, torch, e2e, slurm (a real two-node Slurm cluster the
# tests start and stop; needs root). Extra arguments go to ctest (e.g. -L unit). KAKUREN_TORCH=debian|pypi picks the LibTorch (scripts/setup.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
[[ ${KAKUREN_TORCH:-debian} == pypi ]] && build=$root/build-pypi
"$root/scripts/setup.sh" test "$build"
cd "$build"
ctest --output-on-failure -j2 "$@"
