#!/usr/bin/env python3
"""Streaming data sources (data.dataset npy / hdf5 / images) against the in-memory IDX loader.

Writes Fashion-MNIST as npy and hdf5 (with /usr/bin/python3's numpy and h5py), then in one run:
  1. epoch time, page cache warm: the shipped recipe on idx (in memory), npy, hdf5 and images
     (grey PNG files, written by kakuren data convert) (streamed),
     interleaved rounds; ratio of the mean epoch time to idx's (goal <= 1.03);
  3. bytes read per epoch against (1 - realised hidden fraction) x the full epoch's bytes, for a
     strategy without a refresh pass (rotate) and for kakurenbo (which also reads the hidden
     samples it refreshes: bytes = (visible + refreshed) x sample bytes);
  4. peak resident memory (ru_maxrss of the kakuren process) training streamed data sets of
     1x and 4x a size (random uint8 [N, 1, 28, 28]), against the in-memory IDX run.
Prints a Markdown table per part and writes bench/out/streaming.json.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PY = "/usr/bin/python3"  # the Python with numpy and h5py
SAMPLE_BYTES = 784 + 1    # uint8 pixels + uint8 label

WRITE_FASHION = r"""
import gzip, os, sys, numpy as np, h5py
out = sys.argv[1]
def idx(name, offset):
    with gzip.open('/usr/share/datasets/fashion-mnist/' + name, 'rb') as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
for split, stem in (('train', 'train'), ('test', 't10k')):
    x = idx(stem + '-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)
    y = idx(stem + '-labels-idx1-ubyte.gz', 8)
    os.makedirs(f'{out}/npy/{split}', exist_ok=True)
    np.save(f'{out}/npy/{split}/data.npy', x)
    np.save(f'{out}/npy/{split}/targets.npy', y)
    with h5py.File(f'{out}/{split}.h5', 'w') as f:
        f['data'] = x
        f['targets'] = y
"""

WRITE_RANDOM = r"""
import os, sys, numpy as np
out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
os.makedirs(out, exist_ok=True)
x = np.lib.format.open_memmap(out + '/data.npy', mode='w+', dtype=np.uint8, shape=(n, 1, 28, 28))
for i in range(0, n, 65536):
    x[i:i + 65536] = rng.integers(0, 256, size=x[i:i + 65536].shape, dtype=np.uint8)
x.flush()
np.save(out + '/targets.npy', rng.integers(0, 10, size=n).astype(np.uint8))
"""


def run_measured(binary, workspace, recipe, sets):
    """kakuren run; returns (run id, peak RSS in MiB of the kakuren process)."""
    cmd = [binary, "run", str(recipe), "--quiet", "--format", "json", "--workspace", str(workspace)]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read()
    err = proc.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        raise SystemExit(f"kakuren failed ({code}): {' '.join(cmd)}\n{err}")
    import json
    return json.loads(out)["run_id"], usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(common.ROOT / "build"))
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of part 1")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rss-samples", type=int, default=100_000, help="N of the 1x set of part 4")
    ap.add_argument("--threads", type=int, default=1,
                    help="run.threads (intra-op) of every run; the reader threads come on top")
    ap.add_argument("--train-limit", type=int, default=0,
                    help="data.train_limit for parts 1 and 3 (0 = all 60,000)")
    ap.add_argument("--parts", default="1,3,4", help="which parts to run, e.g. 4")
    ap.add_argument("--reader-threads", default="",
                    help="part 1: also npy and hdf5 with these data.reader_threads, e.g. 0,1 "
                         "(0 = read in the step's thread); the plain rows use the default (2)")
    ap.add_argument("--out", default=str(common.ROOT / "bench" / "out" / "streaming.json"))
    args = ap.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    binary = common.kakuren_bin(args.build)
    recipe = common.ROOT / "recipes" / "fashion_mnist_cnn.toml"
    work = Path(tempfile.mkdtemp(prefix="kakuren-bench-stream-"))
    data = work / "data"
    subprocess.run([PY, "-c", WRITE_FASHION, str(data)], check=True)
    ws = work / "ws"
    sched = ["schedule.milestones=[]", "schedule.warmup_epochs=0",
             f"data.train_limit={args.train_limit}"]
    base = [f"schedule.epochs={args.epochs}", "hiding.strategy=none", f"run.threads={args.threads}"] + sched
    formats = {
        "idx": [],
        "npy": ["data.dataset=npy", f"data.train={data}/npy/train", f"data.test={data}/npy/test"],
        "hdf5": ["data.dataset=hdf5", f"data.train={data}/train.h5", f"data.test={data}/test.h5"],
        # Grey PNG files in class folders (kakuren data convert --to images; files.lst keeps the
        # IDX order): decoding with libpng on top of the reads.
        "images": ["data.dataset=images", f"data.train={data}/images/train",
                   f"data.test={data}/images/test"],
    }
    subprocess.run([binary, "data", "convert", "--to", "images", str(data / "images")], check=True,
                   stdout=subprocess.DEVNULL)
    for t in [int(x) for x in args.reader_threads.split(",") if x != ""]:
        for name in ("npy", "hdf5"):
            formats[f"{name} t={t}"] = formats[name] + [f"data.reader_threads={t}"]

    # 1. Epoch time, warm cache (the files were just written; one untimed warm-up run each).
    times = {name: [] for name in formats}
    rss_of = {}
    rows1, part1 = [], {}
    for name, sets in formats.items() if 1 in parts else []:
        run_measured(binary, ws, recipe, ["schedule.epochs=1"] + base[1:] + sets)
    for _ in range(args.rounds if 1 in parts else 0):
        for name, sets in formats.items():
            run_id, rss = run_measured(binary, ws, recipe, base + sets)
            rss_of[name] = rss
            for e in common.show(binary, ws, run_id)["epochs"]:
                times[name].append(e["total_s"])
    idx_mean = sum(times["idx"]) / max(1, len(times["idx"]))
    for name, t in times.items() if 1 in parts else []:
        mean, spread = common.mean_spread(t)
        part1[name] = {"epoch_s": t, "mean_s": mean, "ratio_to_idx": mean / idx_mean}
        rows1.append([name, f"{mean:.2f} ± {spread:.2f}", f"{mean / idx_mean:.3f}", len(t)])
    if 1 in parts:
        print(f"\n## 1. Epoch time, page cache warm (train + eval, Fashion-MNIST, cnn, "
              f"train_limit {args.train_limit})\n")
        print(common.table(["source", "epoch s", "ratio to idx", "epochs"], rows1))
        print("\n(t=N: data.reader_threads = N; without: the default. Each round runs every "
              "source once, in this order.)")

    # 3. Bytes read against the realised hidden fraction.
    rows3, part3 = [], []
    for strategy in ("rotate", "kakurenbo") if 3 in parts else ():
        sets = [f"schedule.epochs={max(3, args.epochs)}", f"hiding.strategy={strategy}",
                "hiding.fraction=0.3", f"run.threads={args.threads}"] + sched + formats["npy"]
        run_id, _ = run_measured(binary, ws, recipe, sets)
        detail = common.show(binary, ws, run_id)
        n = detail["run"]["num_samples"]
        full = n * SAMPLE_BYTES
        for e in detail["epochs"]:
            f = e["realised_fraction"]
            expected_hidden = (1 - f) * full
            expected_read = (e["visible"] + e["refreshed"]) * SAMPLE_BYTES
            part3.append({"strategy": strategy, "epoch": e["epoch"], "realised_fraction": f,
                          "bytes_read": e["bytes_read"], "expected_1_minus_f": expected_hidden,
                          "expected_trained_plus_refreshed": expected_read,
                          "train_s": e["train_s"]})
            rows3.append([strategy, e["epoch"], f"{f:.3f}", f"{e['bytes_read']:,}",
                          f"{e['bytes_read'] / expected_hidden:.4f}",
                          f"{e['bytes_read'] / expected_read:.4f}", f"{e['train_s']:.2f}"])
    if 3 in parts:
        print("\n## 3. Bytes read per epoch (npy, Fashion-MNIST, hiding.fraction = 0.3)\n")
        print(common.table(["strategy", "epoch", "realised f", "bytes read", "/ ((1-f) x full)",
                            "/ ((visible+refreshed) x sample)", "train s"], rows3))

    # 4. Peak RSS against data set size (streamed npy) and the in-memory IDX run.
    rows4, part4 = [], []
    for scale in (1, 4) if 4 in parts else ():
        n = args.rss_samples * scale
        folder = work / f"random{scale}"
        subprocess.run([PY, "-c", WRITE_RANDOM, str(folder / "train"), str(n)], check=True)
        # A small MLP: the resident set is what is measured, not the model's speed.
        sets = ["schedule.epochs=1", "hiding.strategy=none", f"run.threads={args.threads}", "data.dataset=npy",
                f"data.train={folder}/train", f"data.test={data}/npy/test",
                "data.mean=0.5", "data.std=0.29", "model.kind=mlp", "model.hidden=[32]",
                "data.batch_size=512", "data.test_limit=1000",
                "schedule.milestones=[]", "schedule.warmup_epochs=0"]
        _, rss = run_measured(binary, ws, recipe, sets)
        size_mb = n * SAMPLE_BYTES / 2**20
        part4.append({"samples": n, "data_mib": size_mb, "peak_rss_mib": rss})
        rows4.append([f"npy random x{scale}", f"{n:,}", f"{size_mb:.0f}", f"{rss:.0f}",
                      f"{size_mb / rss:.2f}"])
    n_fm = args.train_limit or 60000
    if 1 in parts:
        rows4.append(["idx Fashion-MNIST (in memory; cnn)", f"{n_fm:,}",
                      f"{n_fm * SAMPLE_BYTES / 2**20:.0f}", f"{rss_of['idx']:.0f}", ""])
        rows4.append(["npy Fashion-MNIST (cnn)", f"{n_fm:,}",
                      f"{n_fm * SAMPLE_BYTES / 2**20:.0f}", f"{rss_of['npy']:.0f}", ""])
    if 4 in parts:
        print("\n## 4. Peak resident memory (ru_maxrss of kakuren run, 1 epoch; random sets: "
              "mlp)\n")
        print(common.table(["data", "samples", "data MiB", "peak RSS MiB", "data / RSS"], rows4))
        print(f"\nRSS ratio 4x / 1x: {part4[1]['peak_rss_mib'] / part4[0]['peak_rss_mib']:.3f}")

    common.write_json(args.out, {"machine": common.machine(), "epoch_time": part1,
                                 "bytes_read": part3, "peak_rss": part4,
                                 "rss_in_run_mib": rss_of})
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
