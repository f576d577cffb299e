#!/usr/bin/env bash
# Sets up (packages + build) and runs every test: labels unit, torch, e2e, slurm (a real
# two-node Slurm cluster the tests start and stop; needs root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root/build"
ctest --output-on-failure -j2 "$@"
