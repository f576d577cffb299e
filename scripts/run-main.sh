#!/usr/bin/env bash
# Sets up (packages + build) and trains the shipped recipe locally: no Slurm needed.
# Extra arguments go to `kakuren run`, e.g. --set hiding.strategy=none
# KAKUREN_TORCH=debian|pypi picks the LibTorch (scripts/setup.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
[[ ${KAKUREN_TORCH:-debian} == pypi ]] && build=$root/build-pypi
"$root/scripts/setup.sh" "$build"
exec "$build/kakuren" run "$root/recipes/fashion_mnist_cnn.toml" "$@"
