#!/usr/bin/env python3
"""TorchScript against the built-in network: training time per epoch of the shipped recipe's CNN
built in C++ (model.kind = cnn) and the same CNN exported from PyTorch with torch.jit.script
(tests/trainer/torchscript/make_modules.py, the same weights), in interleaved rounds of one run.

  bench/torchscript.py [--rounds 2] [--epochs 3] [--threads 2]

Prints a Markdown table and writes bench/out/torchscript.json. Goal: ratio <= 1.10.
"""
import argparse
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
    p.add_argument("--out", default=str(ROOT / "bench/out/torchscript.json"))
    args = p.parse_args()
    binary = kakuren_bin(args.build)
    times = {"cnn": [], "torchscript": [], "eval_cnn": [], "eval_torchscript": []}
    with tempfile.TemporaryDirectory(prefix="kakuren-bench-") as ws:
        modules = Path(ws) / "modules"
        subprocess.run(["/usr/bin/python3", str(ROOT / "tests/trainer/torchscript/make_modules.py"),
                        str(modules)], check=True)
        common = ["hiding.strategy=none", f"schedule.epochs={args.epochs}", "schedule.milestones=[]",
                  f"run.threads={args.threads}"]
        variants = {"cnn": [], "torchscript": ["model.kind=torchscript", f"model.path={modules / 'cnn.pt'}"]}
        for r in range(args.rounds):
            for name, sets in variants.items():
                run_id, _, _ = run_kakuren(binary, ws, ROOT / "recipes/fashion_mnist_cnn.toml", common + sets)
                epochs = show(binary, ws, run_id)["epochs"]
                times[name] += [e["train_s"] for e in epochs[1:]]  # the first epoch warms caches
                times["eval_" + name] += [e["eval_s"] for e in epochs[1:]]
                print(f"round {r + 1} {name}: train {[e['train_s'] for e in epochs]}", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["torchscript"] / med["cnn"]
    eval_ratio = med["eval_torchscript"] / med["eval_cnn"]
    print()
    print(table(["model", "median train s/epoch", "median eval s/epoch", "epochs timed", "train ratio"],
                [["built-in cnn (C++)", f"{med['cnn']:.2f}", f"{med['eval_cnn']:.2f}", len(times["cnn"]), "1.000"],
                 ["cnn.pt (TorchScript)", f"{med['torchscript']:.2f}", f"{med['eval_torchscript']:.2f}",
                  len(times["torchscript"]), f"{ratio:.3f}"]]))
    write_json(args.out, {"benchmark": "torchscript", "machine": machine(), "threads": args.threads,
                          "times": times, "ratio_train_median": ratio, "ratio_eval_median": eval_ratio,
                          "goal": 1.10})


if __name__ == "__main__":
    main()
