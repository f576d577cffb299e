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
