"""Fixtures of the self-tests: run the suite through its command line (pytester, in a
subprocess) against real Docker and the fixture images."""
from __future__ import annotations

import signal

import docker
import pytest

from helpers import SuiteRun, run_inner

pytest_plugins = ["pytester"]

# A CI job started in the background inherits SIGINT ignored, and so would every inner run:
# Ctrl-C would then not reach them. The self-tests interrupt inner runs as a user's Ctrl-C
# does, so Ctrl-C gets its default meaning back (a handled signal is reset at exec, an
# ignored one is not).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def run_suite(pytester: pytest.Pytester):
    """run_suite(*args): the suite's tests (or the given test paths) in a subprocess."""

    def run(*args: str, tests: tuple[str, ...] = ("tests",), timeout: float = 1800) -> SuiteRun:
        run = run_inner(pytester.path, *args, tests=tests, timeout=timeout)
        run.stdout, run.stderr = run.stdout + run.stderr, ""  # the checks read the output as one text
        return run

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


