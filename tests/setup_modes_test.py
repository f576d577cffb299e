#!/usr/bin/env python3
"""scripts/setup.sh's two modes: `main` (scripts/run-main.sh) installs and builds only what the
main job needs, `test` (scripts/test.sh) adds the test tools and every target. Checks the package
lists (setup.sh --list) and configures a fresh build folder the way `main` does, with GoogleTest
made unfindable, to show the main job's build needs none of the test tools."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(ROOT, "scripts", "setup.sh")


def listing(mode, flavour="debian"):
    env = dict(os.environ, KAKUREN_TORCH=flavour)
    out = subprocess.run(["bash", SETUP, "--list", mode], env=env, check=True,
                         capture_output=True, text=True).stdout
    packages = [line.split()[1] for line in out.splitlines() if line.startswith("package ")]
    targets = [line.split()[1] for line in out.splitlines() if line.startswith("target ")]
    return packages, targets


class SetupModes(unittest.TestCase):
    def test_main_is_a_subset_without_the_test_tools(self):
        for flavour in ("debian", "pypi"):
            main, main_targets = listing("main", flavour)
            test, test_targets = listing("test", flavour)
            self.assertLess(set(main), set(test), flavour)
            for tool in ("chromium", "clang-16", "libgtest-dev", "python3-numpy", "python3-h5py",
                         "python3-pil", "python3-torch", "slurmctld", "clang-format-14"):
                self.assertNotIn(tool, main, flavour)
            self.assertEqual(main_targets, ["kakuren", "kakuren_train_module"])
            self.assertEqual(test_targets, ["all"])
        self.assertIn("libtorch-dev", listing("main")[0])
        self.assertIn("dataset-fashion-mnist", listing("main")[0])

    def test_a_bad_mode_is_refused(self):
        p = subprocess.run(["bash", SETUP, "--list", "everything"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--list needs a mode: main or test", p.stderr)

    def test_main_configures_without_googletest_and_has_no_test_targets(self):
        build = tempfile.mkdtemp(prefix="kakuren-setup-main-")
        try:
            subprocess.run(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                            "-DKAKUREN_TESTS=OFF", "-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON"],
                           check=True, capture_output=True, text=True)
            help_text = subprocess.run(["cmake", "--build", build, "--target", "help"],
                                       check=True, capture_output=True, text=True).stdout
            targets = {line[4:].split()[0] for line in help_text.splitlines()
                       if line.startswith("... ")}
            self.assertIn("kakuren", targets)
            self.assertIn("kakuren_train_module", targets)
            self.assertEqual(sorted(t for t in targets if "test" in t or "bench" in t), [])
        finally:
            shutil.rmtree(build, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
