#!/usr/bin/env python3
"""Does hiding pay on the science workloads? The in-memory CosmoFlow and DeepCAM mini recipes
(recipes/*_mini_memory.toml) with none, kakurenbo, rotate, infobatch and selective_backprop,
runs interleaved per seed; each run stops at its MLPerf HPC target (task.target: MAE <= 0.124,
IoU >= 0.82). Time to target = the epochs' seconds until the target epoch (from kakuren show);
ratios against the `none` run of the same seed.

  bench/science_hiding.py [--seeds 1,2,3] [--workloads cosmoflow,deepcam] [--strategies a,b]

Prints a Markdown table and writes bench/out/science_hiding.json.
"""
import argparse
import tempfile

from common import (ROOT, kakuren_bin, machine, mean_spread, run_kakuren, show, table,
                    write_json)

WORKLOADS = {
    "cosmoflow": ("recipes/cosmoflow_mini_memory.toml", 0.124, True),   # MAE, lower is better
    "deepcam": ("recipes/deepcam_mini_memory.toml", 0.82, False),       # IoU
}
STRATEGIES = ["none", "kakurenbo", "rotate", "infobatch", "selective_backprop"]


def summarise(detail, target, lower):
    epochs = detail["epochs"]
    n = detail["run"]["num_samples"]
    to_target, elapsed = None, 0.0
    for e in epochs:
        elapsed += e["total_s"]
        reached = e["test_accuracy"] <= target if lower else e["test_accuracy"] >= target
        if to_target is None and reached:
            to_target = elapsed
    return {
        "epochs": len(epochs),
        "epochs_s": sum(e["total_s"] for e in epochs),
        "final": epochs[-1]["test_accuracy"],
        "time_to_target_s": to_target,
        "mean_realised_fraction": detail["run"]["mean_realised_fraction"],
        "trained_share": sum(e["visible"] for e in epochs) / (n * len(epochs)),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--workloads", default="cosmoflow,deepcam")
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--out", default=str(ROOT / "bench/out/science_hiding.json"))
    args = p.parse_args()
    binary = kakuren_bin(args.build)
    seeds = [int(s) for s in args.seeds.split(",")]
    strategies = args.strategies.split(",")
    if strategies[0] != "none":
        strategies = ["none"] + [s for s in strategies if s != "none"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="kakuren-bench-") as ws:
        for workload in args.workloads.split(","):
            recipe, target, lower = WORKLOADS[workload]
            runs = {s: [] for s in strategies}
            for seed in seeds:
                for strategy in strategies:
                    run_id, wall, _ = run_kakuren(binary, ws, ROOT / recipe,
                                                  [f"hiding.strategy={strategy}",
                                                   f"run.seed={seed}"])
                    entry = summarise(show(binary, ws, run_id), target, lower)
                    entry.update({"seed": seed, "wall_s": wall})
                    runs[strategy].append(entry)
                    print(f"{workload} seed {seed} {strategy}: {entry['epochs']} epochs, "
                          f"to target {entry['time_to_target_s']}, final {entry['final']:.4f}, "
                          f"realised {entry['mean_realised_fraction']:.3f}", flush=True)
            results[workload] = runs
    rows = []
    for workload, runs in results.items():
        base = {r["seed"]: r for r in runs["none"]}
        for strategy, entries in runs.items():
            reached = [r for r in entries if r["time_to_target_s"] is not None
                       and base[r["seed"]]["time_to_target_s"] is not None]
            ratio = ("-" if len(reached) < len(entries) else "{:.2f} ± {:.2f}".format(
                *mean_spread([r["time_to_target_s"] / base[r["seed"]]["time_to_target_s"]
                              for r in reached])))
            final_m, final_s = mean_spread([r["final"] for r in entries])
            rows.append([workload, strategy, f"{len(reached)}/{len(entries)}", ratio,
                         f"{mean_spread([r['epochs'] for r in entries])[0]:.1f}",
                         f"{final_m:.4f} ± {final_s:.4f}",
                         f"{mean_spread([r['mean_realised_fraction'] for r in entries])[0]:.3f}"])
    print(table(["workload", "strategy", "reached", "time to target / none", "epochs",
                 "final metric", "realised hidden"], rows))
    write_json(args.out, {"machine": machine(), "seeds": seeds, "results": results})


if __name__ == "__main__":
    main()
