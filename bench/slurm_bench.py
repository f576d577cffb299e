#!/usr/bin/env python3
"""Slurm latencies of kakuren on a real local cluster (tests/slurm/cluster.sh, 2 nodes):

1. submit -> running: `kakuren submit` (libslurm) against `sbatch` of the same batch script,
   alternating; the time from the command's start until Slurm reports the job RUNNING.
2. requeue -> running: a running job gets the time-limit warning (SIGUSR1 to its batch shell);
   kakuren's ranks checkpoint and rank 0 requeues the job and asks for an immediate start. Time
   from the signal until the job runs again (restart count 1), against an external
   `scontrol requeue` + `scontrol update StartTime=now` of a job of the same recipe.
3. `kakuren status` over 1000 recorded runs (one job each), against `kakuren runs` (the plain
   listing), median of --repeat.

Needs root (it starts the cluster) and no other cluster of cluster.sh on the machine.
Prints a Markdown table and writes bench/out/slurm_bench.json.
"""
import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, kakuren_bin, table, write_json

RECIPE = """
[run]
name = "{name}"
threads = 1
[data]
dataset = "synthetic"
synthetic_train = {train}
synthetic_test = 256
synthetic_size = 12
[model]
kind = "mlp"
hidden = [64]
[schedule]
epochs = {epochs}
warmup_epochs = 0
milestones = []
[hiding]
strategy = "kakurenbo"
[checkpoint]
every_epochs = 1
[slurm]
signal_grace_s = 0
max_requeues = 5
"""


def sh(*cmd, env=None, check=True):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def job_state(job, env):
    out = sh("scontrol", "-o", "show", "job", str(job), env=env, check=False).stdout
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields.get("JobState", "GONE"), int(fields.get("Restarts", "0"))


def wait_running(job, env, restarts=0, timeout=60.0, poll=0.01):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        state, count = job_state(job, env)
        if state == "RUNNING" and count >= restarts:
            return time.perf_counter()
        time.sleep(poll)
    raise TimeoutError(f"job {job} not running (restart {restarts}) within {timeout} s")


def wait_gone_or_done(job, env, timeout=120.0):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        state, _ = job_state(job, env)
        if state in ("COMPLETED", "FAILED", "CANCELLED", "GONE", "TIMEOUT", "NODE_FAIL"):
            return
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--rounds", type=int, default=8, help="submissions per variant")
    parser.add_argument("--requeues", type=int, default=4, help="requeues per variant")
    parser.add_argument("--runs", type=int, default=1000, help="runs in the status workspace")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench/out/slurm_bench.json"))
    args = parser.parse_args()
    binary = kakuren_bin(args.build)

    tmp = Path(tempfile.mkdtemp(prefix="kakuren-slurm-bench-"))
    tmp.chmod(0o755)  # munged needs its socket folder's parents world-executable
    cluster = tmp / "cluster"
    ws = tmp / "ws"
    ws.mkdir()
    sh(str(ROOT / "tests/slurm/cluster.sh"), "start", str(cluster), "--nodes", "2")
    env = dict(os.environ, SLURM_CONF=str(cluster / "slurm.conf"), KAKUREN_WORKSPACE=str(ws),
               XDG_STATE_HOME=str(tmp / "state"))
    results = {}
    try:
        short = ws / "short.toml"
        short.write_text(RECIPE.format(name="short", train=512, epochs=1))
        # Warm-up: the first batch job after slurmctld starts waits for a scheduling pass.
        first = json.loads(sh(binary, "submit", str(short), "--backend", "slurm", "--format",
                              "json", env=env).stdout)["runs"][0]
        wait_gone_or_done(first["job_id"], env)

        # 1. submit -> running, alternating kakuren submit and sbatch of the same script. The
        # scheduler runs on a 1 s tick here (sched_interval=1), so where a submission falls in
        # that second decides most of the latency: a random pause before each one spreads them.
        lat = {"kakuren submit (libslurm)": [], "sbatch (same script)": []}
        command_s = []
        rng = random.Random(1)
        for _ in range(args.rounds):
            time.sleep(rng.uniform(0, 1))
            start = time.perf_counter()
            out = json.loads(sh(binary, "submit", str(short), "--backend", "slurm", "--format",
                                "json", env=env).stdout)["runs"][0]
            command_s.append(time.perf_counter() - start)
            lat["kakuren submit (libslurm)"].append(wait_running(out["job_id"], env) - start)
            wait_gone_or_done(out["job_id"], env)
            script = Path(out["script"])
            time.sleep(rng.uniform(0, 1))
            start = time.perf_counter()
            job = sh("sbatch", "--parsable", "--output=/dev/null", str(script),
                     env=env).stdout.strip()
            lat["sbatch (same script)"].append(wait_running(job, env) - start)
            sh("scancel", job, env=env, check=False)
            wait_gone_or_done(job, env)
        results["submit_to_running_s"] = lat
        results["submit_command_s"] = {"kakuren submit, the command alone": command_s}

        # 2. requeue -> running.
        long = ws / "long.toml"
        long.write_text(RECIPE.format(name="long", train=20000, epochs=400))
        failures = {}
        req = {"kakuren (warning signal -> checkpoint -> self-requeue)": [],
               "scontrol requeue + StartTime=now": []}
        for _ in range(args.requeues):
            out = json.loads(sh(binary, "submit", str(long), "--backend", "slurm", "--format",
                                "json", env=env).stdout)["runs"][0]
            job = out["job_id"]
            wait_running(job, env)
            time.sleep(2.0)  # inside training
            start = time.perf_counter()
            sh("scancel", "--batch", "--signal=USR1", job, env=env)
            try:
                req["kakuren (warning signal -> checkpoint -> self-requeue)"].append(
                    wait_running(job, env, restarts=1) - start)
            except TimeoutError as e:
                failures["kakuren self-requeue"] = failures.get("kakuren self-requeue", 0) + 1
                print(f"note: {e}")
            sh(binary, "cancel", out["run_id"], env=env)
            wait_gone_or_done(job, env)

            out = json.loads(sh(binary, "submit", str(long), "--backend", "slurm", "--format",
                                "json", env=env).stdout)["runs"][0]
            job = out["job_id"]
            wait_running(job, env)
            time.sleep(2.0)
            start = time.perf_counter()
            sh("scontrol", "requeue", job, env=env)
            while True:  # StartTime=now is refused until the old run has ended
                if sh("scontrol", "update", f"JobId={job}", "StartTime=now", env=env,
                      check=False).returncode == 0 and job_state(job, env)[0] in ("PENDING", "RUNNING"):
                    break
                time.sleep(0.05)
            try:
                req["scontrol requeue + StartTime=now"].append(
                    wait_running(job, env, restarts=1) - start)
            except TimeoutError as e:  # e.g. relaunched in the second it was killed: refused
                failures["scontrol requeue + StartTime=now"] = failures.get(
                    "scontrol requeue + StartTime=now", 0) + 1
                print(f"note: {e}")
            sh(binary, "cancel", out["run_id"], env=env)
            wait_gone_or_done(job, env)
        results["requeue_to_running_s"] = req
        results["requeue_failures"] = failures
    finally:
        sh(str(ROOT / "tests/slurm/cluster.sh"), "stop", str(cluster), check=False)

    # 3. kakuren status over many runs: copies of one recorded run, each with a completed job.
    status_ws = tmp / "status-ws"
    status_ws.mkdir()
    tiny = status_ws / "tiny.toml"
    tiny.write_text(RECIPE.format(name="tiny", train=512, epochs=3))
    senv = dict(env, KAKUREN_WORKSPACE=str(status_ws), SLURM_CONF=str(tmp / "none.conf"))
    run = json.loads(sh(binary, "run", str(tiny), "--quiet", "--format", "json", env=senv).stdout)
    db = sqlite3.connect(status_ws / "kakuren.db")
    cols = [r[1] for r in db.execute("PRAGMA table_info(runs)")]
    row = db.execute(f"SELECT {','.join(cols)} FROM runs").fetchone()
    epochs = db.execute("SELECT * FROM epochs").fetchall()
    with db:
        for i in range(1, args.runs):
            rid = f"{run['run_id']}-{i:05d}"
            values = [rid if c == "id" else v for c, v in zip(cols, row)]
            db.execute(f"INSERT INTO runs ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                       values)
            for e in epochs:
                db.execute(f"INSERT INTO epochs VALUES ({','.join('?' * len(e))})", (rid, *e[1:]))
            db.execute("INSERT INTO jobs (run_id, submission, backend, job_id, host, state, "
                       "submitted_at, ended_at, script) VALUES (?, 1, 'slurm', ?, 'vm', "
                       "'completed', '2026-11-26T00:00:00Z', '2026-11-26T00:01:00Z', 'job.sh')",
                       (rid, str(1000 + i)))
    db.close()
    timing = {}
    for label, cmd in (("kakuren status", ["status"]),
                       ("kakuren status --format json", ["status", "--format", "json"]),
                       ("kakuren runs (plain listing)", ["runs"])):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            sh(binary, *cmd, env=senv)
            times.append(time.perf_counter() - start)
        timing[label] = times
    results["status_1000_runs_s"] = timing

    rows = []
    goals = {"submit_to_running_s": "≤ 1 s median", "submit_command_s": "","requeue_to_running_s": "≤ 5 s",
             "status_1000_runs_s": "≤ 0.5 s"}
    for group, variants in results.items():
        if group == "requeue_failures":
            continue
        base = None
        for label, times in variants.items():
            med = statistics.median(times)
            base = base or med
            rows.append([group, label, len(times), f"{med:.3f}", f"{min(times):.3f}",
                         f"{max(times):.3f}", f"{med / base:.2f}", goals[group]])
    if results.get("requeue_failures"):
        print(f"requeues that did not run again within 60 s: {results['requeue_failures']}")
    print(table(["measure", "variant", "n", "median s", "min s", "max s", "× first", "goal"],
                rows))
    write_json(args.out, results)


if __name__ == "__main__":
    main()
