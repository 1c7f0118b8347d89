"""What the self-tests share besides fixtures: paths, image names, and how to read an
inner run (JUnit outcomes) and the engine (labelled containers, create events)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from imagecheck.pytest_plugin.scheduling import image_of
from imagecheck.runtime.lifecycle import PID_LABEL, RUN_LABEL, process_is_alive

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "pytorch-cuda:v2.6"
SEEDRECIPE = "pytorch-cuda:v2.6-seedrecipe"


@dataclass
class Outcome:
    """One check's result in an inner run: passed, failed, skipped or error, and why."""

    outcome: str
    message: str


@dataclass
class SuiteRun:
    """An inner `pytest` run of the suite: exit code, output and each check's outcome."""

    ret: int
    stdout: str
    outcomes: dict[str, Outcome]
    started: float
    finished: float
    workdir: Path | None = None  # where the run's JUnit files are
    stderr: str = ""

    def names(self, outcome: str) -> set[str]:
        return {name for name, o in self.outcomes.items() if o.outcome == outcome}

    def message(self, name: str) -> str:
        return self.outcomes[name].message

    @property
    def lines(self) -> pytest.LineMatcher:
        """Its output (stdout, then stderr), for fnmatch_lines."""
        return pytest.LineMatcher((self.stdout + self.stderr).splitlines())


@dataclass
class Case:
    """One test case of a JUnit XML file: outcome and message, time, file, properties."""

    name: str
    outcome: str
    message: str
    time: float
    file: str
    properties: dict = field(default_factory=dict)


def junit_cases(path: Path) -> list[Case]:
    """Every test case of a JUnit XML file (property values that are JSON decoded): the one
    JUnit reader of the self-tests."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (element.get("message") or "") + "\n" + (element.text or "")
                break
        properties = {}
        for prop in case.iter("property"):
            value = prop.get("value")
            try:
                value = json.loads(value)
            except (TypeError, ValueError):
                pass
            properties[prop.get("name")] = value
        cases.append(Case(case.get("name"), outcome, message, float(case.get("time") or 0),
                          case.get("classname"), properties))
    return cases


def parse_junit(path: Path) -> dict[str, Outcome]:
    """Outcomes by test name (test_x[image-param]) from a JUnit XML file."""
    return {case.name: Outcome(case.outcome, case.message) for case in junit_cases(path)}


def labelled_containers(client: docker.DockerClient, **labels: str) -> list:
    """Containers (running or not) that carry imagecheck.run and the given label values (a
    container removed while they are listed is left out, not an error)."""
    filters = [RUN_LABEL] + [f"imagecheck.{k}={v}" for k, v in labels.items()]
    for _ in range(10):
        try:
            return client.containers.list(all=True, filters={"label": filters})
        except docker.errors.NotFound:  # removed between the engine's list and its inspect
            time.sleep(0.2)
    return client.containers.list(all=True, filters={"label": filters})


def containers_created(client: docker.DockerClient, since: float, until: float, **labels: str) -> list[dict]:
    """Container 'create' events in a time window, filtered by imagecheck labels, of runs
    whose pytest process has ended: an inner run that finished, not another run of the
    same image going on beside the self-tests."""
    filters = {"type": "container", "event": "create",
               "label": [RUN_LABEL] + [f"imagecheck.{k}={v}" for k, v in labels.items()]}
    events = client.events(since=int(since), until=int(until) + 1, filters=filters, decode=True)
    return [e for e in events if not process_is_alive(e.get("Actor", {}).get("Attributes", {}).get(PID_LABEL))]


def suite_args(*args: str, tests: tuple[str, ...] = ("tests",)) -> list[str]:
    """pytest arguments that run the suite's tests (paths under the project root) with the
    project's configuration, from any working folder."""
    return [*[str(ROOT / t) for t in tests], "--rootdir", str(ROOT), "-p", "no:cacheprovider", *args]


@dataclass
class InnerRun:
    """An inner run going on in the background (its own process group); wait() for its end."""

    process: subprocess.Popen
    workdir: Path
    junit: Path
    started: float
    stdout_path: Path
    stderr_path: Path

    def wait(self, timeout: float) -> SuiteRun:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
            raise
        outcomes = parse_junit(self.junit) if self.junit.exists() else {}
        return SuiteRun(code, self.stdout_path.read_text(errors="replace"), outcomes, self.started, time.time(),
                        self.workdir, self.stderr_path.read_text(errors="replace"))

    def kill(self) -> None:
        """SIGKILL the run's whole process group (xdist workers too), if it still runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


def start_inner(workdir: Path, *args: str, tests: tuple[str, ...] = ("tests",),
                env: dict[str, str] | None = None) -> InnerRun:
    """The suite in a subprocess, from workdir, its JUnit XML and output there: the one way
    the self-tests launch an inner run (the suite's own tests, the project's configuration)."""
    stamp = time.monotonic_ns()
    junit, out, err = (workdir / f"junit-{stamp}.xml", workdir / f"stdout-{stamp}.txt", workdir / f"stderr-{stamp}.txt")
    with out.open("w") as stdout, err.open("w") as stderr:  # the child keeps its own copies
        process = subprocess.Popen([sys.executable, "-m", "pytest",
                                    *suite_args(f"--junitxml={junit}", "-rA", *args, tests=tests)],
                                   cwd=workdir, stdout=stdout, stderr=stderr, env=env, start_new_session=True)
    return InnerRun(process, workdir, junit, time.time(), out, err)


def run_inner(workdir: Path, *args: str, tests: tuple[str, ...] = ("tests",), timeout: float = 1800,
              env: dict[str, str] | None = None) -> SuiteRun:
    """start_inner() and wait for its end."""
    return start_inner(workdir, *args, tests=tests, env=env).wait(timeout)


def checks_of(names, ref: str, refs) -> set[str]:
    """The test names (test_x[REF-param]) whose parameter id belongs to ref, among refs."""
    return {name for name in names if image_of(name, list(refs)) == ref}
