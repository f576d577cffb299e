#!/usr/bin/env bash
# Sets up (packages + build) and trains the shipped recipe locally: no Slurm needed.
# Extra arguments go to `kakuren run`, e.g. --set hiding.strategy=none
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
exec "$root/build/kakuren" run "$root/recipes/fashion_mnist_cnn.toml" "$@"
