#!/usr/bin/env python3
"""Multi-rank speed: kakuren's 2-rank training step against PyTorch DistributedDataParallel
(bench/ddp_reference.py, Debian's python3-torch, Gloo) with the same model, global batch, ranks
and threads per rank, on this machine, in one run; the share of the gradient all-reduce hidden
behind the backward pass with overlapped buckets (launcher.bucket_mb = 25) and without (one
bucket after the backward pass, as before); and a projected scaling table from the measured
per-bucket all-reduce costs.

  bench/ddp_compare.py [--rounds 2] [--models cnn,resnet18] [--threads 1]

kakuren runs as a user runs it: `kakuren submit --backend local` with slurm.ntasks_per_node = 2
(two ranks on 127.0.0.1, c10d Gloo), hiding.strategy = none; its step time is the training
pass's seconds (`kakuren show`) over its steps, first epoch dropped (warm-up). Prints Markdown
tables and writes bench/out/ddp_compare.json. Goal: kakuren / DDP <= 1.0.
"""
import argparse
import json
import math
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, kakuren_bin, machine, show, table, write_json

MODELS = {
    # name: (recipe, kakuren --set list, ddp_reference.py arguments, global batch)
    "cnn": (ROOT / "recipes/fashion_mnist_cnn.toml",
            ["data.train_limit=12800", "data.test_limit=512"],
            ["--model", "cnn", "--channels", "1", "--size", "28", "--classes", "10"], 128),
    "resnet18": (ROOT / "recipes/synthetic_tiny.toml",
                 ["model.kind=resnet18", "model.width=64", "data.synthetic_channels=3",
                  "data.synthetic_size=16", "data.synthetic_train=640", "data.synthetic_test=64",
                  "data.eval_batch_size=64"],
                 ["--model", "resnet18", "--channels", "3", "--size", "16", "--classes", "10",
                  "--width", "64"], 32),
}

SUMMARY = re.compile(r"rank 0: \d+ steps of (\d+) gradient bucket\(s\) \((\d+) floats\).*?under way ([\d.]+) ms per step, "
                     r"waited for ([\d.]+) ms \(([-\d.]+) % hidden")


def run_kakuren_ranks(binary, ws, recipe, sets, epochs):
    cmd = [binary, "submit", str(recipe), "--backend", "local", "--format", "json", "--workspace", str(ws)]
    for s in sets + [f"schedule.epochs={epochs}", "schedule.milestones=[]", "schedule.warmup_epochs=0",
                     "hiding.strategy=none", "slurm.ntasks_per_node=2"]:
        cmd += ["--set", s]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"kakuren submit failed: {' '.join(cmd)}\n{out.stderr}")
    run_id = json.loads(out.stdout)["runs"][0]["run_id"]
    detail = None
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:  # a benchmark may poll: the run takes tens of seconds
        detail = show(binary, ws, run_id)
        if detail["run"]["status"] not in ("created", "running"):
            break
        time.sleep(1.0)
    if detail["run"]["status"] not in ("succeeded", "finished"):
        raise SystemExit(f"run {run_id} ended {detail['run']['status']}")
    line = None
    for log in sorted((Path(detail["run"]["run_dir"]) / "logs").glob("*")):
        for m in SUMMARY.finditer(log.read_text(errors="replace")):
            line = m
    return detail, line


def kakuren_step(detail, batch):
    steps_s, comm_s = [], []
    for e in detail["epochs"][1:]:
        steps = math.ceil(e["visible"] / batch)
        steps_s.append(e["train_s"] / steps)
        comm_s.append((e.get("comm_s") or 0.0) / steps)
    return statistics.median(steps_s), statistics.median(comm_s)


def ddp_step(python, model_args, batch, threads, bucket_mb, steps, out):
    cmd = [python, str(ROOT / "bench/ddp_reference.py"), *model_args, "--batch", str(batch),
           "--threads", str(threads), "--bucket-mb", str(bucket_mb), "--steps", str(steps),
           "--warmup", "5", "--out", str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(Path(out).read_text())


def ring_s(nbytes, p, alpha, bandwidth):
    """Ring all-reduce: 2(p-1) latency steps, 2(p-1)/p of the data over each link."""
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / bandwidth


def buckets_of(params, first_mb=1.0, cap_mb=25.0):
    nbytes = 4 * params
    first = min(nbytes, first_mb * 2**20)
    rest = nbytes - first
    out = [first]
    while rest > 0:
        out.append(min(rest, cap_mb * 2**20))
        rest -= out[-1]
    return out


def projection(alpha, bandwidth, models):
    rows, data = [], []
    for name, (params, compute_s, source) in models.items():
        for p in [2, 8, 32, 128, 512, 1024]:
            buckets = buckets_of(params)
            total = sum(ring_s(b, p, alpha, bandwidth) for b in buckets)
            # Overlapped: everything but the last bucket (the first layers' gradients) can run
            # under the backward pass (2/3 of the compute); before: all of it after backward.
            backward = 2 / 3 * compute_s
            last = ring_s(buckets[-1], p, alpha, bandwidth)
            exposed = last + max(0.0, total - last - backward)
            rows.append([name, p, f"{1e3 * compute_s:.1f}", f"{1e3 * total:.1f}",
                         f"{1e3 * (compute_s + total):.1f}", f"{100 * total / (compute_s + total):.0f} %",
                         f"{1e3 * (compute_s + exposed):.1f}", f"{100 * exposed / (compute_s + exposed):.0f} %"])
            data.append({"model": name, "ranks": p, "compute_s": compute_s, "allreduce_s": total,
                         "step_s_no_overlap": compute_s + total, "step_s_overlap": compute_s + exposed,
                         "compute_source": source})
    return rows, data


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--models", default="cnn,resnet18")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--python", default="/usr/bin/python3",
                   help="the PyTorch of the DDP reference: /usr/bin/python3 (1.13) for build/, "
                        ".venv/bin/python (2.x) for build-pypi/")
    p.add_argument("--out", default=str(ROOT / "bench/out/ddp_compare.json"))
    args = p.parse_args()
    binary = kakuren_bin(args.build)
    results = {}
    with tempfile.TemporaryDirectory(prefix="kakuren-bench-") as ws:
        sweep = Path(ws) / "allreduce.json"
        subprocess.run([args.python, str(ROOT / "bench/ddp_reference.py"), "--model", "allreduce",
                        "--threads", str(args.threads), "--out", str(sweep)], check=True)
        allreduce = json.loads(sweep.read_text())["allreduce"]
        for name in args.models.split(","):
            recipe, sets, ddp_args, batch = MODELS[name]
            sets = sets + [f"data.batch_size={batch}", f"run.threads={args.threads}"]
            r = results.setdefault(name, {"kakuren": [], "kakuren_one_bucket": [], "ddp": [],
                                          "overlap": [], "overlap_one_bucket": []})
            for rnd in range(args.rounds):
                for variant, mb in [("kakuren", 25), ("kakuren_one_bucket", 0)]:
                    detail, line = run_kakuren_ranks(binary, ws, recipe, sets + [f"launcher.bucket_mb={mb}"],
                                                     args.epochs)
                    step, comm = kakuren_step(detail, batch)
                    r[variant].append({"step_s": step, "comm_wait_s": comm})
                    if line:
                        r["overlap" if mb else "overlap_one_bucket"].append(
                            {"buckets": int(line.group(1)), "floats": int(line.group(2)),
                             "under_way_ms": float(line.group(3)), "waited_ms": float(line.group(4)),
                             "hidden_percent": float(line.group(5))})
                    print(f"round {rnd + 1} {name} {variant}: {1e3 * step:.1f} ms/step "
                          f"({line.group(0) if line else 'no summary line'})", flush=True)
                ddp = ddp_step(args.python, ddp_args, batch, args.threads, 25, 40, Path(ws) / f"ddp-{name}.json")
                r["ddp"].append({"step_s": ddp["step_s_median"], "params": ddp["params"],
                                 "backward_s": ddp["backward_s_mean"], "optimizer_s": ddp["optimizer_s_mean"]})
                print(f"round {rnd + 1} {name} ddp: {1e3 * ddp['step_s_median']:.1f} ms/step", flush=True)

    rows = []
    for name, r in results.items():
        k = statistics.median(x["step_s"] for x in r["kakuren"])
        k1 = statistics.median(x["step_s"] for x in r["kakuren_one_bucket"])
        d = statistics.median(x["step_s"] for x in r["ddp"])
        kw = statistics.median(x["comm_wait_s"] for x in r["kakuren"])
        hid = statistics.median(x["hidden_percent"] for x in r["overlap"]) if r["overlap"] else float("nan")
        hid1 = (statistics.median(x["hidden_percent"] for x in r["overlap_one_bucket"])
                if r["overlap_one_bucket"] else float("nan"))
        nb = r["overlap"][0]["buckets"] if r["overlap"] else "?"
        rows.append([name, r["ddp"][0]["params"], batch_of(name), f"{1e3 * d:.1f}", f"{1e3 * k:.1f}",
                     f"{k / d:.3f}", f"{1e3 * k1:.1f}", f"{k1 / d:.3f}", f"{1e3 * kw:.2f}", nb,
                     f"{hid1:.0f} % → {hid:.0f} %"])
    print()
    print(table(["model", "params", "global batch", "DDP ms/step", "kakuren ms/step (bucket_mb 25)",
                 "kakuren / DDP", "kakuren ms/step (one bucket)", "one bucket / DDP",
                 "kakuren comm wait ms/step", "buckets", "all-reduce hidden (one bucket → 25 MB)"], rows))

    # Per-bucket costs measured here (2 ranks, loopback Gloo): T = 2 alpha + n / B for p = 2.
    small, large = allreduce[0], allreduce[-1]
    alpha = small["s_median"] / 2
    bandwidth = large["bytes"] / (large["s_median"] - 2 * alpha)
    print(f"\nmeasured Gloo all-reduce (2 ranks, loopback): alpha {1e6 * alpha:.0f} us, "
          f"B {bandwidth / 1e6:.0f} MB/s")
    cnn_compute = None
    if "cnn" in results:
        cnn_compute = statistics.median(x["step_s"] - x["comm_wait_s"] for x in results["cnn"]["kakuren"])
    models = {
        "cnn (105,866 params)": (105866, cnn_compute or 0.05, "measured here: kakuren 2-rank step minus its wait"),
        "ResNet-50 (25.6 M params)": (25_600_000, 0.100, "stated: 100 ms forward+backward per step per GPU"),
        "CosmoFlow (8.9 M params)": (8_900_000, 0.060, "stated: 60 ms forward+backward per step per GPU"),
    }
    cluster_alpha, cluster_bw = 5e-6, 12.5e9
    proj_rows, proj = projection(cluster_alpha, cluster_bw, models)
    print(f"\nprojection: ring all-reduce, alpha {1e6 * cluster_alpha:.0f} us, B {cluster_bw / 1e9:.1f} GB/s "
          "(100 Gb/s per node), buckets of 25 MB (first 1 MB)")
    print(table(["model", "ranks", "compute ms", "all-reduce ms", "step ms (after backward)", "comm share",
                 "step ms (overlapped)", "comm share"], proj_rows))
    write_json(args.out, {"benchmark": "ddp_compare", "machine": machine(), "threads": args.threads,
                          "results": results, "allreduce_measured": allreduce,
                          "alpha_s_measured": alpha, "bandwidth_Bps_measured": bandwidth,
                          "projection_assumptions": {"alpha_s": cluster_alpha, "bandwidth_Bps": cluster_bw},
                          "projection": proj, "goal": 1.0})


def batch_of(name):
    return MODELS[name][3]


if __name__ == "__main__":
    main()
