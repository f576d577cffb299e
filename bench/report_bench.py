#!/usr/bin/env python3
"""Benchmark: `kakuren report --all` on a big workspace, goal <= 1 s per format.

Fills a temporary workspace with synthetic runs (build/bench/kakuren_bench_report_fill: rows
written through db::Store plus an MLPerf log per run, no training), then times
`kakuren report --all` in table, json and html: the whole process (start-up, open, reap, read,
check the logs, render, write), best and median of --repeat runs; the same work inside one
process (build/bench/kakuren_bench_report: build_report + each renderer, best of --repeat); and
`kakuren --version`, the start-up every kakuren command pays (loading LibTorch and its static
initialisers).

  bench/report_bench.py [--runs 100] [--epochs 100] [--samples 2048] [--repeat 3]

Prints a Markdown table and writes bench/out/report_bench.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, kakuren_bin, machine, table, write_json


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--out", default=str(ROOT / "bench/out/report_bench.json"))
    args = p.parse_args()
    binary = kakuren_bin(args.build)
    fill = Path(args.build) / "bench" / "kakuren_bench_report_fill"
    inprocess = Path(args.build) / "bench" / "kakuren_bench_report"
    for program in (fill, inprocess):
        if not program.exists():
            raise SystemExit(f"{program} not found: build the project first")

    results = {}
    with tempfile.TemporaryDirectory(prefix="kakuren-report-bench-") as ws:
        out = subprocess.run([str(fill), ws, "--runs", str(args.runs), "--epochs", str(args.epochs),
                              "--samples", str(args.samples)], capture_output=True, text=True, check=True)
        filled = json.loads(out.stdout)
        print(f"filled {args.runs} runs x {args.epochs} epochs in {filled['fill_s']:.1f} s", flush=True)
        env = dict(os.environ, KAKUREN_WORKSPACE=ws)
        inside = json.loads(subprocess.run([str(inprocess), ws, "--repeat", str(args.repeat)],
                                           capture_output=True, text=True, check=True).stdout)
        startup = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([binary, "--version"], capture_output=True, check=True)
            startup.append(time.perf_counter() - start)
        for fmt in ("table", "json", "html"):
            target = Path(ws) / f"report.{ 'txt' if fmt == 'table' else fmt}"
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                proc = subprocess.run([binary, "report", "--all", "--format", fmt, "-o", str(target)],
                                      capture_output=True, text=True, env=env)
                times.append(time.perf_counter() - start)
                if proc.returncode != 0:
                    raise SystemExit(f"kakuren report failed: {proc.stderr}")
            in_process_s = inside["build_s"] + inside[f"{fmt}_s"]
            results[fmt] = {"best_s": min(times), "median_s": statistics.median(times),
                            "times_s": times, "in_process_s": in_process_s,
                            "bytes": target.stat().st_size}

    rows = [[fmt, f"{r['best_s']:.3f}", f"{r['median_s']:.3f}", f"{r['in_process_s']:.3f}",
             f"{r['bytes'] / 1e6:.2f}", "yes" if r["median_s"] <= 1.0 else "NO"]
            for fmt, r in results.items()]
    rows.append(["(`kakuren --version`: start-up)", f"{min(startup):.3f}",
                 f"{statistics.median(startup):.3f}", "-", "-", "-"])
    print()
    print(f"`kakuren report --all`, {args.runs} runs x {args.epochs} epochs ({args.samples} samples each); "
          f"in process: build_report {inside['build_s']:.3f} s + render")
    print(table(["format", "process best s", "process median s", "in-process s", "output MB", "<= 1 s"], rows))
    write_json(args.out, {"benchmark": "report", "machine": machine(), "runs": args.runs,
                          "epochs": args.epochs, "samples": args.samples, "fill_s": filled["fill_s"],
                          "in_process": inside, "startup_s": startup,
                          "results": results, "goal_s": 1.0})


if __name__ == "__main__":
    main()
