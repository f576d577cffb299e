#!/usr/bin/env python3
"""Cold page cache: the streaming loader's throughput against a raw sequential read (dd) of the
same files on the same disk with the same number of threads (goal >= 0.8 of raw).

Writes, with /usr/bin/python3's numpy and h5py, (a) per-sample .npy files of CosmoFlow's size
(4 x 128^3 int16, 16 MiB each, with files_data.lst / files_label.lst), (b) one big npy array of
smaller samples and (c) the same array as one HDF5 file. For each and for 1 and 2 threads: drop
the page cache (as root: sync; echo 3 > /proc/sys/vm/drop_caches), read the files with `dd` (the
files, or byte ranges of the one file, split between the threads), drop it again, read every
sample with build/bench/kakuren_bench_stream_read (the Prefetcher with that many reader threads,
the samples cast to float as in training). Prints a table, writes bench/out/stream_cold.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PY = "/usr/bin/python3"

WRITE = r"""
import os, sys, numpy as np, h5py
out, n_files, n_big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
os.makedirs(out + '/cosmo', exist_ok=True)
for i in range(n_files):
    np.save(f'{out}/cosmo/x{i:04d}.npy', rng.integers(0, 500, (4, 128, 128, 128), dtype=np.int16))
    np.save(f'{out}/cosmo/y{i:04d}.npy', rng.normal(size=4).astype(np.float32))
open(f'{out}/cosmo/files_data.lst', 'w').writelines(f'x{i:04d}.npy\n' for i in range(n_files))
open(f'{out}/cosmo/files_label.lst', 'w').writelines(f'y{i:04d}.npy\n' for i in range(n_files))
os.makedirs(out + '/big', exist_ok=True)
x = np.lib.format.open_memmap(out + '/big/data.npy', 'w+', np.int16, (n_big, 4, 64, 64, 64))
for i in range(0, n_big, 32):
    x[i:i + 32] = rng.integers(0, 500, x[i:i + 32].shape, dtype=np.int16)
x.flush()
y = rng.normal(size=(n_big, 4)).astype(np.float32)
np.save(out + '/big/targets.npy', y)
with h5py.File(out + '/big.h5', 'w') as f:
    d = f.create_dataset('data', x.shape, np.int16)
    for i in range(0, n_big, 32):
        d[i:i + 32] = x[i:i + 32]
    f['targets'] = y
"""


def drop_caches():
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def raw_read(files, threads):
    """dd of the files (or of equal byte ranges of a single file) by `threads` workers."""
    jobs = []
    if len(files) == 1:
        size = os.path.getsize(files[0])
        block = 1 << 20
        blocks = (size + block - 1) // block
        per = (blocks + threads - 1) // threads
        for t in range(threads):
            jobs.append([["dd", f"if={files[0]}", "of=/dev/null", f"bs={block}",
                          f"skip={t * per}", f"count={per}", "status=none"]])
    else:
        for t in range(threads):
            jobs.append([["dd", f"if={f}", "of=/dev/null", "bs=4M", "status=none"]
                         for f in files[t::threads]])
    total = sum(os.path.getsize(f) for f in files)

    def work(cmds):
        for c in cmds:
            subprocess.run(c, check=True)
    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(j,)) for j in jobs]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return total, time.perf_counter() - start


def loader_read(binary, fmt, path, threads, order):
    out = subprocess.run([binary, fmt, str(path), str(threads), "4", order],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    return r["bytes"], r["seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(common.ROOT / "build"))
    ap.add_argument("--files", type=int, default=48, help="per-sample files (16 MiB each)")
    ap.add_argument("--big", type=int, default=384, help="samples of the big file (2 MiB each)")
    ap.add_argument("--out", default=str(common.ROOT / "bench" / "out" / "stream_cold.json"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("stream_cold.py drops the page cache: run it as root")
    binary = str(Path(args.build) / "bench" / "kakuren_bench_stream_read")
    work = Path(tempfile.mkdtemp(prefix="kakuren-bench-cold-", dir="/var/tmp"))
    subprocess.run([PY, "-c", WRITE, str(work), str(args.files), str(args.big)], check=True)
    cosmo = sorted(str(p) for p in (work / "cosmo").glob("*.npy"))
    big_npy = [str(work / "big" / "data.npy")]  # targets.npy is 16 bytes a sample
    cases = [
        ("npy per-sample files (CosmoFlow size)", "npy", work / "cosmo", cosmo, "seq"),
        ("npy one array", "npy", work / "big", big_npy, "seq"),
        ("npy one array, shuffled order", "npy", work / "big", big_npy, "shuffled"),
        ("hdf5 one file", "hdf5", work / "big.h5", [str(work / "big.h5")], "seq"),
    ]
    rows, results = [], []
    for name, fmt, path, files, order in cases:
        for threads in (1, 2):
            drop_caches()
            raw_bytes, raw_s = raw_read(files, threads)
            drop_caches()
            got_bytes, got_s = loader_read(binary, fmt, path, threads, order)
            raw_mbs = raw_bytes / raw_s / 1e6
            got_mbs = got_bytes / got_s / 1e6
            results.append({"case": name, "threads": threads, "raw_bytes": raw_bytes,
                            "raw_s": raw_s, "loader_bytes": got_bytes, "loader_s": got_s,
                            "ratio": got_mbs / raw_mbs})
            rows.append([name, threads, f"{raw_mbs:.0f}", f"{got_mbs:.0f}",
                         f"{got_mbs / raw_mbs:.2f}"])
    print("\n## 2. Cold page cache: loader against dd, same files, same threads\n")
    print(common.table(["data", "threads", "dd MB/s", "loader MB/s", "ratio"], rows))
    common.write_json(args.out, {"machine": common.machine(), "results": results})
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
