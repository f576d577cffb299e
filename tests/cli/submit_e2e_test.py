#!/usr/bin/env python3
"""kakuren submit / status / logs / cancel / resume end to end: the real binary against a real
Slurm cluster (tests/slurm/cluster.sh, started by the ctest fixture slurm_cluster) and against
the local backend. Each test uses its own workspace and user state folder.

Usage: submit_e2e_test.py KAKUREN_BIN CLUSTER_DIR TestCase.test_name
       submit_e2e_test.py --list    one "LABEL TestCase.test_name" line per test (CMake reads
                                    it: tests/cli/CMakeLists.txt adds one ctest test each)
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

KAKUREN = ""
CLUSTER = ""
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TINY = """
[run]
name = "{name}"
seed = 1
threads = 1

[data]
dataset = "synthetic"
synthetic_train = {train}
synthetic_test = 512
synthetic_size = 12
synthetic_noise = 4.0
batch_size = 128

[model]
kind = "mlp"
hidden = {hidden}

[schedule]
epochs = {epochs}
warmup_epochs = 0
milestones = [{milestone}]

[hiding]
strategy = "kakurenbo"
fraction = 0.3

[checkpoint]
every_epochs = 1
keep_last = 2

[launcher]
collective_timeout_s = {timeout}

[slurm]
nodes = {nodes}
ntasks_per_node = {tasks}
cpus_per_task = 1
signal_grace_s = {grace}
max_requeues = {requeues}
{extra}
"""


def tiny(name="tiny", epochs=4, nodes=1, tasks=1, timeout=60, grace=0, requeues=3, extra="",
         train=2048, hidden="[64]"):
    return TINY.format(name=name, epochs=epochs, train=train, hidden=hidden, milestone=max(1, epochs - 1) if epochs > 1 else "", nodes=nodes,
                       tasks=tasks, timeout=timeout, grace=grace, requeues=requeues, extra=extra)


class Workspace:
    """A temporary workspace, and a user state folder of its own (remembered workspaces)."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="kakuren-submit-")
        self.state = os.path.join(self.root, ".state")
        self.env = dict(os.environ)
        self.env["XDG_STATE_HOME"] = self.state
        self.env["KAKUREN_WORKSPACE"] = self.root
        if CLUSTER:
            self.env["SLURM_CONF"] = os.path.join(CLUSTER, "slurm.conf")

    def recipe(self, text, name="recipe.toml"):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def kakuren(self, *args, check=True, cwd=None, env=None, timeout=120):
        p = subprocess.run([KAKUREN, *args], cwd=cwd or self.root, env=env or self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kakuren {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def json(self, *args, **kw):
        return json.loads(self.kakuren(*args, "--format", "json", **kw).stdout)

    def status(self, run):
        return self.json("status", run)

    def wait(self, run, states, timeout=120, what=None):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.status(run)
            if last["state"] in states and (what is None or what(last)):
                return last
            time.sleep(0.5)
        raise AssertionError(f"run {run} did not reach {states} in {timeout} s; last status:\n"
                             + json.dumps(last, indent=1) + "\n" + self.all_logs(run))

    def all_logs(self, run):
        out = ""
        logs = os.path.join(self.root, "runs", run, "logs")
        if os.path.isdir(logs):
            for name in sorted(os.listdir(logs)):
                with open(os.path.join(logs, name), errors="replace") as f:
                    out += f"--- {name}\n{f.read()[-3000:]}\n"
        return out

    def db(self):
        return sqlite3.connect(os.path.join(self.root, "kakuren.db"))

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def epoch_digests(log_text):
    """epoch -> hidden-set digest, from a rank's epoch lines."""
    return {int(m.group(1)): m.group(2)
            for m in re.finditer(r"epoch (\d+)/\d+ .*hidden set ([0-9a-f]{8})", log_text)}


def cluster(*args):
    p = subprocess.run([os.path.join(SOURCE, "tests/slurm/cluster.sh"), *args],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"cluster.sh {' '.join(args)} exited {p.returncode}:\n"
                             f"{p.stdout}\n{p.stderr}")


def restart_killed(status):
    """Whether the run's Slurm job, requeued once, ended for good (its restart failed)."""
    job = status["jobs"][-1]
    return job["state"] == "failed" and job["requeues"] >= 1 and \
        all(a["state"] != "running" for a in status["attempts"])


class SlurmSubmit(unittest.TestCase):
    LABEL = "slurm"  # a real cluster; one at a time (a node cut off must not hit another job)

    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.cleanup()

    def submit(self, recipe_text, *extra):
        out = self.ws.json("submit", self.ws.recipe(recipe_text), "--backend", "slurm", *extra)
        self.assertEqual(out["backend"], "slurm")
        return out["runs"]

    def test_tiny_job_completes_with_its_records(self):
        runs = self.submit(tiny())
        run, job = runs[0]["run_id"], runs[0]["job_id"]
        self.assertTrue(job.isdigit(), job)
        # The run is completed once rank 0 records its end, its job a moment later (when rank 0
        # records that): wait for both, not for the first only (issue 23, #19).
        final = self.ws.wait(run, {"completed", "failed", "crashed"},
                             what=lambda s: s["state"] != "completed" or
                             s["jobs"][0]["state"] not in ("pending", "running"))
        self.assertEqual(final["state"], "completed", json.dumps(final, indent=1))
        self.assertEqual(final["epochs_done"], 4)
        self.assertEqual([a["state"] for a in final["attempts"]], ["completed"])
        self.assertEqual(final["attempts"][0]["job_id"], job)
        self.assertEqual(final["jobs"][0]["state"], "completed")
        with self.ws.db() as db:
            self.assertEqual(db.execute("SELECT COUNT(*) FROM epochs WHERE run_id=?",
                                        (run,)).fetchone()[0], 4)
            self.assertEqual(db.execute("SELECT COUNT(*) FROM hidden_sets WHERE run_id=?",
                                        (run,)).fetchone()[0], 4)
        with open(os.path.join(self.ws.root, "runs", run, "mllog.txt")) as f:
            mllog = f.read()
        self.assertIn('"key": "run_stop"', mllog.replace('"key":"', '"key": "'))
        self.assertIn("job.sh", final["jobs"][0]["script"])
        # The log, from another folder and without --workspace: the run is found by its id.
        env = dict(self.ws.env)
        del env["KAKUREN_WORKSPACE"]
        logs = self.ws.kakuren("logs", run, cwd="/", env=env).stdout
        self.assertRegex(logs, r"epoch 4/4 ")
        status = self.ws.kakuren("status", cwd="/", env=env, check=False)
        self.assertEqual(status.returncode, 0)  # (lists the current folder's runs: none)

    def test_two_nodes_agree_on_hidden_sets_and_follow_the_one_rank_curve(self):
        text = tiny(name="two", epochs=4, nodes=2, tasks=1)
        run = self.submit(text)[0]["run_id"]
        final = self.ws.wait(run, {"completed", "failed", "crashed"}, timeout=180)
        self.assertEqual(final["state"], "completed", self.ws.all_logs(run))
        attempt = final["attempts"][0]
        self.assertEqual(attempt["where"], "n1,n2 (2 ranks)")
        logs = os.path.join(self.ws.root, "runs", run, "logs")
        with open(os.path.join(logs, "rank-0.log")) as f:
            rank0 = epoch_digests(f.read())
        with open(os.path.join(logs, "rank-1.log")) as f:
            rank1 = epoch_digests(f.read())
        self.assertEqual(sorted(rank0), [1, 2, 3, 4])
        self.assertEqual(rank0, rank1)
        # The same recipe on one rank, in the foreground.
        one = self.ws.json("run", self.ws.recipe(text, "one.toml"), "--quiet")
        two = self.ws.json("show", run)
        acc1 = [e["test_accuracy"] for e in self.ws.json("show", one["run_id"])["epochs"]]
        acc2 = [e["test_accuracy"] for e in two["epochs"]]
        for a, b in zip(acc1, acc2):
            self.assertLess(abs(a - b), 0.05, (acc1, acc2))
        with open(os.path.join(self.ws.root, "runs", run, "mllog.txt")) as f:
            mllog = f.read()
        self.assertRegex(mllog, r'"key": ?"number_of_ranks", ?"value": ?2')
        self.assertRegex(mllog, r'"key": ?"number_of_nodes", ?"value": ?2')

    def test_node_local_staging_copies_the_data_once_and_logs_it(self):
        text = tiny(name="stage", epochs=1, nodes=2).replace(
            'dataset = "synthetic"', 'dataset = "fashion-mnist"\nstage = "node-local"\n'
            'train_limit = 2048\ntest_limit = 512').replace("synthetic_size = 12", "")
        run = self.submit(text)[0]["run_id"]
        final = self.ws.wait(run, {"completed", "failed", "crashed"}, timeout=180)
        self.assertEqual(final["state"], "completed", self.ws.all_logs(run))
        logs = os.path.join(self.ws.root, "runs", run, "logs")
        staged = []
        for rank in (0, 1):
            with open(os.path.join(logs, f"rank-{rank}.log")) as f:
                m = re.search(r"data staged in (\S+) \((\d+) bytes, (copied|found there)", f.read())
            self.assertIsNotNone(m, self.ws.all_logs(run))
            staged.append(m)
        # Both "nodes" share /dev/shm here: one copies, the other finds the copy (or both copy
        # into their own temporary folder and one rename wins).
        self.assertEqual(staged[0].group(1), staged[1].group(1))
        self.assertTrue(os.path.isdir(staged[0].group(1)))
        self.assertGreater(int(staged[0].group(2)), 1_000_000)  # the four gz files
        with open(os.path.join(self.ws.root, "runs", run, "mllog.txt")) as f:
            mllog = f.read()
        self.assertRegex(mllog, r'"key": ?"staging_start"')
        self.assertRegex(mllog, r'"key": ?"staging_stop".*"staged_bytes": ?\d+')
        shutil.rmtree(staged[0].group(1), ignore_errors=True)

    def test_sweep_is_one_array_and_one_group(self):
        out = self.ws.json("submit", self.ws.recipe(tiny(name="sw", epochs=2)), "--backend",
                           "slurm", "--sweep", "run.seed=1,2,3")
        runs = out["runs"]
        self.assertEqual(len(runs), 3)
        arrays = {r["job_id"].split("_")[0] for r in runs}
        self.assertEqual(len(arrays), 1, runs)
        self.assertEqual(sorted(r["job_id"].split("_")[1] for r in runs), ["0", "1", "2"])
        self.assertEqual([r["sweep_values"] for r in runs],
                         [["run.seed=1"], ["run.seed=2"], ["run.seed=3"]])
        for r in runs:
            self.assertEqual(self.ws.wait(r["run_id"], {"completed", "failed"}, 180)["state"],
                             "completed")
        with self.ws.db() as db:
            sweeps = {row[0] for row in db.execute("SELECT sweep FROM runs")}
            seeds = sorted(row[0] for row in db.execute("SELECT seed FROM runs"))
        self.assertEqual(len(sweeps), 1)
        self.assertEqual(seeds, [1, 2, 3])
        report = self.ws.json("report", "--name", out["sweep"])
        self.assertEqual(len(report["runs"]), 3)

    def test_setup_lines_thread_fill_and_array_throttle(self):
        # run.threads = 0 and no cpus_per_task: each rank fills the CPUs the job got on its node;
        # slurm.setup runs in the job before the ranks; array_parallel = 1 runs one task at a time.
        text = tiny(name="cu", epochs=2, extra="array_parallel = 1\nsetup = "
                    "['echo \"$SLURM_CPUS_ON_NODE\" > \"$run_dir/cpus-on-node\"']")
        text = text.replace("threads = 1", "threads = 0").replace("cpus_per_task = 1", "")
        out = self.ws.json("submit", self.ws.recipe(text), "--backend", "slurm",
                           "--sweep", "run.seed=1,2")
        runs = [r["run_id"] for r in out["runs"]]
        for run in runs:
            self.assertEqual(self.ws.wait(run, {"completed", "failed"}, 180)["state"],
                             "completed", self.ws.all_logs(run))
        with self.ws.db() as db:
            spans = {row[0]: (row[1], row[2]) for row in
                     db.execute("SELECT id, started_at, ended_at FROM runs")}
        first, second = sorted(spans.values())
        self.assertLessEqual(first[1], second[0], f"the array tasks overlapped: {spans}")
        for run in runs:
            with open(os.path.join(self.ws.root, "runs", run, "cpus-on-node")) as f:
                cpus = int(f.read())
            self.assertIn(f": {cpus} intra-op threads", self.ws.all_logs(run))
        with open(os.path.join(self.ws.root, "sweeps", out["sweep"], "job.sh")) as f:
            script = f.read()
        self.assertIn("#SBATCH --array=0-1%1\n", script)
        self.assertNotIn("--cpus-per-task", script)

    def test_cancel_then_resume_continues_the_same_run(self):
        run = self.submit(tiny(name="cancel", epochs=30, train=30000))[0]["run_id"]
        self.ws.wait(run, {"running"}, what=lambda s: s["epochs_done"] >= 2)
        out = self.ws.json("cancel", run)
        self.assertEqual(out["state"], "cancelled")
        st = self.ws.wait(run, {"cancelled"}, what=lambda s: s["attempts"] and
                          s["attempts"][-1]["state"] != "running")
        self.assertEqual(st["jobs"][0]["state"], "cancelled")
        self.assertIn("cancelled by kakuren cancel", st["jobs"][0]["reason"])
        done_before = st["epochs_done"]
        self.assertLess(done_before, 30)
        self.ws.kakuren("resume", run)
        final = self.ws.wait(run, {"completed", "failed", "crashed"}, timeout=180)
        self.assertEqual(final["state"], "completed", self.ws.all_logs(run))
        self.assertEqual(len(final["jobs"]), 2)
        self.assertEqual([a["state"] for a in final["attempts"]][-1], "completed")
        self.assertEqual(final["epochs_done"], 30)
        with open(os.path.join(self.ws.root, "runs", run, "train.log")) as f:
            self.assertRegex(f.read(), r"resume: attempt 2 continues from checkpoint 00")
        again = self.ws.json("cancel", run)
        self.assertEqual(again["state"], "completed")  # nothing left to cancel

    def test_a_job_id_now_naming_another_workspaces_job_is_not_this_runs_job(self):
        # Issue 23 #18: a controller whose state was wiped numbers jobs from 1 again, and a run
        # whose job id now names another workspace's job read that job as its own (and `cancel`
        # would have cancelled it). Here the reuse is made by hand: this run's job record is
        # pointed at the other workspace's running job.
        other = Workspace()
        jobs = []
        try:
            theirs = other.json("submit", other.recipe(tiny(name="theirs", epochs=30,
                                                            train=30000)),
                                "--backend", "slurm")["runs"][0]
            jobs.append(theirs["job_id"])
            other.wait(theirs["run_id"], {"running"})
            show = subprocess.run(["scontrol", "show", "job", theirs["job_id"]], env=other.env,
                                  capture_output=True, text=True)
            self.assertIn("Comment=kakuren-run=" + theirs["run_id"], show.stdout)
            # Pending until theirs ends (it never starts: both are cancelled at the end).
            mine = self.submit(tiny(name="mine", epochs=2, extra='extra = "--dependency=afterok:'
                                    + theirs["job_id"] + '"'))[0]
            jobs.append(mine["job_id"])
            with self.ws.db() as db:
                db.execute("UPDATE jobs SET job_id=? WHERE run_id=?",
                           (theirs["job_id"], mine["run_id"]))
            st = self.ws.status(mine["run_id"])
            self.assertEqual(st["state"], "failed", json.dumps(st, indent=1))
            self.assertIn("Slurm gives its id to another job now", st["jobs"][0]["reason"])
            out = self.ws.json("cancel", mine["run_id"])
            self.assertFalse(out["cancelled"], out)
            self.assertEqual(other.status(theirs["run_id"])["state"], "running",
                             "the other workspace's job was not touched")
        finally:
            for job in jobs:
                subprocess.run(["scancel", job], env=self.ws.env)
            for job in jobs:  # gone before the next test uses the node
                deadline = time.time() + 60
                while time.time() < deadline and subprocess.run(
                        ["squeue", "-h", "-j", job], env=self.ws.env, capture_output=True,
                        text=True).stdout.strip():
                    time.sleep(0.5)
            other.cleanup()

    def test_time_limit_warning_checkpoints_requeues_and_completes_as_one_run(self):
        # A 1-minute limit and a warning 55 s before it: slurmctld checks limits every ~30 s,
        # so each start trains 5-35 s, gets SIGUSR1, checkpoints and requeues itself, until the
        # run (about 70 s of training) is done.
        # On a busy machine each start trains less, so there are more starts: the requeue limit
        # and the deadline are far above what it needs (a deadline catches a hang, it does not
        # time the run).
        text = tiny(name="limit", epochs=50, train=60000, hidden="[512, 512]", grace=55, requeues=100,
                    extra='time = "1"')
        run = self.submit(text)[0]["run_id"]
        final = self.ws.wait(run, {"completed", "failed", "crashed"}, timeout=1500,
                             what=lambda s: s["state"] != "running")
        self.assertEqual(final["state"], "completed", self.ws.all_logs(run))
        job = final["jobs"][0]
        self.assertGreaterEqual(job["requeues"], 1, json.dumps(final, indent=1))
        states = [a["state"] for a in final["attempts"]]
        self.assertEqual(states[-1], "completed")
        self.assertIn("requeued", states)
        self.assertEqual({a["job_id"] for a in final["attempts"]}, {job["job_id"]})
        self.assertEqual(final["epochs_done"], 50)
        with self.ws.db() as db:
            epochs = [r[0] for r in db.execute(
                "SELECT epoch FROM epochs WHERE run_id=? ORDER BY epoch", (run,))]
        self.assertEqual(epochs, list(range(1, 51)))
        with open(os.path.join(self.ws.root, "runs", run, "mllog.txt")) as f:
            mllog = f.read()
        self.assertEqual(mllog.count('"run_start"'), 1)
        self.assertGreaterEqual(mllog.count('"resume"'), 1)
        check = self.ws.json("report", run)
        self.assertEqual(check["runs"][0]["mllog"]["problems"], [], check["runs"][0]["mllog"])
        self.assertTrue(check["runs"][0]["mllog"]["ok"])

    def test_preemption_checkpoints_requeues_and_the_run_goes_on(self):
        # Both nodes, whole: a job of the higher-tier partition "urgent" must preempt it.
        text = tiny(name="preempt", epochs=80, nodes=2, train=20000, extra='extra = "--exclusive"')
        run = self.submit(text)[0]["run_id"]
        self.ws.wait(run, {"running"}, timeout=120, what=lambda s: s["epochs_done"] >= 2)
        urgent = subprocess.run(["sbatch", "--parsable", "-p", "urgent", "-N2", "--exclusive",
                                 "-o", "/dev/null", "--wrap", "sleep 2"], env=self.ws.env,
                                capture_output=True, text=True, check=True).stdout.strip()
        st = self.ws.wait(run, {"requeued", "pending"}, timeout=120,
                          what=lambda s: s["attempts"][-1]["state"] != "running")
        self.assertNotIn(st["state"], ("completed", "failed"))
        first = st["attempts"][0]
        self.assertIn(first["state"], ("requeued", "crashed"), json.dumps(st, indent=1))
        self.assertTrue(os.path.isdir(os.path.join(self.ws.root, "runs", run, "checkpoints")))
        subprocess.run(["scontrol", "show", "job", urgent], env=self.ws.env, capture_output=True)
        self.ws.kakuren("resume", run)  # asks Slurm to start it now instead of in 120 s
        final = self.ws.wait(run, {"completed", "failed", "crashed"}, timeout=300,
                             what=lambda s: s["state"] != "running")
        self.assertEqual(final["state"], "completed", json.dumps(final, indent=1))
        self.assertGreaterEqual(len(final["attempts"]), 2)
        print(json.dumps({"attempts": final["attempts"], "jobs": final["jobs"]}, indent=1))
        self.assertEqual(len(final["jobs"]), 1)  # the same job, requeued: not a new run
        with self.ws.db() as db:
            epochs = [r[0] for r in db.execute(
                "SELECT epoch FROM epochs WHERE run_id=? ORDER BY epoch", (run,))]
        self.assertEqual(epochs, list(range(1, 81)))
        with open(os.path.join(self.ws.root, "runs", run, "mllog.txt")) as f:
            mllog = f.read()
        self.assertEqual(mllog.count('"run_start"'), 1)
        self.assertGreaterEqual(mllog.count('"resume"'), 1)

    def test_node_cut_off_fails_clearly_and_resumes_from_the_last_checkpoint(self):
        text = tiny(name="cut", epochs=60, nodes=2, timeout=10, train=20000)
        run = self.submit(text)[0]["run_id"]
        self.ws.wait(run, {"running"}, timeout=120, what=lambda s: s["epochs_done"] >= 2)
        cluster("cut", CLUSTER, "n2")
        try:
            # The ranks record the failure (collective timeout); Slurm declares the node down
            # and requeues the job. Wait for both: before the requeue the job still runs in
            # Slurm, and resume refuses a job that is still running its first start.
            failed = self.ws.wait(run, {"failed", "crashed", "requeued", "pending", "running"},
                                  timeout=600,
                                  what=lambda s: s["attempts"][0]["state"] != "running" and
                                  s["jobs"][-1]["requeues"] >= 1)
        finally:
            cluster("heal", CLUSTER, "n2")
        reason = (failed["jobs"][-1]["reason"] or "") + " " + \
            " ".join(a["reason"] or "" for a in failed["attempts"])
        self.assertRegex(reason, r"(?i)communication|NODE_FAIL|node", json.dumps(failed, indent=1))
        print(json.dumps({"attempts": failed["attempts"], "jobs": failed["jobs"]}, indent=1))
        done = failed["epochs_done"]
        job = failed["jobs"][-1]["job_id"]
        # Not a second job beside the one Slurm requeued: resume asks Slurm to start that one
        # now, or, when Slurm has already started it again, says so; both exit 0.
        out = self.ws.kakuren("resume", run).stdout
        self.assertRegex(out, rf"is waiting as Slurm job {job} .*asked Slurm to start it now|"
                              rf"is already running again as Slurm job {job} ")
        # Slurm starts the requeued job once the healed node has registered again, which on a
        # loaded machine can take minutes: the deadline is a hang guard, not a speed check.
        st = self.ws.wait(run, {"running", "failed"}, timeout=600,
                          what=lambda s: s["epochs_done"] > done if s["state"] == "running"
                          else restart_killed(s))
        jobs = 1
        if st["state"] == "failed":
            # Slurm's own restart was killed as it began: a terminate message for the first run,
            # held while the node was cut off, reached the healed node after the restart's launch
            # (slurmd: "[1.0] done with job" 60 ms after the launch; the job FAILED, exit 143).
            # kakuren shows the run failed with Slurm's reason, and resume goes on from the last
            # checkpoint in a new job: the path a user takes.
            print("Slurm killed the restart of the requeued job:", st["jobs"][-1]["reason"])
            out = self.ws.kakuren("resume", run).stdout
            self.assertRegex(out, r"resubmitted as|is waiting as Slurm job|is already running again")
            jobs = 2 if "resubmitted as" in out else 1
            st = self.ws.wait(run, {"running"}, timeout=600,
                              what=lambda s: s["epochs_done"] > done)
        job = st["jobs"][-1]["job_id"]
        # Now it certainly runs again: a second resume is not an error either.
        again = self.ws.json("resume", run)
        self.assertEqual((again["job_id"], again["running"], again["resumed"]), (job, True, False),
                         again)
        self.assertEqual(len(self.ws.status(run)["jobs"]), jobs)
        with open(os.path.join(self.ws.root, "runs", run, "train.log")) as f:
            self.assertRegex(f.read(), r"resume: attempt \d+ continues from checkpoint 00")
        # One attempt runs once the job has started again, never two. Slurm may requeue the job
        # once more while the healed node registers (that attempt ends before the next begins),
        # so this waits for the running attempt instead of reading the table once.
        counts = []

        def one_running(_):
            with self.ws.db() as db:
                counts.append(db.execute("SELECT COUNT(*) FROM attempts WHERE run_id=? AND "
                                         "status='running'", (run,)).fetchone()[0])
            return counts[-1] == 1

        self.ws.wait(run, {"running"}, timeout=600, what=one_running)
        self.assertLessEqual(max(counts), 1, counts)
        self.ws.kakuren("cancel", run)
        st = self.ws.wait(run, {"cancelled"}, timeout=60,
                          what=lambda s: s["attempts"][-1]["state"] != "running")
        ids = ",".join(j["job_id"] for j in st["jobs"])
        out = subprocess.run(["squeue", "-h", "-j", ids, "-t", "PENDING,RUNNING,SUSPENDED",
                              "-o", "%i %T"], env=self.ws.env, capture_output=True,
                             text=True).stdout
        self.assertEqual(out.strip(), "", "a job of the run is still queued: " + out)


    def test_a_requeued_jobs_failed_restart_is_resubmitted_by_resume(self):
        # What Slurm now and then does after a node failure (the node cut-off test meets it): it
        # restarts the requeued job, the restart's step is killed as it begins, and the job ends
        # FAILED. Here the restart's step is killed on purpose (scancel of the step).
        run = self.submit(tiny(name="restart", epochs=60, train=20000))[0]["run_id"]
        self.ws.wait(run, {"running"}, timeout=120, what=lambda s: s["epochs_done"] >= 2)
        job = self.ws.status(run)["jobs"][-1]["job_id"]
        subprocess.run(["scontrol", "requeue", job], env=self.ws.env, check=True)
        self.ws.wait(run, {"requeued", "pending"}, timeout=120,
                     what=lambda s: all(a["state"] != "running" for a in s["attempts"]))
        self.ws.kakuren("resume", run)  # asks Slurm to start it now instead of in 120 s
        restarted = self.ws.wait(run, {"running"}, timeout=300,
                                 what=lambda s: len(s["attempts"]) >= 2 and
                                 s["attempts"][-1]["state"] == "running")
        subprocess.run(["scancel", job + ".0"], env=self.ws.env, check=True)
        failed = self.ws.wait(run, {"failed"}, timeout=120, what=restart_killed)
        self.assertRegex(failed["jobs"][-1]["reason"], rf"Slurm job {job} (failed|ended)",
                         json.dumps(failed, indent=1))
        self.assertEqual(len(failed["jobs"]), 1)
        done = failed["epochs_done"]
        self.assertGreaterEqual(done, restarted["epochs_done"])
        out = self.ws.kakuren("resume", run).stdout
        self.assertRegex(out, r"resubmitted as Slurm job")
        st = self.ws.wait(run, {"running", "completed"}, timeout=300,
                          what=lambda s: s["epochs_done"] > done)
        self.assertEqual(len(st["jobs"]), 2, json.dumps(st, indent=1))
        with open(os.path.join(self.ws.root, "runs", run, "train.log")) as f:
            log = f.read()
        last = st["attempts"][-1]["attempt"]
        self.assertRegex(log, rf"resume: attempt {last} continues from checkpoint 00")
        self.ws.kakuren("cancel", run, check=False)


class SlurmUnavailable(unittest.TestCase):
    LABEL = "slurm"

    def setUp(self):
        self.ws = Workspace()
        self.recipe = self.ws.recipe(tiny())

    def tearDown(self):
        self.ws.cleanup()

    def test_controller_down_is_a_clear_error_and_records_nothing(self):
        conf = os.path.join(self.ws.root, "slurm.conf")
        # A port that this test holds bound but not listening: connections to it are refused,
        # and nothing else can take it meanwhile.
        with open(os.path.join(CLUSTER, "slurm.conf")) as f:
            text = f.read()
        address = re.search(r"(?m)^SlurmctldHost=[^(\s]*\(([^)]+)\)", text).group(1)
        closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(closed.close)
        closed.bind((address, 0))
        port = closed.getsockname()[1]
        text = re.sub(r"(?m)^SlurmctldPort=.*$", f"SlurmctldPort={port}", text)
        with open(conf, "w") as f:
            f.write(text)
        env = dict(self.ws.env, SLURM_CONF=conf)
        # (How fast it gives up is bench material; a hang fails on the subprocess timeout.)
        p = self.ws.kakuren("submit", self.recipe, "--backend", "slurm", check=False, env=env,
                            timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, r"not reachable")
        self.assertFalse(os.path.exists(os.path.join(self.ws.root, "runs")))
        # auto falls back to the local backend, and says so.
        dry = self.ws.kakuren("submit", self.recipe, "--dry-run", env=env).stdout
        self.assertIn("backend: local (auto: no reachable Slurm controller)", dry)

    def test_no_slurm_configuration_is_a_clear_error(self):
        env = dict(self.ws.env, SLURM_CONF=os.path.join(self.ws.root, "missing.conf"))
        p = self.ws.kakuren("submit", self.recipe, "--backend", "slurm", check=False, env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("missing.conf", p.stderr)


class LocalSubmit(unittest.TestCase):
    LABEL = "e2e"

    def setUp(self):
        self.ws = Workspace()
        self.ws.env["SLURM_CONF"] = os.path.join(self.ws.root, "no-slurm-here.conf")

    def tearDown(self):
        self.ws.cleanup()

    def test_two_local_ranks_complete_detached(self):
        out = self.ws.json("submit", self.ws.recipe(tiny(name="loc", tasks=2)))
        self.assertEqual(out["backend"], "local")
        run = out["runs"][0]["run_id"]
        final = self.ws.wait(run, {"completed", "failed", "crashed"})
        self.assertEqual(final["state"], "completed", self.ws.all_logs(run))
        self.assertEqual(final["attempts"][0]["where"].endswith("(2 ranks)"), True)
        logs = os.path.join(self.ws.root, "runs", run, "logs")
        with open(os.path.join(logs, "rank-0.log")) as f:
            r0 = epoch_digests(f.read())
        with open(os.path.join(logs, "rank-1.log")) as f:
            r1 = epoch_digests(f.read())
        self.assertEqual(sorted(r0), [1, 2, 3, 4])
        self.assertEqual(r0, r1)
        self.assertRegex(self.ws.kakuren("logs", run, "--rank", "1").stdout, r"epoch 4/4")
        # Communication: each rank's log ends with its step all-reduces (gradient buckets during
        # backward); every epoch records the wait not hidden behind computation (show, MLPerf).
        with open(os.path.join(logs, "rank-0.log")) as f:
            self.assertRegex(f.read(), r"rank 0: \d+ steps of 1 gradient bucket\(s\) .* hidden behind "
                                       r"the backward pass")
        epochs = self.ws.json("show", run)["epochs"]
        self.assertEqual(len(epochs), 4)
        for e in epochs:
            self.assertGreater(e["comm_s"], 0.0, e)
            self.assertLess(e["comm_s"], e["total_s"], e)
        self.assertIn("COMM s", self.ws.kakuren("show", run).stdout)
        with open(os.path.join(self.ws.root, "runs", run, "mllog.txt")) as f:
            self.assertEqual(f.read().count('"key": "communication_time_s"'), 4)
        listed = {r["id"]: r for r in self.ws.json("runs")}
        self.assertEqual(listed[run]["state"], "completed")
        self.assertEqual(listed[run]["status"], "finished")

    def test_cancel_stops_at_a_checkpoint_and_resume_finishes(self):
        out = self.ws.json("submit", self.ws.recipe(tiny(name="lc", epochs=30, train=30000)))
        run = out["runs"][0]["run_id"]
        self.ws.wait(run, {"running"}, what=lambda s: s["epochs_done"] >= 1)
        self.ws.kakuren("cancel", run)
        st = self.ws.wait(run, {"cancelled"}, what=lambda s: s["attempts"][-1]["state"] != "running")
        self.assertEqual(st["attempts"][-1]["state"], "cancelled")
        self.ws.kakuren("resume", run)
        final = self.ws.wait(run, {"completed", "failed", "crashed"}, timeout=180)
        self.assertEqual(final["state"], "completed", self.ws.all_logs(run))
        self.assertEqual(final["epochs_done"], 30)

    def test_a_workspace_named_by_the_flag_is_created_as_by_run(self):
        # Before (issue 23, #12): kakuren run --workspace NEW created NEW, submit refused it.
        recipe = self.ws.recipe(tiny(name="new", epochs=1))
        env = dict(self.ws.env)
        del env["KAKUREN_WORKSPACE"]
        new = os.path.join(self.ws.root, "new", "ws")
        self.ws.kakuren("submit", recipe, "--dry-run", "--workspace", new, env=env)
        self.assertFalse(os.path.exists(os.path.join(self.ws.root, "new")))  # dry run: nothing
        p = self.ws.kakuren("submit", recipe, "--workspace", new, "--format", "json", env=env)
        self.assertIn(f"kakuren: created workspace {new} (named by --workspace)", p.stderr)
        run = json.loads(p.stdout)["runs"][0]["run_id"]
        self.assertTrue(os.path.isfile(os.path.join(new, "kakuren.db")))
        self.ws.env["KAKUREN_WORKSPACE"] = new  # for wait's status calls
        final = self.ws.wait(run, {"completed", "failed", "crashed"})
        self.assertEqual(final["state"], "completed", self.ws.all_logs(run))
        # As for run, a folder named by $KAKUREN_WORKSPACE must exist.
        env["KAKUREN_WORKSPACE"] = os.path.join(self.ws.root, "typo")
        typo = self.ws.kakuren("submit", recipe, check=False, env=env)
        self.assertEqual(typo.returncode, 2, typo.stderr)
        self.assertIn("does not exist", typo.stderr)
        self.assertFalse(os.path.exists(env["KAKUREN_WORKSPACE"]))

    def test_recipe_values_cannot_inject_commands_into_the_job(self):
        marker = os.path.join(self.ws.root, "INJECTED")
        name = f"x'; touch {marker}; echo '$(touch {marker})"
        text = tiny(name=name.replace("\\", "\\\\").replace('"', '\\"'), epochs=1)
        dry = self.ws.kakuren("submit", self.ws.recipe(text), "--dry-run").stdout
        self.assertIn("#SBATCH '--job-name=kakuren-x'\\''; touch", dry)
        run = self.ws.json("submit", self.ws.recipe(text))["runs"][0]["run_id"]
        self.assertEqual(self.ws.wait(run, {"completed", "failed"})["state"], "completed")
        self.assertFalse(os.path.exists(marker))
        bad = self.ws.kakuren("submit", self.ws.recipe(tiny(extra='partition = "a;rm -rf ~"'),
                                                       "bad.toml"), check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertRegex(bad.stderr, r"bad\.toml:\d+:\d+: error: slurm\.partition")


def list_tests():
    """Prints "LABEL TestCase.test_name" for every test of this file."""
    def flatten(suite):
        for item in suite:
            if isinstance(item, unittest.TestSuite):
                yield from flatten(item)
            else:
                yield item
    for test in flatten(unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])):
        cls = type(test)
        print(f"{cls.LABEL} {cls.__name__}.{test._testMethodName}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        list_tests()
        sys.exit(0)
    KAKUREN, CLUSTER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
