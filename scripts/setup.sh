#!/usr/bin/env bash
# Installs what kakuren needs (only the missing Debian packages) and builds it (Release, -j2).
# Idempotent: a second call only rebuilds what changed.
#
# Usage: scripts/setup.sh [main|test] [build-dir]
#   main   what the main job needs (scripts/run-main.sh): the packages to build and run the
#          kakuren binary and its training module, and only those two targets.
#   test   (the default) also what the tests, benchmarks, lint and fuzzing need (the real Slurm
#          daemons, GoogleTest, Python's numpy / h5py / Pillow / torch, clang, Chromium) and
#          every target (scripts/test.sh).
#        scripts/setup.sh --list main|test
#          prints the mode's Debian packages and build targets, installs and builds nothing.
#
# test also installs what only the tests need from PyPI into the test virtual environment
# .venv-test/ (mlflow-skinny: the export tests read kakuren's MLflow export back with MLflow's own
# client). The main job never needs it.
#
# KAKUREN_TORCH picks the LibTorch (docs/devices.md):
#   debian (default)  Debian's LibTorch 1.13, CPU only (libtorch-dev); builds into build/
#   pypi              PyPI's torch (the version in scripts/torch-version; CUDA-enabled, with NCCL)
#                     in the project's own virtual environment .venv/; builds into build-pypi/.
#                     Needs the CUDA toolkit (nvcc) for LibTorch's CMake files, not a GPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavour=${KAKUREN_TORCH:-debian}
list_only=0
if [[ ${1:-} == --list ]]; then
  list_only=1
  shift
fi
mode=test
if [[ ${1:-} == main || ${1:-} == test ]]; then
  mode=$1
  shift
elif ((list_only)); then
  echo "setup: --list needs a mode: main or test" >&2; exit 2
fi
case "$flavour" in
  debian) build=${1:-$root/build} ;;
  pypi) build=${1:-$root/build-pypi} ;;
  *) echo "setup: KAKUREN_TORCH=$flavour: expected debian or pypi" >&2; exit 2 ;;
esac

# The main job: build and run kakuren and its training module.
packages=(
  build-essential cmake pkg-config
  libgloo-dev             # the Gloo headers c10d's ProcessGroupGloo needs (multi-rank training)
  libslurm-dev            # libslurm: kakuren submit talks to Slurm through it
  libopenblas0-openmp     # a real BLAS for LibTorch (the reference BLAS is 2.4x slower)
  libsqlite3-dev          # the run database
  libcli11-dev libspdlog-dev libtomlplusplus-dev zlib1g-dev
  libhdf5-dev             # data.dataset = "hdf5" and kakuren data synth deepcam (serial libhdf5)
  libjpeg62-turbo-dev libpng-dev  # data.dataset = "images": decode JPEG / PNG (libjpeg-turbo, libpng)
  dataset-fashion-mnist   # the shipped recipe's data
)
if [[ $mode == test ]]; then
  packages+=(python3-venv)   # the test virtual environment .venv-test (PyPI test packages)
fi
if [[ $flavour == debian ]]; then
  packages+=(libtorch-dev)   # LibTorch 1.13 (CPU) with c10d + Gloo
else
  packages+=(python3-venv)   # the project's .venv for PyPI's torch
fi
# The tests, benchmarks, lint and fuzzing on top.
if [[ $mode == test ]]; then
  packages+=(
    slurmctld slurmd slurm-client munge iproute2  # the tests' real local Slurm cluster
    sqlite3                 # the sqlite3 shell (tests and docs read the database with it)
    python3-numpy python3-h5py  # the data tests write their npy / hdf5 files with them
    python3-pil             # the images tests write their JPEG / PNG files with Pillow
    libgtest-dev            # tests
    python3                 # benchmark drivers and the layering check
    clang-format-14 clang-tidy-14  # scripts/lint.sh (CI runs it)
    clang-16 libclang-rt-16-dev  # scripts/fuzz.sh: libFuzzer with ASan/UBSan (clang 14 lacks
                                 # the std::source_location builtin that libstdc++ 12 needs)
    chromium fonts-dejavu-core  # report tests render the HTML report in headless Chromium
  )
  if [[ $flavour == debian ]]; then
    packages+=(python3-torch)  # PyTorch 1.13 (= LibTorch's): the tests export TorchScript modules
  fi
fi
# The targets: the main job's two, or every target (an empty list).
targets=()
[[ $mode == main ]] && targets=(kakuren kakuren_train_module)
if ((list_only)); then
  printf 'package %s\n' "${packages[@]}"
  if ((${#targets[@]})); then printf 'target %s\n' "${targets[@]}"; else echo "target all"; fi
  exit 0
fi
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

if [[ $mode == test ]]; then
  # Test-only PyPI packages, in their own virtual environment (never the system Python, never
  # the main job's): tests/CMakeLists.txt finds it as KAKUREN_TEST_VENV_PYTHON.
  test_venv=$root/.venv-test
  mlflow_version=3.18.0
  [[ -x $test_venv/bin/python ]] || /usr/bin/python3 -m venv "$test_venv"
  if [[ $("$test_venv/bin/python" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null) != "$mlflow_version" ]]; then
    echo "setup: installing mlflow-skinny==$mlflow_version into $test_venv (for the tests)"
    "$test_venv/bin/pip" install -q --disable-pip-version-check "mlflow-skinny==$mlflow_version"
  fi
fi

cmake_args=(-DCMAKE_BUILD_TYPE=Release)
# KAKUREN_WERROR=ON (CI, development) makes warnings errors; unset keeps what the build has.
[[ -n ${KAKUREN_WERROR:-} ]] && cmake_args+=(-DKAKUREN_WERROR="$KAKUREN_WERROR")
if [[ $flavour == pypi ]]; then
  # PyPI's torch in the project's own virtual environment, never the system Python.
  venv=$root/.venv
  torch_version=$(tr -d '[:space:]' < "$root/scripts/torch-version")
  [[ -x $venv/bin/python ]] || /usr/bin/python3 -m venv "$venv"
  if [[ $("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null) != "$torch_version" ]]; then
    echo "setup: installing torch==$torch_version into $venv (about 4.5 GB with its CUDA libraries)"
    "$venv/bin/pip" install -q --disable-pip-version-check "torch==$torch_version"
  fi
  prefix=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake_args+=(-DCMAKE_PREFIX_PATH="$prefix" -DKAKUREN_TORCH_PYTHON="$venv/bin/python")
fi
# main configures a new build folder without the tests (no GoogleTest needed); a folder that
# has them already keeps them. test always has them.
if [[ $mode == test ]]; then
  cmake_args+=(-DKAKUREN_TESTS=ON)
elif [[ ! -f $build/CMakeCache.txt ]]; then
  cmake_args+=(-DKAKUREN_TESTS=OFF)
fi
cmake -S "$root" -B "$build" "${cmake_args[@]}" >/dev/null
if ((${#targets[@]})); then
  cmake --build "$build" -j2 --target "${targets[@]}"
else
  cmake --build "$build" -j2
fi
echo "setup ($mode): built $build/kakuren (LibTorch: $flavour)"
