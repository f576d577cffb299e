#!/usr/bin/env python3
"""Benchmark 1, "hiding pays": the shipped recipe with hiding off vs on (and other variants),
same seeds, same machine, runs interleaved so machine drift hits all variants alike.

  bench/hiding_pays.py [--seeds 1,2,3] [--variant NAME=k=v,k=v ...] [--epochs N] [--target 0.91]

Prints a Markdown table and writes bench/out/hiding_pays.json. Ratios are per seed against the
`none` run of the same seed, then averaged (mean +- std over seeds).
"""
import argparse

from common import (ROOT, kakuren_bin, machine, mean_spread, parse_variant, run_interleaved,
                    table, write_json)

DEFAULT_VARIANTS = {
    "none": ["hiding.strategy=none"],
    "kakurenbo-faithful": ["hiding.strategy=kakurenbo", "hiding.fraction=0.3",
                           "hiding.refresh_every=1"],
    "shipped-defaults": [],
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="1")
    p.add_argument("--variant", action="append", default=[],
                   help="NAME=key=value,key=value (replaces the default variants; 'none' is always run)")
    p.add_argument("--recipe", default=str(ROOT / "recipes/fashion_mnist_cnn.toml"))
    p.add_argument("--epochs", type=int, default=0, help="override schedule.epochs (0 = recipe)")
    p.add_argument("--target", type=float, default=0.91, help="accuracy for time-to-target")
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--out", default=str(ROOT / "bench/out/hiding_pays.json"))
    args = p.parse_args()

    binary = kakuren_bin(args.build)
    variants = dict(DEFAULT_VARIANTS)
    if args.variant:
        variants = {"none": DEFAULT_VARIANTS["none"]}
        variants.update(parse_variant(v) for v in args.variant)
    seeds = [int(s) for s in args.seeds.split(",")]
    common_sets = [f"schedule.epochs={args.epochs}"] if args.epochs else []

    results = run_interleaved(binary, args.recipe, variants, seeds, common_sets, args.target)

    base = {r["seed"]: r for r in results["none"]}
    rows, summary = [], {}
    for name, runs in results.items():
        ratios = [r["wall_s"] / base[r["seed"]]["wall_s"] for r in runs]
        dacc = [100 * (r["final_accuracy"] - base[r["seed"]]["final_accuracy"]) for r in runs]
        dbest = [100 * (r["best_accuracy"] - base[r["seed"]]["best_accuracy"]) for r in runs]
        ratio_m, ratio_s = mean_spread(ratios)
        dacc_m, dacc_s = mean_spread(dacc)
        dbest_m, _ = mean_spread(dbest)
        ttt = [r["time_to_target_s"] for r in runs]
        ttt_text = ("-" if any(t is None for t in ttt)
                    else f"{mean_spread([t / base[r['seed']]['epochs_s'] for t, r in zip(ttt, runs)])[0]:.2f}")
        parts = {k: mean_spread([r[k] / base[r["seed"]]["epochs_s"] for r in runs])[0]
                 for k in ("train_s", "refresh_s", "eval_s")}
        realised = mean_spread([r["mean_realised_fraction"] for r in runs])[0]
        rows.append([name, f"{ratio_m:.3f} ± {ratio_s:.3f}", f"{dacc_m:+.2f} ± {dacc_s:.2f}",
                     f"{dbest_m:+.2f}", f"{100 * mean_spread([r['final_accuracy'] for r in runs])[0]:.2f}",
                     f"{parts['train_s']:.2f} / {parts['refresh_s']:.2f} / {parts['eval_s']:.2f}",
                     f"{100 * realised:.1f}%", ttt_text])
        summary[name] = {"time_ratio_mean": ratio_m, "time_ratio_std": ratio_s,
                         "final_acc_delta_points_mean": dacc_m, "final_acc_delta_points_std": dacc_s,
                         "best_acc_delta_points_mean": dbest_m, "mean_realised_fraction": realised}
    header = ["variant", "time ratio", "Δ final acc (pts)", "Δ best (pts)", "final acc %",
              "train / refresh / eval (× none total)", "realised hidden", f"time to {args.target:.0%} (× none total)"]
    print()
    print(table(header, rows))
    write_json(args.out, {"benchmark": "hiding_pays", "machine": machine(), "seeds": seeds,
                          "recipe": args.recipe, "variants": variants, "summary": summary,
                          "runs": results})


if __name__ == "__main__":
    main()
