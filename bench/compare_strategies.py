#!/usr/bin/env python3
"""Benchmark 2, "compare strategies": every hiding strategy of kakuren and the full-data baseline
on the shipped recipe, same seeds, same machine, runs interleaved (seed by seed, every strategy
in turn) so machine drift hits all alike. Every run goes through `kakuren run`; every figure is
read back with `kakuren show`.

  bench/compare_strategies.py [--seeds 1,2,3] [--only none,rotate] [--variant NAME=k=v,...]
                              [--readme] [--target 0.91]

Prints a Markdown table and writes bench/out/compare_strategies.json (+ .md). With --readme it
also rewrites README.md between <!-- BEGIN STRATEGY COMPARISON --> and
<!-- END STRATEGY COMPARISON -->. Ratios are per seed against the `none` run of the same seed,
then averaged (mean ± std over seeds).
"""
import argparse
import re
import tempfile
from pathlib import Path

from common import (ROOT, kakuren_bin, machine, mean_spread, run_kakuren, show, table,
                    write_json)

# Each strategy as the README describes it; parameters spelled out so that the table does not
# change meaning when a default does.
STRATEGIES = {
    "none": ["hiding.strategy=none"],
    "kakurenbo": ["hiding.strategy=kakurenbo", "hiding.fraction=0.3", "hiding.refresh_every=1"],
    "random": ["hiding.strategy=random", "hiding.fraction=0.3"],
    "infobatch": ["hiding.strategy=infobatch", "hiding.infobatch_ratio=0.5",
                  "hiding.infobatch_delta=0.875"],
    "iswr": ["hiding.strategy=iswr"],
    "selective_backprop": ["hiding.strategy=selective_backprop", "hiding.sb_beta=1.0"],
    "rotate": ["hiding.strategy=rotate", "hiding.rotate_fraction=0.9", "hiding.rotate_ratio=0.65",
               "hiding.rotate_full_epochs=1", "hiding.rotate_tau=0.9"],
}

BEGIN = "<!-- BEGIN STRATEGY COMPARISON -->"
END = "<!-- END STRATEGY COMPARISON -->"


def parse_variant(text):
    name, _, sets = text.partition("=")
    return name, [s for s in sets.split(",") if s]


def summarise(detail, target):
    epochs = detail["epochs"]
    n = detail["run"]["num_samples"]
    to_target, elapsed = None, 0.0
    for e in epochs:
        elapsed += e["total_s"]
        if to_target is None and e["test_accuracy"] >= target:
            to_target = elapsed
    return {
        "epochs_s": sum(e["total_s"] for e in epochs),
        "train_s": sum(e["train_s"] for e in epochs),
        "refresh_s": sum(e["hidden_pass_s"] for e in epochs),
        "eval_s": sum(e["eval_s"] for e in epochs),
        "final_accuracy": epochs[-1]["test_accuracy"],
        "best_accuracy": max(e["test_accuracy"] for e in epochs),
        "time_to_target_s": to_target,
        "realised_fraction": [round(e["realised_fraction"], 4) for e in epochs],
        "mean_realised_fraction": detail["run"]["mean_realised_fraction"],
        # Backward passes relative to full data (iswr draws N per epoch with repeats).
        "trained_share": sum(e["visible"] for e in epochs) / (n * len(epochs)),
    }


def compare(results, target):
    base = {r["seed"]: r for r in results["none"]}
    rows, summary = [], {}
    for name, runs in results.items():
        ratios = [r["wall_s"] / base[r["seed"]]["wall_s"] for r in runs]
        dacc = [100 * (r["final_accuracy"] - base[r["seed"]]["final_accuracy"]) for r in runs]
        ratio_m, ratio_s = mean_spread(ratios)
        dacc_m, dacc_s = mean_spread(dacc)
        acc_m, _ = mean_spread([100 * r["final_accuracy"] for r in runs])
        realised, _ = mean_spread([r["mean_realised_fraction"] for r in runs])
        trained, _ = mean_spread([r["trained_share"] for r in runs])
        refresh, _ = mean_spread([r["refresh_s"] / base[r["seed"]]["epochs_s"] for r in runs])
        ttt = [r["time_to_target_s"] / base[r["seed"]]["epochs_s"]
               for r in runs if r["time_to_target_s"] is not None]
        reached = len(ttt)
        ttt_m = mean_spread(ttt)[0] if ttt else None
        ttt_text = "not reached" if not ttt else (
            f"{ttt_m:.2f}" + ("" if reached == len(runs) else f" ({reached}/{len(runs)} seeds)"))
        rows.append([name, f"{ratio_m:.3f} ± {ratio_s:.3f}", f"{dacc_m:+.2f} ± {dacc_s:.2f}",
                     f"{acc_m:.2f}", f"{100 * realised:.1f}%", f"{trained:.2f}",
                     f"{refresh:.2f}", ttt_text])
        summary[name] = {"time_ratio_mean": ratio_m, "time_ratio_std": ratio_s,
                         "final_acc_delta_points_mean": dacc_m,
                         "final_acc_delta_points_std": dacc_s, "final_accuracy_percent": acc_m,
                         "mean_realised_fraction": realised, "trained_share": trained,
                         "refresh_share": refresh, "time_to_target_ratio": ttt_m,
                         "seeds_reaching_target": reached}
    header = ["strategy", "time (× none)", "Δ final acc (points)", "final acc %",
              "realised hidden", "backprop share", "refresh (× none)",
              f"time to {100 * target:g}% (× none)"]
    return table(header, rows), summary


def readme_block(markdown, info, seeds, target, command):
    m = info["machine"]
    return (f"{BEGIN}\n"
            f"Measured {m['date']} on `{m['host']}` ({m['cpus']} CPUs, {m.get('cpu', 'CPU')}), "
            f"seeds {', '.join(map(str, seeds))}, recipe `recipes/fashion_mnist_cnn.toml` "
            f"(15 epochs), generated by `{command}`:\n\n"
            f"{markdown}\n\n"
            f"Time is the wall time of the whole `kakuren run` process over that of `none` with "
            f"the same seed (mean ± standard deviation over seeds); Δ final acc is the change "
            f"of the last epoch's test accuracy in percentage points; realised hidden is the "
            f"mean share of samples not trained in an epoch (iswr: never drawn); backprop share "
            f"is the backward passes over those of full data; refresh is the forward-only "
            f"passes' time over `none`'s epoch time; time to {100 * target:g}% is the epoch "
            f"time until the test accuracy first reaches it.\n"
            f"{END}")


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--only", default="", help="comma-separated strategies (none is always run)")
    p.add_argument("--variant", action="append", default=[],
                   help="extra NAME=key=value,key=value (explorations)")
    p.add_argument("--recipe", default=str(ROOT / "recipes/fashion_mnist_cnn.toml"))
    p.add_argument("--epochs", type=int, default=0, help="override schedule.epochs (0 = recipe)")
    p.add_argument("--target", type=float, default=0.91, help="accuracy for time-to-target")
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--out", default=str(ROOT / "bench/out/compare_strategies.json"))
    p.add_argument("--readme", action="store_true", help="rewrite README.md's comparison block")
    p.add_argument("--no-baseline", action="store_true",
                   help="explorations: skip `none` and the table; print each run only")
    args = p.parse_args()

    binary = kakuren_bin(args.build)
    variants = dict(STRATEGIES)
    if args.only:
        keep = {"none", *args.only.split(",")}
        variants = {k: v for k, v in variants.items() if k in keep}
    if args.no_baseline:
        variants = {k: v for k, v in variants.items() if k != "none"}
    variants.update(parse_variant(v) for v in args.variant)
    seeds = [int(s) for s in args.seeds.split(",")]
    common_sets = [f"schedule.epochs={args.epochs}"] if args.epochs else []

    results = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="kakuren-compare-") as ws:
        for seed in seeds:  # interleaved: every strategy once per seed, in turn
            for name, sets in variants.items():
                run_id, wall, _ = run_kakuren(binary, ws, args.recipe,
                                              common_sets + sets + [f"run.seed={seed}"])
                entry = summarise(show(binary, ws, run_id), args.target)
                entry.update({"seed": seed, "wall_s": wall, "sets": sets})
                results[name].append(entry)
                print(f"seed {seed} {name}: wall {wall:.1f}s final {entry['final_accuracy']:.4f} "
                      f"realised {entry['mean_realised_fraction']:.3f} "
                      f"trained {entry['trained_share']:.3f}", flush=True)

    if args.no_baseline:
        write_json(args.out, {"benchmark": "compare_strategies", "machine": machine(),
                              "seeds": seeds, "variants": variants, "runs": results})
        return
    markdown, summary = compare(results, args.target)
    print()
    print(markdown)
    info = {"benchmark": "compare_strategies", "machine": {**machine(), "cpu": cpu_model()},
            "seeds": seeds, "recipe": args.recipe, "target": args.target,
            "variants": variants, "summary": summary, "runs": results}
    write_json(args.out, info)
    Path(args.out).with_suffix(".md").write_text(markdown + "\n")
    if args.readme:
        command = "bench/compare_strategies.py --seeds " + args.seeds + " --readme"
        readme = ROOT / "README.md"
        text = readme.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        if not pattern.search(text):
            raise SystemExit(f"{readme}: no {BEGIN} ... {END} block to rewrite")
        block = readme_block(markdown, info, seeds, args.target, command)
        readme.write_text(pattern.sub(lambda _: block, text, count=1))
        print(f"rewrote the comparison block of {readme}")


if __name__ == "__main__":
    main()
