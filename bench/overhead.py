#!/usr/bin/env python3
"""Benchmark 2, "no overhead": training time per epoch of `kakuren run` with hiding.strategy=none
against a bare LibTorch loop of the same model and batch (build/kakuren_bench_bare_loop), in
interleaved rounds. Compares the train phase only (the bare loop does no evaluation).

  bench/overhead.py [--rounds 2] [--epochs 3] [--threads 2]

Prints a Markdown table and writes bench/out/overhead.json. Goal: ratio <= 1.05.
"""
import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from common import ROOT, kakuren_bin, machine, run_kakuren, show, table, write_json


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--out", default=str(ROOT / "bench/out/overhead.json"))
    args = p.parse_args()
    binary = kakuren_bin(args.build)
    bare = Path(args.build) / "bench" / "kakuren_bench_bare_loop"

    bare_epochs, kakuren_epochs = [], []
    with tempfile.TemporaryDirectory(prefix="kakuren-bench-") as ws:
        for r in range(args.rounds):
            out = subprocess.run([str(bare), "--epochs", str(args.epochs), "--threads", str(args.threads)],
                                 capture_output=True, text=True, check=True).stdout
            times = [json.loads(l)["train_s"] for l in out.splitlines() if l.startswith("{")]
            bare_epochs += times[1:]  # the first epoch warms caches and allocators
            run_id, _, _ = run_kakuren(binary, ws, ROOT / "recipes/fashion_mnist_cnn.toml",
                                       ["hiding.strategy=none", f"schedule.epochs={args.epochs}",
                                        "schedule.milestones=[]", f"run.threads={args.threads}"])
            times = [e["train_s"] for e in show(binary, ws, run_id)["epochs"]]
            kakuren_epochs += times[1:]
            print(f"round {r + 1}: bare {bare_epochs[-len(times) + 1:]} kakuren {times[1:]}", flush=True)

    bare_med, kak_med = statistics.median(bare_epochs), statistics.median(kakuren_epochs)
    ratio = kak_med / bare_med
    print()
    print(table(["loop", "median train s/epoch", "epochs timed", "ratio"],
                [["bare LibTorch", f"{bare_med:.2f}", len(bare_epochs), "1.000"],
                 ["kakuren run (none)", f"{kak_med:.2f}", len(kakuren_epochs), f"{ratio:.3f}"]]))
    write_json(args.out, {"benchmark": "overhead", "machine": machine(), "threads": args.threads,
                          "bare_train_s": bare_epochs, "kakuren_train_s": kakuren_epochs,
                          "ratio_median": ratio, "goal": 1.05})


if __name__ == "__main__":
    main()
