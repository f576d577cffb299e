#!/usr/bin/env python3
"""Checks kakuren's layering (see STYLE.md "Layers").

Reads every .hpp/.cpp/.h under the layer folders and tests/ and fails, listing file:line, when
  * a folder includes a project header of a folder that is not to its left in LAYERS, or
  * a folder includes an external library's header that another folder owns, or
  * tests/support (shared by every test folder) includes torch or a layer it must not, or
  * a test folder defines its own copy of a helper that tests/support provides.

Usage: layering_test.py [--root DIR]   check the tree at DIR (default: this file's ../)
       layering_test.py --self-test    prove on temporary trees that the check can fail
"""
import argparse
import re
import sys
import tempfile
from pathlib import Path

# Lowest first: a folder may include only folders to its left (and itself).
LAYERS = ["util", "hiding", "recipes", "db", "slurm", "checkpoint", "launcher", "trainer",
          "report", "tune", "cli"]

# External headers: (how the include starts, the folders allowed to include it, library name).
# Matched before project edges, so <slurm/slurm.h> is libslurm while "slurm/x.hpp" is ours.
EXTERNAL = [
    ("torch/serialize", {"trainer", "checkpoint"}, "LibTorch (serialize)"),
    ("torch/", {"trainer"}, "LibTorch"),
    ("ATen/", {"trainer"}, "LibTorch"),
    ("c10/", {"trainer"}, "LibTorch"),
    ("sqlite3.h", {"db"}, "SQLite"),
    ("toml++/", {"recipes"}, "toml++"),
    ("CLI/", {"cli"}, "CLI11"),
    ("spdlog/", {"util"}, "spdlog"),
    ("slurm/slurm.h", {"slurm"}, "libslurm"),
    ("slurm/slurm_errno.h", {"slurm"}, "libslurm"),
    ("slurm/slurmdb.h", {"slurm"}, "libslurm"),
    ("slurm/spank.h", {"slurm"}, "libslurm"),
    ("hdf5.h", {"trainer"}, "HDF5"),
]

# Inside trainer/: the seams, lowest first (docs/development.md). A trainer file may include
# trainer headers of its own seam and of seams to its left only; every trainer file must be
# listed (by stem), so that a new file is placed on purpose.
TRAINER_SEAMS = [
    ("api", ["trainer", "module", "module_loader", "module_layout",
             "data_tools"]),  # torch-free: what other layers see
    ("schedule", ["schedule"]),
    ("device", ["device"]),
    ("data", ["data", "source", "stream", "npy_source", "hdf5", "hdf5_source", "hdf5_dataset",
              "image_source", "image_decode", "data_commands", "sample_files",
              "standins", "standin_files", "standins_spread", "deepcam_parts",
              "data_paths", "data_listing", "hdf5_listing"]),  # SampleSource, Prefetcher, in-memory and
                                               # streaming sets, the stand-ins
    ("task", ["task", "classification", "segmentation", "regression"]),
    ("model", ["models", "torchscript", "science_models", "model_fit", "model_check",
               "script_output"]),
    ("state", ["sample_state"]),
    ("replicator", ["dist", "replicator"]),
    ("engine", ["step_engine"]),
    ("records", ["checkpoint_io", "mlperf_records"]),
    # Run's components, each keeping its own state (run.hpp): inputs, cursor, log marks, clocks.
    ("run_components", ["run_context", "epoch_cursor", "totals", "batch_geometry",
                        "phase_buffers", "mllog_marks", "checkpoint_clock", "phase_timer",
                        "clock"]),
    ("run", ["run", "phases", "run_checkpoint"]),
]

SOURCE_SUFFIXES = {".hpp", ".cpp", ".h"}

# tests/support (kakuren_test_support, included as "support/x.hpp") serves every test folder, so
# it stays torch-free and uses only these layers; no test folder redefines what it provides.
SUPPORT = "tests/support"
SUPPORT_MAY_INCLUDE = {"support", "util", "db", "checkpoint"}
SHARED_HELPERS = [
    (re.compile(r"^\s*(class|struct)\s+TempDir\b"), "TempDir", "support/temp_dir.hpp"),
    (re.compile(r"^\s*(std::string|inline std::string)\s+slurp\s*\("), "slurp", "support/files.hpp"),
    (re.compile(r"^\s*int\s+(free|unused)_port\s*\("), "a free-port guess",
     "support/ports.hpp"),
]
# error_of(...) { try { ... } catch ... }: the message of a thrown error, one per test folder before.
ERROR_OF_COPY = re.compile(r"error_of\s*\([^;{]*\)\s*(const\s*)?\{\s*\n\s*try\s*\{")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def check(root):
    """Returns (violations, files, includes); each violation is 'path:line: message'."""
    root = Path(root)
    violations = []
    files = includes = 0
    for folder in LAYERS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(p for p in base.rglob("*") if p.suffix in SOURCE_SUFFIXES):
            if not path.is_file():
                continue
            files += 1
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8", errors="replace")
            for lineno, line in enumerate(text.splitlines(), start=1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                includes += 1
                header = m.group(2).strip()
                where = f"{rel}:{lineno}"
                external = next((e for e in EXTERNAL if header.startswith(e[0])), None)
                if external is not None:
                    prefix, owners, library = external
                    if folder not in owners:
                        violations.append(
                            f"{where}: {folder}/ includes <{header}>, but only "
                            f"{', '.join(sorted(owners))}/ may include {library}")
                    continue
                top = header.split("/", 1)[0]
                if "/" in header and top in LAYERS and \
                        LAYERS.index(top) > LAYERS.index(folder):
                    violations.append(
                        f'{where}: {folder}/ includes "{header}", but {top}/ is above '
                        f"{folder}/ (order: {' < '.join(LAYERS)})")
    tests_violations, tests_files, tests_includes = check_tests(root)
    return violations + tests_violations, files + tests_files, includes + tests_includes


def check_tests(root):
    """tests/support's include edges, and helpers copied into test folders instead of used."""
    root = Path(root)
    violations = []
    files = includes = 0
    tests = root / "tests"
    if not tests.is_dir():
        return violations, files, includes
    for path in sorted(p for p in tests.rglob("*") if p.suffix in SOURCE_SUFFIXES):
        if not path.is_file():
            continue
        files += 1
        rel = path.relative_to(root).as_posix()
        in_support = rel.startswith(SUPPORT + "/")
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            where = f"{rel}:{lineno}"
            m = INCLUDE.match(line)
            if m:
                includes += 1
                header = m.group(2).strip()
                if not in_support:
                    continue
                external = next((e for e in EXTERNAL if header.startswith(e[0])), None)
                top = header.split("/", 1)[0]
                if external is not None:
                    violations.append(f"{where}: {SUPPORT}/ includes <{header}>; it stays "
                                      f"free of {external[2]} (every test folder links it)")
                elif "/" in header and m.group(1) == '"' and top not in SUPPORT_MAY_INCLUDE:
                    violations.append(f'{where}: {SUPPORT}/ includes "{header}"; it may include '
                                      f"only {', '.join(sorted(SUPPORT_MAY_INCLUDE))}/")
                continue
            if in_support:
                continue
            for pattern, what, home in SHARED_HELPERS:
                if pattern.match(line):
                    violations.append(f"{where}: a copy of {what}; use {home} (tests/support)")
        if not in_support:
            for m in ERROR_OF_COPY.finditer(text):
                lineno = text.count("\n", 0, m.start()) + 1
                violations.append(f"{rel}:{lineno}: a copy of error_of (its own try/catch); use "
                                  "support/errors.hpp's error_of<E> (tests/support)")
    return violations, files, includes


def seam_of(stem):
    for index, (name, stems) in enumerate(TRAINER_SEAMS):
        if stem in stems:
            return index, name
    return None, None


def check_trainer_seams(root):
    """Violations of the seam order inside trainer/ (same format as check)."""
    root = Path(root)
    base = root / "trainer"
    violations = []
    if not base.is_dir():
        return violations
    for path in sorted(p for p in base.rglob("*") if p.suffix in SOURCE_SUFFIXES):
        rel = path.relative_to(root).as_posix()
        own, own_name = seam_of(path.stem)
        if own is None:
            violations.append(f"{rel}:1: trainer file {path.name} is in no seam; add it to "
                              "TRAINER_SEAMS in tests/layering_test.py")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            m = INCLUDE.match(line)
            if not m or not m.group(2).startswith("trainer/"):
                continue
            stem = Path(m.group(2)).stem
            other, other_name = seam_of(stem)
            if other is not None and other > own:
                violations.append(
                    f'{rel}:{lineno}: seam {own_name} includes "{m.group(2)}" of seam '
                    f"{other_name}, which is above it (order: "
                    f"{' < '.join(n for n, _ in TRAINER_SEAMS)})")
    return violations


def write(root, rel, text):
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def self_test():
    failures = []
    with tempfile.TemporaryDirectory() as good:
        write(good, "util/error.hpp", "#pragma once\n#include <stdexcept>\n")
        write(good, "util/log.cpp", '#include "util/log.hpp"\n#include <spdlog/spdlog.h>\n')
        write(good, "db/store.cpp",
              '#include "db/store.hpp"\n#include <sqlite3.h>\n#include "util/error.hpp"\n')
        write(good, "slurm/adapter.cpp",
              '#include "slurm/adapter.hpp"\n#include <slurm/slurm.h>\n#include "db/store.hpp"\n')
        write(good, "checkpoint/save.cpp", "#include <torch/serialize.h>\n")
        write(good, "trainer/run.cpp",
              '#include <torch/torch.h>\n#include "hiding/policy.hpp"\n#include "db/store.hpp"\n')
        write(good, "cli/main.cpp", '#include <CLI/CLI.hpp>\n#include "trainer/trainer.hpp"\n')
        write(good, "trainer/step_engine.cpp", '#include "trainer/task.hpp"\n')
        write(good, "tests/support/temp_dir.hpp", '#include "db/store.hpp"\n')
        write(good, "tests/db/store_test.cpp",
              '#include "support/temp_dir.hpp"\nusing kakuren::testing::TempDir;\n')
        violations, files, _ = check(good)
        violations += check_trainer_seams(good)
        if violations or files != 10:
            failures.append(f"a good tree should pass; got {violations} over {files} files")

    with tempfile.TemporaryDirectory() as bad:
        write(bad, "util/json.hpp", '#pragma once\n\n#include "db/store.hpp"\n')
        write(bad, "hiding/policy.cpp", '#include "hiding/policy.hpp"\n  #  include "cli/x.hpp"\n')
        write(bad, "db/store.cpp", "#include <torch/torch.h>\n#include <spdlog/spdlog.h>\n")
        write(bad, "trainer/run.cpp", '#include "report/table.hpp"\n')
        write(bad, "trainer/task.hpp", '#pragma once\n#include "trainer/step_engine.hpp"\n')
        write(bad, "trainer/loop.cpp", "// not in any seam\n")
        write(bad, "recipes/load.cpp", "#include <sqlite3.h>\n#include <toml++/toml.hpp>\n")
        write(bad, "launcher/batch.cpp", "#include <slurm/slurm.h>\n")
        write(bad, "tests/support/x.cpp", '#include <torch/torch.h>\n#include "cli/app.hpp"\n')
        write(bad, "tests/db/a_test.cpp", "namespace {\nclass TempDir {};\n}\n")
        write(bad, "tests/util/b_test.cpp",
              "std::string slurp(const fs::path& p) {}\nint free_port() {}\n")
        write(bad, "tests/tune/c_test.cpp",
              "std::string error_of(const std::string& t) {\n    try {\n        f(t);\n"
              "    } catch (const Error& e) {\n        return e.what();\n    }\n}\n")
        expected = {
            "util/json.hpp:3", "hiding/policy.cpp:2", "db/store.cpp:1", "db/store.cpp:2",
            "trainer/run.cpp:1", "recipes/load.cpp:1", "launcher/batch.cpp:1",
            "trainer/task.hpp:2", "trainer/loop.cpp:1",
            "tests/support/x.cpp:1", "tests/support/x.cpp:2", "tests/db/a_test.cpp:2",
            "tests/util/b_test.cpp:1", "tests/util/b_test.cpp:2", "tests/tune/c_test.cpp:1",
        }
        violations, _, _ = check(bad)
        violations += check_trainer_seams(bad)
        found = {v.split(": ", 1)[0] for v in violations}
        if found != expected:
            failures.append(f"a bad tree should fail at exactly {sorted(expected)}; "
                            f"got {violations}")

    for failure in failures:
        print(f"layering self-test: FAILED: {failure}")
    if not failures:
        print("layering self-test: ok (a good tree passes, every bad edge is reported)")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    violations, files, includes = check(args.root)
    violations += check_trainer_seams(args.root)
    if violations:
        print(f"layering: {len(violations)} violation(s) of the layer order "
              "(STYLE.md \"Layers\"):")
        for v in violations:
            print(f"  {v}")
        return 1
    print(f"layering: ok ({files} files, {includes} includes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
