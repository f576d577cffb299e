#!/usr/bin/env python3
"""PyTorch DistributedDataParallel reference for bench/ddp_compare.py: the same model, global
batch, ranks and threads per rank as kakuren's multi-rank run, on Gloo over 127.0.0.1.

  ddp_reference.py --model cnn|resnet18 --batch 128 --steps 60 --warmup 10 [--ranks 2]
                   [--threads 1] [--bucket-mb 25] [--channels 1 --size 28 --classes 10]
                   [--width 64] --out result.json
  ddp_reference.py --model allreduce --out result.json   (Gloo all-reduce time by size)

Each rank trains SGD (momentum 0.9, weight decay 5e-4) with per-sample cross-entropy (kept per
sample, as kakuren keeps them for hiding) on random data held in memory, so the data path costs
DDP nothing. Per step: forward, backward (DDP all-reduces its buckets during it), optimizer step.
Rank 0 writes the median step time after the warm-up steps, and the mean of the time spent in
backward (which includes DDP's exposed communication) and in the optimizer step.
Run with the PyTorch of the LibTorch kakuren is compared at (bench/ddp_compare.py --python):
Debian's python3-torch 1.13, or the pypi flavour's .venv/bin/python (2.x).

Fairness (audited): the same threads per rank (torch.set_num_threads, and GOMP_SPINCOUNT=1000 as
kakuren sets it: two ranks share the cores), the same warm-up policy (steps dropped), data
already in memory (kakuren's step time includes its loader: that favours DDP), the same bucket
size, and gradient_as_bucket_view=True: kakuren's gradients are views of its flat all-reduce
buffer, and DDP's own option for that saves it the copies into and out of its buckets; image
batches and weights channels-last, as kakuren's default run.memory_format.
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

# kakuren's model.kind = cnn (conv16-conv32-fc64-fc), the class the TorchScript tests export.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "trainer",
                                "torchscript"))
from make_modules import Cnn  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet18(nn.Module):
    """kakuren's model.kind = resnet18 (CIFAR-style, model.width)."""

    def __init__(self, channels, classes, width):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage, cout in enumerate([width, 2 * width, 4 * width, 8 * width]):
            layers.append(nn.Sequential(Block(cin, cout, 1 if stage == 0 else 2), Block(cout, cout, 1)))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def worker(rank, args, port):
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=args.ranks)
    torch.manual_seed(1)
    if args.model == "allreduce":
        allreduce_sweep(rank, args)
        dist.destroy_process_group()
        return
    if args.model == "cnn":
        model = Cnn(args.channels, args.classes, args.size)
    else:
        model = ResNet18(args.channels, args.classes, args.width)
    fmt = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
    model.to(memory_format=fmt)  # before DDP lays out its buckets
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb,
                                              gradient_as_bucket_view=True)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    local = args.batch // args.ranks
    g = torch.Generator().manual_seed(100 + rank)
    batches = [(torch.randn(local, args.channels, args.size, args.size, generator=g).contiguous(memory_format=fmt),
                torch.randint(0, args.classes, (local,), generator=g)) for _ in range(8)]
    steps, backward_s, step_s = [], [], []
    for s in range(args.warmup + args.steps):
        x, y = batches[s % len(batches)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        losses = F.cross_entropy(ddp(x), y, reduction="none")
        kept = losses.detach().clone()  # per-sample losses, as kakuren keeps them
        t1 = time.perf_counter()
        losses.mean().backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        del kept
        if s >= args.warmup:
            steps.append(t3 - t0)
            backward_s.append(t2 - t1)
            step_s.append(t3 - t2)
    dist.barrier()
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "params": params, "ranks": args.ranks, "batch": args.batch,
                       "threads": args.threads, "bucket_mb": args.bucket_mb,
                       "step_s_median": statistics.median(steps), "steps": steps,
                       "backward_s_mean": statistics.mean(backward_s),
                       "optimizer_s_mean": statistics.mean(step_s)}, f)
    dist.destroy_process_group()


def allreduce_sweep(rank, args):
    """Median time of one float32 all-reduce per size (the per-bucket cost the scaling table
    starts from)."""
    out = []
    for floats in [256, 4096, 65536, 262144, 1048576, 4194304, 6553600]:
        t = torch.ones(floats)
        times = []
        for i in range(13):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            if i >= 3:
                times.append(time.perf_counter() - t0)
        out.append({"bytes": 4 * floats, "s_median": statistics.median(times)})
    if rank == 0:
        with open(args.out, "w") as f:
            json.dump({"ranks": args.ranks, "allreduce": out}, f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["cnn", "resnet18", "allreduce"], required=True)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bucket-mb", type=float, default=25)
    p.add_argument("--memory-format", choices=["channels_last", "contiguous"], default="channels_last",
                   help="of the batches and weights: kakuren's run.memory_format = auto is channels_last")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # as kakuren sets it; read when the workers start
    with socket.socket() as s:  # a free port for this run's rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(args, port), nprocs=args.ranks, join=True)


if __name__ == "__main__":
    main()
