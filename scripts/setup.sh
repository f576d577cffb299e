#!/usr/bin/env bash
# Installs the Debian packages kakuren needs (only the missing ones) and builds it (Release, -j2).
# Idempotent: a second call only rebuilds what changed. Usage: scripts/setup.sh [build-dir]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}

packages=(
  build-essential cmake pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU) with c10d + Gloo
  libgloo-dev             # the Gloo headers c10d's ProcessGroupGloo needs (multi-rank training)
  libslurm-dev            # libslurm: kakuren submit talks to Slurm through it
  slurmctld slurmd slurm-client munge iproute2  # the tests' real local Slurm cluster
  libopenblas0-openmp     # a real BLAS for LibTorch (the reference BLAS is 2.4x slower)
  libsqlite3-dev sqlite3  # the run database
  libcli11-dev libspdlog-dev libtomlplusplus-dev zlib1g-dev
  libhdf5-dev             # data.dataset = "hdf5" and kakuren data synth deepcam (serial libhdf5)
  libjpeg62-turbo-dev libpng-dev  # data.dataset = "images": decode JPEG / PNG (libjpeg-turbo, libpng)
  python3-numpy python3-h5py  # the data tests write their npy / hdf5 files with them
  python3-pil             # the images tests write their JPEG / PNG files with Pillow
  libgtest-dev            # tests
  dataset-fashion-mnist   # the shipped recipe's data
  python3                 # benchmark drivers and the layering check
  python3-torch           # PyTorch 1.13 (= LibTorch's): the tests export TorchScript modules with it
  clang-format-14 clang-tidy-14  # scripts/lint.sh (CI runs it)
  clang-16 libclang-rt-16-dev  # scripts/fuzz.sh: libFuzzer with ASan/UBSan (clang 14 lacks
                               # the std::source_location builtin that libstdc++ 12 needs)
  chromium fonts-dejavu-core  # report tests render the HTML report in headless Chromium
)
missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2
echo "setup: built $build/kakuren"
