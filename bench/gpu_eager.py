#!/usr/bin/env python3
"""kakuren against PyTorch eager on the same GPU: training samples/s of the shipped recipe's CNN
(tests/trainer/torchscript/make_modules.Cnn, the same layers), Fashion-MNIST held in GPU-side
batches copied from pinned host memory, batch 128, SGD with momentum, fp32, hiding off. Epoch 1
warms up (cuDNN autotuning, allocator); epoch 2 is timed in both.

  bench/gpu_eager.py --kakuren build-pypi/kakuren [--data /usr/share/datasets/fashion-mnist]
                     [--epochs 2] [--out bench/out/gpu_eager.json]

Run by scripts/gpu-check.sh on a GPU machine. Prints a Markdown table and writes JSON.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/trainer/torchscript"))
from make_modules import Cnn  # noqa: E402  the shipped CNN, layer by layer


def idx(path, offset):
    data = gzip.open(path, "rb").read()
    return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8)


def eager_samples_per_s(data, epochs, batch):
    x = idx(Path(data) / "train-images-idx3-ubyte.gz", 16).view(-1, 1, 28, 28).float().div_(255)
    y = idx(Path(data) / "train-labels-idx1-ubyte.gz", 8).long()
    x = ((x - x.mean()) / x.std()).pin_memory()
    y = y.pin_memory()
    torch.manual_seed(1)
    model = Cnn().cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    torch.backends.cudnn.benchmark = True
    rate = 0.0
    for epoch in range(epochs):
        order = torch.randperm(x.shape[0])
        torch.cuda.synchronize()
        start = time.perf_counter()
        for k in range(0, x.shape[0], batch):
            ids = order[k:k + batch]
            xb = x[ids].pin_memory().cuda(non_blocking=True)
            yb = y[ids].pin_memory().cuda(non_blocking=True)
            loss = F.cross_entropy(model(xb), yb, reduction="none")
            stats = loss.detach().cpu()  # kakuren reads the per-sample losses every step too
            opt.zero_grad(set_to_none=True)
            loss.mean().backward()
            opt.step()
        torch.cuda.synchronize()
        rate = x.shape[0] / (time.perf_counter() - start)
        del stats
    return rate


def kakuren_samples_per_s(binary, data, epochs):
    with tempfile.TemporaryDirectory() as ws:
        cmd = [binary, "run", str(ROOT / "recipes/fashion_mnist_cnn.toml"), "--quiet", "--format", "json",
               "--workspace", ws, "--set", f"data.path={data}", "--set", "run.device=cuda",
               "--set", "hiding.strategy=none", "--set", f"schedule.epochs={epochs}",
               "--set", "schedule.milestones=[]"]
        run = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        shown = subprocess.run([binary, "show", run["run_id"], "--format", "json", "--workspace", ws],
                               capture_output=True, text=True, check=True).stdout
        return json.loads(shown)["epochs"][-1]["samples_per_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kakuren", required=True)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "bench/out/gpu_eager.json"))
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_eager: no GPU: nothing to compare")
        return
    eager = eager_samples_per_s(args.data, args.epochs, 128)
    ours = kakuren_samples_per_s(args.kakuren, args.data, args.epochs)
    gpu = torch.cuda.get_device_name(0)
    print(f"| {gpu} | samples/s (epoch {args.epochs}) | ratio |\n|---|---|---|")
    print(f"| PyTorch {torch.__version__} eager | {eager:,.0f} | 1.000 |")
    print(f"| kakuren run (run.device = cuda) | {ours:,.0f} | {ours / eager:.3f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"gpu": gpu, "torch": torch.__version__, "eager": eager,
                                          "kakuren": ours, "ratio": ours / eager}, indent=2))


if __name__ == "__main__":
    main()
