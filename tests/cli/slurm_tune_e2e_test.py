#!/usr/bin/env python3
"""kakuren tune --backend slurm on the tests' real 2-node Slurm cluster (label slurm): each round's
candidates as one Slurm job array, ranked as a local tune ranks them.

Usage: slurm_tune_e2e_test.py KAKUREN CLUSTER_DIR [TestCase.test_name ...]
       slurm_tune_e2e_test.py --list    one "LABEL TestCase.test_name" line per test
The helpers (Workspace, the cluster's environment) are submit_e2e_test.py's.
"""
import json
import os
import shutil
import sys
import unittest

import submit_e2e_test as base
from submit_e2e_test import SOURCE, Workspace


class SlurmTune(unittest.TestCase):
    LABEL = "slurm"  # the real cluster, one test at a time

    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.cleanup()

    def test_tune_trains_each_round_as_a_slurm_job_array_and_ranks_as_a_local_tune(self):
        recipe = os.path.join(self.ws.root, "tiny.toml")
        shutil.copy(os.path.join(SOURCE, "recipes", "synthetic_tiny.toml"), recipe)
        args = ["tune", recipe, "--set", "task.target=0.88", "--set", "schedule.epochs=8",
                "--set", "schedule.milestones=[7]", "--set", "optimizer.lr=0.01",
                "--try", "rotate", "--try", "kakurenbo", "--budget", "12", "--rank-by", "work"]
        on_slurm = self.ws.json(*args, "--backend", "slurm", "-o", "slurm.toml", timeout=900)
        here = self.ws.json(*args, "-o", "local.toml", timeout=900)
        self.assertEqual(on_slurm["status"], "done", json.dumps(on_slurm, indent=1))
        # Work is reproducible: the same ranking, rounds and projections as the local tune.
        self.assertEqual([c["label"] for c in on_slurm["candidates"]],
                         [c["label"] for c in here["candidates"]])
        self.assertEqual([len(r["survivors"]) for r in on_slurm["rounds"]],
                         [len(r["survivors"]) for r in here["rounds"]])
        for a, b in zip(on_slurm["candidates"], here["candidates"]):
            self.assertEqual((a["epochs"], a["work_to_target_samples"]["value"]),
                             (b["epochs"], b["work_to_target_samples"]["value"]), a["label"])
        self.assertEqual(on_slurm["verdict"], here["verdict"])
        # Each round was one Slurm job (an array when it had several candidates), each candidate
        # trained by its worker on a node, its output in its log.
        folder = os.path.join(self.ws.root, "tunes", on_slurm["tune_id"])
        scripts = sorted(f for f in os.listdir(folder) if f.startswith("round-"))
        self.assertEqual(len(scripts), len(on_slurm["rounds"]), os.listdir(folder))
        for c in on_slurm["candidates"]:
            with open(os.path.join(folder, f"candidate-{c['candidate']}.log")) as f:
                self.assertRegex(f.read(), r"epoch \d+/8", c["label"])
        outs = [f for f in os.listdir(folder) if f.startswith("slurm-")]
        self.assertGreaterEqual(len(outs), len(on_slurm["candidates"]), os.listdir(folder))
        with open(os.path.join(folder, scripts[0])) as f:
            self.assertRegex(f.read(), r"tune --resume '[^']+' --trial \"\$c\" --until \d+")


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        for name in unittest.defaultTestLoader.getTestCaseNames(SlurmTune):
            print(f"{SlurmTune.LABEL} SlurmTune.{name}")
        sys.exit(0)
    base.KAKUREN, base.CLUSTER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
