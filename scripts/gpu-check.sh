#!/usr/bin/env bash
# The first GPU run, one command. Builds kakuren against the PyTorch installed on this machine
# (python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') and runs the GPU checks:
#   - ctest -L gpu: the CUDA cases of tests/trainer/device_test.cpp (train on cuda as on the CPU,
#     kill and resume on cuda bit-identical with deterministic algorithms, bf16 and fp16);
#   - the shipped recipe for 2 epochs on cuda (accuracy printed beside the CPU's of docs/benchmarks.md);
#   - a TorchScript module exported by this PyTorch, trained on cuda with hiding;
#   - a 2-rank NCCL run where the machine has 2 GPUs;
#   - samples/s of kakuren against the same CNN in PyTorch eager on the same GPU
#     (bench/gpu_eager.py).
# Without a GPU it says so, skips, and exits 0.
#
# A GPU machine without Debian's development packages (SQLite, HDF5, libslurm ...) cannot build
# kakuren itself: build the bundle on a development machine with the same torch version
# (KAKUREN_TORCH=pypi; scripts/torch-version) and bring it:
#   scripts/gpu-check.sh --bundle gpu-bundle     # on the development machine: writes gpu-bundle/
#   scripts/gpu-check.sh                         # on the GPU machine: finds gpu-bundle/ and uses it
# Usage: scripts/gpu-check.sh [--bundle DIR] ; KAKUREN_GPU_PYTHON picks the Python (python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${KAKUREN_GPU_PYTHON:-python3}

if [[ ${1:-} == --bundle ]]; then
  out=${2:?usage: scripts/gpu-check.sh --bundle DIR}
  build=$root/build-pypi
  [[ -x $build/tests/trainer/kakuren_device_test ]] ||
    { echo "gpu-check: no $build: run KAKUREN_TORCH=pypi scripts/setup.sh first" >&2; exit 2; }
  rm -rf "$out" && mkdir -p "$out/lib" "$out/data"
  cp "$build/kakuren" "$build/libkakuren_train.so" "$build/tests/trainer/kakuren_device_test" "$out/"
  # The libraries they need that a bare machine lacks: everything but glibc, the C++ runtime and
  # LibTorch / CUDA (those come from the GPU machine's own PyTorch).
  for f in "$out/kakuren" "$out/libkakuren_train.so" "$out/kakuren_device_test"; do
    ldd "$f" | awk '/=> \//{print $3}'
  done | sort -u | grep -v -E '/(libc|libm|libdl|librt|libpthread|libresolv|libutil|libnsl|libanl|ld-linux|libstdc\+\+|libgcc_s)[.-]' |
    grep -v -E '/site-packages/|/cuda' | while read -r lib; do cp -L "$lib" "$out/lib/"; done
  cp /usr/share/datasets/fashion-mnist/*.gz "$out/data/"
  echo "gpu-check: wrote $out ($(du -sh "$out" | cut -f1)); bring it with the working tree"
  exit 0
fi

if ! "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "gpu-check: no GPU visible to $py's PyTorch (or no PyTorch): skipping the GPU checks"
  exit 0
fi
torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
echo "gpu-check: $("$py" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "on", torch.cuda.get_device_name(0), "x", torch.cuda.device_count())')"

bundle=${KAKUREN_GPU_BUNDLE:-$root/gpu-bundle}
if [[ -x $bundle/kakuren_device_test ]]; then
  bin=$bundle
  export LD_LIBRARY_PATH=$bundle/lib:$torch_lib:${LD_LIBRARY_PATH:-}
  data=$bundle/data
else
  bin=$root/build-gpu
  prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S "$root" -B "$bin" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DKAKUREN_TORCH_PYTHON="$(command -v "$py")" >/dev/null
  cmake --build "$bin" -j "$(nproc)" --target kakuren kakuren_train_module kakuren_device_test
  cp "$bin/tests/trainer/kakuren_device_test" "$bin/" 2>/dev/null || true
  data=/usr/share/datasets/fashion-mnist
fi
export KAKUREN_TRAIN_MODULE=$bin/libkakuren_train.so
out=${OUT:-$root/build-gpu-out}
mkdir -p "$out"
ws=$(mktemp -d)
status=0

echo "== gpu tests (device_test: Gpu.*)"
"$bin/kakuren_device_test" --gtest_filter='Gpu.*' --gtest_output="xml:$out/gpu_tests.xml" || status=1

echo "== the shipped recipe, 2 epochs on cuda"
recipe=$ws/fashion.toml
cp "$root/recipes/fashion_mnist_cnn.toml" "$recipe"
"$bin/kakuren" run "$recipe" --workspace "$ws" --set "data.path=$data" --set run.device=cuda --set schedule.epochs=2 \
  --set schedule.milestones=[1] --format json > "$out/shipped_cuda.json" || status=1
cat "$out/shipped_cuda.json"

echo "== a TorchScript module of this PyTorch on cuda, with hiding"
"$py" "$root/tests/trainer/torchscript/make_modules.py" "$ws/modules" >/dev/null
"$bin/kakuren" run "$recipe" --workspace "$ws" --set "data.path=$data" --set run.device=cuda --set schedule.epochs=2 \
  --set schedule.milestones=[1] --set model.kind=torchscript --set "model.path=$ws/modules/cnn.pt" \
  --set run.name=torchscript_cuda --format json > "$out/torchscript_cuda.json" || status=1

gpus=$("$py" -c 'import torch; print(torch.cuda.device_count())')
if ((gpus >= 2)); then
  echo "== 2 ranks with NCCL"
  "$bin/kakuren" submit "$recipe" --workspace "$ws" --backend local --set "data.path=$data" \
    --set slurm.ntasks_per_node=2 \
    --set run.device=cuda --set schedule.epochs=1 --set schedule.milestones=[] \
    --set run.name=nccl || status=1
  id=$("$bin/kakuren" runs --workspace "$ws" --format json |
    "$py" -c 'import json, sys; print([r["id"] for r in json.load(sys.stdin) if r["name"] == "nccl"][0])')
  "$bin/kakuren" logs "$id" --workspace "$ws" --follow || status=1
  "$bin/kakuren" show "$id" --workspace "$ws" --format json > "$out/nccl.json" || status=1
else
  echo "== 2 ranks with NCCL: skipped, this machine has $gpus GPU"
fi

echo "== samples/s: kakuren against PyTorch eager, same CNN, same GPU"
"$py" "$root/bench/gpu_eager.py" --kakuren "$bin/kakuren" --data "$data" --out "$out/gpu_eager.json" ||
  status=1
rm -rf "$ws"
exit $status
