#!/usr/bin/env python3
"""kakuren export --mlflow and kakuren runs --all end to end: the real binary on real runs in
temporary workspaces. The export is read back by MLflow's own client (mlflow-skinny from PyPI,
in the test virtual environment .venv-test that scripts/setup.sh --tests creates): a missing
MLflow fails the tests, it never skips them.

Usage: export_e2e_test.py KAKUREN_BIN MLFLOW_PYTHON TestCase.test_name
       export_e2e_test.py --list    one "LABEL TestCase.test_name" line per test (CMake reads it)
"""
import calendar
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import unittest

KAKUREN = ""
MLFLOW_PYTHON = ""
HERE = os.path.dirname(os.path.abspath(__file__))

TINY = """
[run]
name = "{name}"
seed = 1
threads = 1
notes = "a \\"quoted\\" note"

[data]
dataset = "synthetic"
synthetic_train = 1024
synthetic_test = 256
synthetic_size = 12
synthetic_noise = 4.0
batch_size = 128

[model]
kind = "mlp"
hidden = [32]

[optimizer]
weight_decay = 5e-4

[schedule]
epochs = 4
warmup_epochs = 0
milestones = [3]

[hiding]
strategy = "kakurenbo"
fraction = 0.3
"""

# MLflow's RunStatus names for kakuren's statuses (report/mlflow_export.hpp).
MLFLOW_STATUS = {"created": "SCHEDULED", "running": "RUNNING", "succeeded": "FINISHED",
                 "finished": "FINISHED", "failed": "FAILED", "crashed": "FAILED",
                 "interrupted": "KILLED"}


class Workspace:
    """A temporary workspace with a user state folder of its own (remembered workspaces)."""

    def __init__(self, state=None):
        self.root = tempfile.mkdtemp(prefix="kakuren-export-")
        self.env = dict(os.environ)
        self.env["XDG_STATE_HOME"] = state or os.path.join(self.root, ".state")
        self.env["KAKUREN_WORKSPACE"] = self.root
        self.env.pop("MLFLOW_ALLOW_FILE_STORE", None)

    def kakuren(self, *args, check=True, env=None):
        p = subprocess.run([KAKUREN, *args], cwd=self.root, env=env or self.env,
                           capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            raise AssertionError(f"kakuren {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def json(self, *args, **kw):
        return json.loads(self.kakuren(*args, "--format", "json", **kw).stdout)

    def train(self, name="tiny", *sets):
        path = os.path.join(self.root, name + ".toml")
        with open(path, "w") as f:
            f.write(TINY.format(name=name))
        args = ["run", path, "--quiet"]
        for s in sets:
            args += ["--set", s]
        return self.kakuren(*args).stdout.split()[1]  # "run <id>" comes first

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def mlflow(*args):
    """Runs mlflow_read.py with the test environment's Python; fails clearly without MLflow."""
    if not os.path.exists(MLFLOW_PYTHON):
        raise AssertionError(f"{MLFLOW_PYTHON} does not exist: the test environment with MLflow "
                             "is missing; scripts/setup.sh --tests (run by scripts/test.sh) "
                             "creates it")
    p = subprocess.run([MLFLOW_PYTHON, os.path.join(HERE, "mlflow_read.py"), *args],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"mlflow_read.py {' '.join(args)} exited {p.returncode} "
                             f"(is mlflow-skinny installed in {MLFLOW_PYTHON}?)\n{p.stderr}")
    return json.loads(p.stdout)


def iso_ms(text):
    """'2026-11-26T15:07:22.123Z' -> ms since the epoch."""
    seconds = calendar.timegm(tuple(int(x) for x in (
        text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])) + (0, 0, 0))
    return seconds * 1000 + int(text[20:23])


def flat_recipe(path):
    """The resolved recipe's keys, read by Python's own TOML parser."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    return {f"{section}.{key}": value for section, table in doc.items()
            for key, value in table.items()}


def param_value(text):
    """A parameter as TOML reads it: numbers, booleans and arrays by their TOML text; a string
    is written unquoted (and does not parse as a TOML value)."""
    try:
        return tomllib.loads("v = " + text)["v"]
    except tomllib.TOMLDecodeError:
        return text


class MlflowExport(unittest.TestCase):
    LABEL = "e2e"

    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.cleanup()

    def check_run(self, seen, run_id):
        """One exported run against `kakuren show --format json` and the run's recipe file."""
        show = self.ws.json("show", run_id)
        run = show["run"]
        mine = [r for r in seen["runs"] if r["tags"].get("kakuren.run_id") == run_id]
        self.assertEqual(len(mine), 1, f"{run_id} exported {len(mine)} times")
        r = mine[0]
        names = {e["experiment_id"]: e["name"] for e in seen["experiments"]}
        self.assertEqual(names[r["experiment_id"]], run["name"])
        self.assertEqual(r["run_name"], run_id)
        self.assertEqual(r["status"], MLFLOW_STATUS[run["status"]])
        self.assertEqual(r["start_time"], iso_ms(run["started_at"]))
        self.assertEqual(r["end_time"], iso_ms(run["ended_at"]))
        for tag, field in [("strategy", "strategy"), ("seed", "seed"), ("status", "status"),
                           ("metric", "metric"), ("kakuren.run_id", "id"),
                           ("kakuren.recipe_hash", "recipe_hash"), ("mlflow.runName", "id")]:
            self.assertEqual(r["tags"][tag], str(run[field]), tag)
        self.assertEqual(r["tags"]["kakuren.workspace"], self.ws.root)
        # Parameters: every key of the resolved recipe, equal to what Python's TOML reads.
        recipe = flat_recipe(os.path.join(run["run_dir"], "recipe.toml"))
        self.assertEqual(set(r["params"]), set(recipe))
        for key, value in recipe.items():
            self.assertEqual(param_value(r["params"][key]), value, key)
        # Metrics: every number of show's epoch rows, step = epoch, in epoch order.
        expected = {}
        for e in show["epochs"]:
            for key, value in e.items():
                if key != "epoch" and value is not None:
                    expected.setdefault(key, []).append([e["epoch"], value])
        got = {k: [[step, value] for step, value, _ in h] for k, h in r["metrics"].items()}
        self.assertEqual(got, expected)
        self.assertEqual(len(expected["train_loss"]), run["epochs_done"])
        stamps = [ts for _, _, ts in r["metrics"]["train_loss"]]
        self.assertEqual(stamps, sorted(stamps))
        self.assertTrue(r["start_time"] <= stamps[0] and stamps[-1] <= r["end_time"], stamps)
        return r

    def test_mlflow_reads_runs_params_metrics_and_tags(self):
        hiding = self.ws.train("tiny")
        baseline = self.ws.train("tiny", "hiding.strategy=none", "run.seed=2")
        other = self.ws.train("other", "run.target_accuracy=0.3")  # stops at its target
        summary = self.ws.json("export", "--mlflow", "mlruns")
        self.assertEqual([r["run_id"] for r in summary["runs"]], [hiding, baseline, other])
        self.assertEqual(summary["mlflow_dir"], os.path.join(self.ws.root, "mlruns"))
        seen = mlflow(os.path.join(self.ws.root, "mlruns"))
        self.assertEqual(sorted(e["name"] for e in seen["experiments"]),
                         ["Default", "other", "tiny"])
        self.assertEqual(len(seen["runs"]), 3)
        for run_id in (hiding, baseline, other):
            r = self.check_run(seen, run_id)
            exported = [s for s in summary["runs"] if s["run_id"] == run_id][0]
            self.assertEqual(exported["mlflow_run_id"], r["run_id"])
            self.assertEqual(exported["metrics"], len(r["metrics"]))
        self.assertEqual(self.ws.json("show", other)["run"]["status"], "succeeded")
        # The hiding run hid samples; the baseline hid none: the export carries what happened.
        by_id = {r["tags"]["kakuren.run_id"]: r for r in seen["runs"]}
        self.assertGreater(max(v for _, v, _ in by_id[hiding]["metrics"]["realised_fraction"]), 0)
        self.assertEqual(max(v for _, v, _ in by_id[baseline]["metrics"]["realised_fraction"]), 0)
        self.assertEqual(by_id[baseline]["params"]["hiding.strategy"], "none")
        self.assertEqual(by_id[hiding]["params"]["run.notes"], 'a "quoted" note')

    def test_export_again_updates_instead_of_adding(self):
        first = self.ws.train("tiny")
        store = os.path.join(self.ws.root, "mlruns")
        # A store MLflow made itself, with an experiment of the recipe's name: the export joins it.
        made = mlflow(store, "create-experiment", "tiny")["experiment_id"]
        self.ws.kakuren("export", "--mlflow", store)
        before = mlflow(store)
        self.assertEqual([r["experiment_id"] for r in before["runs"]], [made])
        run_uuid = before["runs"][0]["run_id"]
        mlflow(store, "set-tag", run_uuid, "mlflow.note.content", "looks good")
        second = self.ws.train("tiny", "run.seed=3")
        text = self.ws.kakuren("export", "--mlflow", store).stdout
        self.assertIn("exported 2 runs to " + store, text)
        self.assertIn("mlflow ui --backend-store-uri " + store, text)
        after = mlflow(store)
        self.assertEqual(len(after["runs"]), 2)
        self.assertEqual(sorted(e["name"] for e in after["experiments"]), ["Default", "tiny"])
        again = [r for r in after["runs"] if r["tags"]["kakuren.run_id"] == first][0]
        self.assertEqual(again["run_id"], run_uuid)  # the same MLflow run, not a second one
        self.assertEqual(again["metrics"], before["runs"][0]["metrics"])  # not appended twice
        self.assertEqual(again["tags"]["mlflow.note.content"], "looks good")  # the user's tag
        self.check_run(after, first)
        self.check_run(after, second)
        # One run into another experiment: it moves there, MLflow still sees it once.
        self.ws.kakuren("export", "--mlflow", store, second[:-2], "--experiment", "study")
        moved = mlflow(store)
        self.assertEqual(len(moved["runs"]), 2)
        names = {e["experiment_id"]: e["name"] for e in moved["experiments"]}
        where = {r["tags"]["kakuren.run_id"]: names[r["experiment_id"]] for r in moved["runs"]}
        self.assertEqual(where, {first: "tiny", second: "study"})


class ExportCli(unittest.TestCase):
    LABEL = "e2e"

    def setUp(self):
        self.ws = Workspace()

    def tearDown(self):
        self.ws.cleanup()

    def test_errors_say_what_to_give(self):
        no_dir = self.ws.kakuren("export", check=False)
        self.assertEqual(no_dir.returncode, 2)
        self.assertIn("--mlflow is required", no_dir.stderr)
        no_db = self.ws.kakuren("export", "--mlflow", "mlruns", check=False)
        self.assertEqual(no_db.returncode, 2)
        self.assertIn("no kakuren database in " + self.ws.root, no_db.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.ws.root, "mlruns")))
        run = self.ws.train("tiny")
        unknown = self.ws.kakuren("export", "--mlflow", "mlruns", "nosuchrun", check=False)
        self.assertEqual(unknown.returncode, 2)
        self.assertIn("no run matches 'nosuchrun'", unknown.stderr)
        with open(os.path.join(self.ws.root, "afile"), "w") as f:
            f.write("x")
        file_dir = self.ws.kakuren("export", "--mlflow", "afile", run, check=False)
        self.assertEqual(file_dir.returncode, 1)
        self.assertIn(os.path.join(self.ws.root, "afile") + " is not a folder", file_dir.stderr)
        blank = self.ws.kakuren("export", "--mlflow", "mlruns", "--experiment", " ", check=False)
        self.assertEqual(blank.returncode, 2)
        self.assertIn("is blank; give an experiment name", blank.stderr)
        help_text = self.ws.kakuren("export", "--help").stdout
        for words in ("--mlflow DIR", "mlflow ui --backend-store-uri", "--experiment",
                      "MLFLOW_ALLOW_FILE_STORE=true", "step = epoch"):
            self.assertIn(words, help_text)


class RunsAll(unittest.TestCase):
    LABEL = "e2e"

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="kakuren-state-")
        self.spaces = [Workspace(self.state) for _ in range(4)]

    def tearDown(self):
        for ws in self.spaces:
            ws.cleanup()
        shutil.rmtree(self.state, ignore_errors=True)

    def test_lists_every_remembered_workspace_and_marks_missing_ones(self):
        one, two, gone, damaged = self.spaces
        a = one.train("tiny")
        b = two.train("tiny", "hiding.strategy=none")
        c = two.train("other")
        gone.train("tiny")
        damaged.train("tiny")
        gone.cleanup()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(os.path.join(damaged.root, "kakuren.db" + suffix)):
                os.remove(os.path.join(damaged.root, "kakuren.db" + suffix))
        with open(os.path.join(damaged.root, "kakuren.db"), "w") as f:
            f.write("not a database" * 100)
        # From a folder that is no workspace: --all does not depend on where it runs.
        env = dict(one.env)
        del env["KAKUREN_WORKSPACE"]
        p = subprocess.run([KAKUREN, "runs", "--all", "--format", "json"], cwd="/", env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        states = {w["workspace"]: (w["state"], w["runs"]) for w in out["workspaces"]}
        self.assertEqual(states, {one.root: ("ok", 1), two.root: ("ok", 2),
                                  gone.root: ("missing", 0), damaged.root: ("unreadable", 0)})
        self.assertEqual(sorted((r["workspace"], r["id"]) for r in out["runs"]),
                         sorted([(one.root, a), (two.root, b), (two.root, c)]))
        for r in out["runs"]:
            self.assertEqual(r["status"], "finished")
            self.assertEqual(r["epochs_done"], 4)
        text = subprocess.run([KAKUREN, "runs", "--all"], cwd="/", env=env, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(text.returncode, 0, text.stderr)
        lines = text.stdout.splitlines()
        self.assertTrue(lines[0].startswith("WORKSPACE"), lines[0])
        self.assertIn("RUN", lines[0])
        for root, run in [(one.root, a), (two.root, b), (two.root, c)]:
            self.assertTrue(any(line.startswith(root) and run in line for line in lines), run)
        self.assertTrue(any(line.startswith(gone.root) and "missing" in line for line in lines),
                        text.stdout)
        self.assertTrue(any(line.startswith(damaged.root) and "unreadable" in line
                            for line in lines), text.stdout)
        both = one.kakuren("runs", "--all", "--workspace", one.root, check=False)
        self.assertEqual(both.returncode, 2)
        self.assertIn("--all excludes --workspace", both.stderr)
        # Without --all: still one workspace.
        self.assertEqual([r["id"] for r in two.json("runs")], [c, b])

    def test_no_remembered_workspace_says_how_they_are_remembered(self):
        env = dict(self.spaces[0].env)
        p = subprocess.run([KAKUREN, "runs", "--all"], cwd="/", env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("no remembered workspaces yet", p.stdout)


def list_tests():
    for case in (MlflowExport, ExportCli, RunsAll):
        for name in unittest.TestLoader().getTestCaseNames(case):
            print(f"{case.LABEL} {case.__name__}.{name}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        list_tests()
        sys.exit(0)
    KAKUREN, MLFLOW_PYTHON = os.path.abspath(sys.argv[1]), sys.argv[2]
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
