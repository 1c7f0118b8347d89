"""Shared fixtures of the self-tests: run the suite through its command line (pytester,
in a subprocess) against real Docker and the fixture images, and read what it did."""
from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

pytest_plugins = ["pytester"]

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

    def names(self, outcome: str) -> set[str]:
        return {name for name, o in self.outcomes.items() if o.outcome == outcome}

    def message(self, name: str) -> str:
        return self.outcomes[name].message


def parse_junit(path: Path) -> dict[str, Outcome]:
    """Outcomes by test name (test_x[image-param]) from a JUnit XML file."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (element.get("message") or "") + "\n" + (element.text or "")
                break
        outcomes[case.get("name")] = Outcome(outcome, message)
    return outcomes


@pytest.fixture
def run_suite(pytester: pytest.Pytester):
    """run_suite(*args): the suite's tests (or the given test paths) in a subprocess."""

    def run(*args: str, tests: tuple[str, ...] = ("tests",), timeout: float = 1800) -> SuiteRun:
        junit = pytester.path / f"junit-{time.monotonic_ns()}.xml"
        paths = [str(ROOT / t) for t in tests]
        started = time.time()
        result = pytester.runpytest_subprocess(*paths, "--rootdir", str(ROOT), "-p", "no:cacheprovider",
                                               f"--junitxml={junit}", "-rA", *args, timeout=timeout)
        finished = time.time()
        outcomes = parse_junit(junit) if junit.exists() else {}
        return SuiteRun(int(result.ret), result.stdout.str() + result.stderr.str(), outcomes, started, finished)

    return run


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        pytest.fail(f"the self-tests need a running Docker engine: {error}", pytrace=False)
    return client


@pytest.fixture(scope="session")
def fixture_image(docker_client):
    """fixture_image(ref): the ref, after checking `make fixtures` built it."""

    def need(ref: str) -> str:
        try:
            docker_client.images.get(ref)
        except docker.errors.ImageNotFound:
            pytest.fail(f"fixture image {ref} is missing; run `make fixtures`", pytrace=False)
        return ref

    return need


def labelled_containers(client: docker.DockerClient, **labels: str) -> list:
    """Containers (running or not) that carry imagecheck.run and the given label values."""
    filters = ["imagecheck.run"] + [f"imagecheck.{k}={v}" for k, v in labels.items()]
    return client.containers.list(all=True, filters={"label": filters})


def containers_created(client: docker.DockerClient, since: float, until: float, **labels: str) -> list[dict]:
    """Container 'create' events in a time window, filtered by imagecheck labels."""
    filters = {"type": "container", "event": "create",
               "label": ["imagecheck.run"] + [f"imagecheck.{k}={v}" for k, v in labels.items()]}
    return list(client.events(since=int(since), until=int(until) + 1, filters=filters, decode=True))
