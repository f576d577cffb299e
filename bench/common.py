"""Shared helpers of the benchmark drivers: run kakuren, read its records, print tables."""
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def kakuren_bin(build):
    path = Path(build) / "kakuren"
    if not path.exists():
        raise SystemExit(f"{path} not found: run scripts/setup.sh first")
    return str(path)


def run_kakuren(binary, workspace, recipe, sets):
    """Runs `kakuren run` and returns (run id, wall seconds of the whole process, summary json)."""
    cmd = [binary, "run", str(recipe), "--quiet", "--format", "json", "--workspace", str(workspace)]
    for s in sets:
        cmd += ["--set", s]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        raise SystemExit(f"kakuren failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    summary = json.loads(proc.stdout)
    return summary["run_id"], wall, summary


def show(binary, workspace, run_id):
    out = subprocess.run([binary, "show", run_id, "--format", "json", "--workspace", str(workspace)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def mean_spread(values):
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], 0.0
    return statistics.mean(values), statistics.stdev(values)


def table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"wrote {path}")


def machine():
    return {"host": os.uname().nodename, "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def parse_variant(text):
    """NAME=key=value,key=value -> (NAME, ["key=value", ...])."""
    name, _, sets = text.partition("=")
    return name, [s for s in sets.split(",") if s]


def summarise(detail, target):
    """One run (kakuren show --format json) in the figures the hiding benchmarks compare."""
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
        "requested_fraction": [round(e["requested_fraction"], 4) for e in epochs],
        "mean_realised_fraction": detail["run"]["mean_realised_fraction"],
        # Backward passes relative to full data (iswr draws N per epoch with repeats).
        "trained_share": sum(e["visible"] for e in epochs) / (n * len(epochs)),
    }


def run_interleaved(binary, recipe, variants, seeds, common_sets, target):
    """Every variant once per seed, in turn (so drifts of a shared machine hit all alike), in a
    temporary workspace; returns {variant: [summarise(...) + seed, wall_s, sets]}."""
    import tempfile
    results = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="kakuren-bench-") as ws:
        for seed in seeds:
            for name, sets in variants.items():
                run_id, wall, _ = run_kakuren(binary, ws, recipe,
                                              common_sets + sets + [f"run.seed={seed}"])
                entry = summarise(show(binary, ws, run_id), target)
                entry.update({"seed": seed, "wall_s": wall, "sets": sets})
                results[name].append(entry)
                print(f"seed {seed} {name}: wall {wall:.1f}s final {entry['final_accuracy']:.4f} "
                      f"realised {entry['mean_realised_fraction']:.3f} "
                      f"trained {entry['trained_share']:.3f}", flush=True)
    return results
