#!/usr/bin/env python3
"""kakuren tune --backend slurm on the tests' real 2-node Slurm cluster (label slurm): each round's
candidates as one Slurm job array, ranked as a local tune ranks them.

Usage: slurm_tune_e2e_test.py KAKUREN CLUSTER_DIR [TestCase.test_name ...]
       slurm_tune_e2e_test.py --list    one "LABEL TestCase.test_name" line per test
The helpers (Workspace, the cluster's environment) are submit_e2e_test.py's.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

import submit_e2e_test as base
from submit_e2e_test import SOURCE, Workspace


TUNE = ["--set", "task.target=0.88", "--set", "schedule.epochs=8", "--set",
        "schedule.milestones=[7]", "--set", "optimizer.lr=0.01", "--try", "rotate", "--try",
        "kakurenbo", "--budget", "12", "--rank-by", "work"]


def ranking(result):
    """What a --rank-by work tune decides, the same wherever its candidates trained."""
    return {"candidates": [(c["label"], c["epochs"], c["work_to_target_samples"]["value"])
                           for c in result["candidates"]],
            "rounds": [len(r["survivors"]) for r in result["rounds"]],
            "verdict": result["verdict"]}


class SlurmTune(unittest.TestCase):
    LABEL = "slurm"  # the real cluster, one test at a time

    def setUp(self):
        self.ws = Workspace()
        self.recipe = os.path.join(self.ws.root, "tiny.toml")
        shutil.copy(os.path.join(SOURCE, "recipes", "synthetic_tiny.toml"), self.recipe)

    def tearDown(self):
        self.ws.cleanup()

    def wait_for_file(self, pattern, timeout=300):
        """The first file under the workspace's tunes/ whose path matches pattern (a hang guard,
        not a speed check)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for folder, _, files in os.walk(os.path.join(self.ws.root, "tunes")):
                for name in files:
                    if re.search(pattern, os.path.join(folder, name)):
                        return os.path.join(folder, name)
            time.sleep(0.1)
        raise AssertionError(f"no file matching {pattern} under tunes/ in {timeout} s")

    def test_a_tune_killed_while_its_array_runs_waits_for_that_array_on_resume(self):
        # --parallel 1: the array's tasks start one after another, so those after the first are
        # still pending when the test holds them (each task loads LibTorch: about a second).
        tune = subprocess.Popen([base.KAKUREN, "tune", self.recipe, *TUNE, "--backend", "slurm",
                                 "--parallel", "1", "-o", "slurm.toml"], cwd=self.ws.root,
                                env=self.ws.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        jobs = self.wait_for_file(r"/round-2\.jobs$")
        with open(jobs) as f:
            array = f.read().split()[0].split("_")[0]
        subprocess.run(["scontrol", "hold", array], env=self.ws.env, capture_output=True)
        tune.kill()
        tune.wait()
        tune_id = os.path.basename(os.path.dirname(jobs))
        resumed = subprocess.Popen([base.KAKUREN, "tune", "--resume", tune_id, "--backend",
                                    "slurm", "--format", "json", "-o", "slurm.toml"],
                                   cwd=self.ws.root, env=self.ws.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        lines = []
        for line in resumed.stderr:  # the progress lines, until the resume says it waits
            lines.append(line)
            if f"waiting for Slurm job {array}" in line:
                break
        self.assertIn(f"waiting for Slurm job {array}", "".join(lines))
        subprocess.run(["scontrol", "release", array], env=self.ws.env, check=True)
        out, err = resumed.communicate(timeout=900)
        self.assertEqual(resumed.returncode, 0, "".join(lines) + err)
        here = self.ws.json("tune", self.recipe, *TUNE, "-o", "local.toml", timeout=900)
        self.assertEqual(ranking(json.loads(out)), ranking(here))

    def test_tune_trains_each_round_as_a_slurm_job_array_and_ranks_as_a_local_tune(self):
        args = ["tune", self.recipe, *TUNE]
        on_slurm = self.ws.json(*args, "--backend", "slurm", "-o", "slurm.toml", timeout=900)
        here = self.ws.json(*args, "-o", "local.toml", timeout=900)
        self.assertEqual(on_slurm["status"], "done", json.dumps(on_slurm, indent=1))
        # Work is reproducible: the same ranking, rounds and projections as the local tune.
        self.assertEqual(ranking(on_slurm), ranking(here))
        # Each round was one Slurm job (an array when it had several candidates), each candidate
        # trained by its worker on a node, its output in its log.
        folder = os.path.join(self.ws.root, "tunes", on_slurm["tune_id"])
        listing = os.listdir(folder)
        scripts = sorted(f for f in listing if f.startswith("round-") and f.endswith(".sh"))
        self.assertEqual(len(scripts), len(on_slurm["rounds"]), listing)
        for script in scripts:  # each round's job ids beside its script (--resume waits on them)
            with open(os.path.join(folder, script[:-3] + ".jobs")) as f:
                self.assertRegex(f.read(), r"^\d+(_\d+)?\n", script)
        for c in on_slurm["candidates"]:
            with open(os.path.join(folder, f"candidate-{c['candidate']}.log")) as f:
                # the worker's segment lines: "LABEL: new run, epochs 1-2", "... continued, ..."
                self.assertRegex(f.read(), r": (new run|run \S+ continued), epochs \d+-\d+",
                                 c["label"])
        outs = [f for f in listing if f.startswith("slurm-")]
        self.assertGreaterEqual(len(outs), len(on_slurm["candidates"]), listing)
        with open(os.path.join(folder, scripts[0])) as f:
            self.assertRegex(f.read(), r"tune --resume '[^']+' --trial \"\$c\" --until \d+")


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        for name in unittest.defaultTestLoader.getTestCaseNames(SlurmTune):
            print(f"{SlurmTune.LABEL} SlurmTune.{name}")
        sys.exit(0)
    base.KAKUREN, base.CLUSTER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
