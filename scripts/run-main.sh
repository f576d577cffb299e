#!/usr/bin/env bash
# Sets up what the main job needs (scripts/setup.sh main: its packages, the kakuren binary and
# its training module, no test tools or targets) and trains the shipped recipe locally: no
# Slurm needed.
# Extra arguments go to `kakuren run`, e.g. --set hiding.strategy=none
# KAKUREN_TORCH=debian|pypi picks the LibTorch (scripts/setup.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
[[ ${KAKUREN_TORCH:-debian} == pypi ]] && build=$root/build-pypi
"$root/scripts/setup.sh" main "$build"
exec "$build/kakuren" run "$root/recipes/fashion_mnist_cnn.toml" "$@"
