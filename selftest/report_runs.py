"""Inner runs of the suite that write a sign-off report, for the report's self-tests."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers import ROOT

# A few fast modules: enough to pass the reference and block the recipe.
CHECKS = ("tests/test_versions.py", "tests/test_imports.py", "tests/test_release_pairing.py")


@dataclass
class ReportRun:
    """An inner run: exit code, terminal output, and the folder holding its report files."""

    ret: int
    output: str
    folder: Path

    @property
    def json(self) -> dict:
        return json.loads((self.folder / "report.json").read_text())

    def image(self, ref: str) -> dict:
        return next(i for i in self.json["images"] if i["ref"] == ref)


def run_with_report(folder: Path, *args: str, tests: tuple[str, ...] = CHECKS) -> ReportRun:
    """The suite in a subprocess, writing its sign-off report and JUnit XML into folder."""
    command = [sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "--signoff-report", str(folder),
               f"--junitxml={folder / 'junit.xml'}", *args]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    return ReportRun(proc.returncode, proc.stdout + proc.stderr, folder)
