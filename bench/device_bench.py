#!/usr/bin/env python3
"""Device, precision, memory format, LibTorch flavour and shared-node benchmarks: training time per
epoch of the shipped recipe (strategy none, a subset of Fashion-MNIST), two variants side by side,
interleaved in rounds of one run.

  bench/device_bench.py flavours      [--rounds 2]   build/ (LibTorch 1.13) vs build-pypi/ (2.x)
  bench/device_bench.py precision     [--build DIR]  run.precision fp32 vs bf16 (CPU)
  bench/device_bench.py memory_format [--build DIR]  run.memory_format contiguous vs channels_last
  bench/device_bench.py shared_node   [--build DIR]  quiet vs beside a second training, with
                                                     OpenMP wait policies (--policies: a
                                                     GOMP_SPINCOUNT, passive, kakuren's default)

Prints a Markdown table and writes bench/out/device_<what>.json. The first epoch of each run warms
caches and is not timed; ratios are medians of the timed epochs.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, kakuren_bin, machine, run_kakuren, show, table, write_json

RECIPE = ROOT / "recipes/fashion_mnist_cnn.toml"


def epoch_times(binary, ws, sets, env=None):
    old = dict(os.environ)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    try:
        run_id, _, summary = run_kakuren(binary, ws, RECIPE, sets)
    finally:
        os.environ.clear()
        os.environ.update(old)
    epochs = show(binary, ws, run_id)["epochs"]
    return [e["train_s"] for e in epochs[1:]], summary


def run_pair(binary, ws, sets, env):
    """Two identical trainings at once (a shared node); returns both runs' timed epochs."""
    cmds = []
    for k in range(2):
        cmd = [binary, "run", str(RECIPE), "--quiet", "--format", "json", "--workspace", str(ws)]
        for s in sets + [f"run.name=pair{k}"]:
            cmd += ["--set", s]
        cmds.append(cmd)
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for c in cmds]
    import json
    times = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"kakuren failed ({p.returncode}): {err}")
        run_id = json.loads(out)["run_id"]
        times += [e["train_s"] for e in show(binary, ws, run_id)["epochs"][1:]]
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["flavours", "precision", "memory_format", "shared_node"])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-limit", type=int, default=12000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--other-build", default=str(ROOT / "build-pypi"))
    p.add_argument("--quiet-only", action="store_true", help="shared_node: only the quiet runs")
    p.add_argument("--policies", default="300000,default",
                   help="shared_node: OpenMP wait policies, each 'default' (kakuren's), 'passive' "
                        "or a GOMP_SPINCOUNT (300000 = libgomp's own default)")
    args = p.parse_args()
    common = ["hiding.strategy=none", f"schedule.epochs={args.epochs}", "schedule.milestones=[]",
              f"run.threads={args.threads}", f"data.train_limit={args.train_limit}", "run.device=cpu"]
    base_env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    # name -> (binary, extra sets, environment, paired)
    if args.what == "flavours":
        variants = {"LibTorch 1.13 (debian)": (kakuren_bin(args.build), [], base_env, False),
                    "LibTorch 2.x (pypi)": (kakuren_bin(args.other_build), [], base_env, False)}
    elif args.what == "precision":
        b = kakuren_bin(args.build)
        variants = {"fp32": (b, ["run.precision=fp32"], base_env, False),
                    "bf16": (b, ["run.precision=bf16"], base_env, False)}
    elif args.what == "memory_format":
        b = kakuren_bin(args.build)
        variants = {"contiguous": (b, ["run.memory_format=contiguous"], base_env, False),
                    "channels_last": (b, ["run.memory_format=channels_last"], base_env, False)}
    else:
        b = kakuren_bin(args.build)
        variants = {}
        for policy in args.policies.split(","):
            if policy == "default":
                name, env = "kakuren's default", base_env
            elif policy == "passive":
                name, env = "OMP_WAIT_POLICY=PASSIVE", dict(base_env, OMP_WAIT_POLICY="PASSIVE")
            else:
                name, env = f"GOMP_SPINCOUNT={policy}", dict(base_env, GOMP_SPINCOUNT=policy)
            variants[f"quiet, {name}"] = (b, [], env, False)
            if not args.quiet_only:
                variants[f"beside another, {name}"] = (b, [], env, True)
    times = {name: [] for name in variants}
    accuracy = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="kakuren-bench-") as ws:
        for r in range(args.rounds):
            for name, (binary, sets, env, paired) in variants.items():
                if paired:
                    times[name] += run_pair(binary, ws, common + sets, env)
                else:
                    t, summary = epoch_times(binary, ws, common + sets, env)
                    times[name] += t
                    accuracy[name].append(summary.get("final_accuracy"))
                print(f"round {r + 1} {name}: {times[name][-2:]}", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    names = list(variants)
    rows = []
    for i, name in enumerate(names):
        paired = args.what == "shared_node" and not args.quiet_only
        base = names[i - 1] if paired and i % 2 == 1 else names[0]
        rows.append([name, f"{med[name]:.2f}", len(times[name]), f"{med[name] / med[base]:.3f}",
                     base, " ".join(f"{a:.4f}" for a in accuracy[name] if a is not None)])
    print()
    print(table(["variant", "median train s/epoch", "epochs timed", "ratio", "against", "final accuracy"],
                rows))
    write_json(ROOT / f"bench/out/device_{args.what}_{Path(args.build).name}.json",
               {"benchmark": f"device_{args.what}", "machine": machine(), "threads": args.threads,
                "train_limit": args.train_limit, "times": times, "median": med, "accuracy": accuracy})


if __name__ == "__main__":
    main()
