"""Every container the suite starts is removed: after a passing run, a failing run, Ctrl-C (also while work goes on in the background),
SIGTERM and a failed start; a crashed run's leftovers are swept by the next run. Bad
environments (image absent, engine down, no python, a container that exits, a command
that hangs) give a clear message, not a traceback. Real Docker, real images."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from helpers import REFERENCE, SEEDRECIPE, containers_created, labelled_containers, run_inner, start_inner

QUICK = ("tests/test_versions.py",)


def still_present(client, events) -> list[str]:
    """Containers of the given create events that still exist."""
    ids = {event["id"] for event in events}
    return [c.name for c in client.containers.list(all=True) if c.id in ids]


def start_suite(tmp_path, *args) -> subprocess.Popen:
    """The suite as a child process (its own process group)."""
    return start_inner(tmp_path, *args, tests=QUICK).process


def wait_for_probe_container(client, pid: int, timeout: float = 120):
    """Wait until the child has a running probe container; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [c for c in labelled_containers(client, pid=str(pid)) if c.status == "running"]
        if running:
            return running[0]
        time.sleep(0.2)
    pytest.fail(f"the suite (pid {pid}) started no container within {timeout} s")


def test_passing_run_leaves_no_container(run_suite, docker_client, fixture_image):
    fixture_image(REFERENCE)
    result = run_suite("--image", REFERENCE, tests=QUICK)
    assert result.ret == 0, result.stdout[-3000:]
    created = containers_created(docker_client, result.started, result.finished, image=REFERENCE)
    assert created, "the run started no container"
    assert still_present(docker_client, created) == []


def test_failing_run_leaves_no_container(run_suite, docker_client, fixture_image):
    fixture_image(SEEDRECIPE)
    result = run_suite("--image", SEEDRECIPE, tests=QUICK)
    assert result.ret == 1 and "test_version_is_as_promised[pytorch-cuda:v2.6-seedrecipe-torch]" in result.names("failed")
    created = containers_created(docker_client, result.started, result.finished, image=SEEDRECIPE)
    assert created and still_present(docker_client, created) == []


def interrupt_when_ready(tmp_path, docker_client, child: subprocess.Popen, signum: int,
                        ready=lambda: True) -> None:
    """Send signum once the child has a running probe container and ready() holds; the child
    must end as pytest's 'interrupted' (exit code 2) within 90 s, leaving no container."""
    try:
        wait_for_probe_container(docker_client, child.pid)
        deadline = time.monotonic() + 120
        while not ready():
            assert time.monotonic() < deadline, "the run never reached the state to interrupt it in"
            time.sleep(0.2)
        child.send_signal(signum)
        code = child.wait(timeout=90)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    output = "".join(path.read_text() for path in sorted(tmp_path.glob("std*-*.txt")))
    assert code == 2, f"expected pytest's 'interrupted' exit code 2, got {code}:\n{output[-2000:]}"
    assert labelled_containers(docker_client, pid=str(child.pid)) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_removes_its_containers(tmp_path, docker_client, fixture_image, signum):
    fixture_image(REFERENCE)
    interrupt_when_ready(tmp_path, docker_client, start_suite(tmp_path, "--image", REFERENCE), signum)


def syft_scans_of(image_id: str) -> list[str]:
    """The syft scans of that image still running on this machine (their command lines)."""
    found = subprocess.run(["pgrep", "-af", f"scan docker:{image_id}"], capture_output=True, text=True, timeout=30)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def test_an_interrupt_stops_the_work_in_the_background_and_leaves_nothing(tmp_path, docker_client, fixture_image):
    fixture_image(REFERENCE)
    image_id = docker_client.images.get(REFERENCE).id
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # no SBOM made yet: syft scans for minutes
    child = start_inner(tmp_path, "--image", REFERENCE, env=env,
                        tests=("tests/test_versions.py", "tests/test_sbom.py", "tests/test_dataloader.py",
                               "tests/test_derived_image.py", "tests/test_compile.py")).process
    # interrupted while the SBOM scan (begun beside the facts, as the compiles and the DataLoader) runs
    interrupt_when_ready(tmp_path, docker_client, child, signal.SIGINT, ready=lambda: bool(syft_scans_of(image_id)))
    assert syft_scans_of(image_id) == [], "a scan begun in the background outlived the run"


def test_crashed_run_is_swept_by_the_next_run(tmp_path, run_suite, docker_client, fixture_image):
    fixture_image(REFERENCE)
    child = start_suite(tmp_path, "--image", REFERENCE)
    try:
        leftover = wait_for_probe_container(docker_client, child.pid)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert [c.id for c in labelled_containers(docker_client, pid=str(child.pid))] == [leftover.id]
    result = run_suite("--image", REFERENCE, tests=QUICK)
    assert result.ret == 0, result.stdout[-3000:]
    assert labelled_containers(docker_client, pid=str(child.pid)) == []


def test_failed_start_is_removed_and_explained(run_suite, docker_client, fixture_image):
    fixture_image(REFERENCE)
    # The NVIDIA Container Toolkit is absent here, so a GPU device request fails at start.
    result = run_suite("--image", REFERENCE, "--gpu-mode", "toolkit", "--gpus", "0,1", tests=QUICK)
    assert result.ret == 1
    failed = result.names("failed")
    assert len(failed) == 5, result.stdout[-3000:]
    message = result.message(sorted(failed)[0])
    assert f"could not start a container of {REFERENCE}" in message
    assert "hint: the GPU access mode does not fit this host" in message
    created = containers_created(docker_client, result.started, result.finished, image=REFERENCE)
    assert len(created) == 1, "a failed start must not be retried by every later check"
    assert still_present(docker_client, created) == []


def test_absent_image_says_how_to_build_or_load_it(run_suite):
    result = run_suite("--image", "imagecheck-fixture/absent:never-built", "--pull", "never", tests=QUICK)
    assert result.ret == 1
    message = result.message(sorted(result.names("error") | result.names("failed"))[0])
    assert "image imagecheck-fixture/absent:never-built is not present on this Docker engine" in message
    assert "--pull never" in message and "make fixtures" in message and "docker load" in message
    assert "Traceback" not in result.stdout


def test_engine_down_is_explained(pytester, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = run_inner(pytester.path, "--image", REFERENCE, tests=QUICK, timeout=600)
    assert result.ret == 1
    text = result.stdout
    assert "cannot reach the Docker engine" in text and "unix:///nonexistent/docker.sock" in text
    assert "hint: start it" in text and "Traceback" not in text


def test_image_without_python_fails_each_probe_check_with_that_reason(run_suite, fixture_image):
    ref = fixture_image("imagecheck-fixture/no-python:latest")
    result = run_suite("--image", ref, tests=QUICK)
    assert result.ret == 1 and len(result.names("failed")) == 5
    for name in result.names("failed"):
        assert f"no python3 on PATH in {ref}" in result.message(name)
    assert "Traceback" not in result.stdout


def test_container_that_exits_at_once_is_explained(run_suite, docker_client, fixture_image):
    ref = fixture_image("imagecheck-fixture/no-sleep:latest")
    result = run_suite("--image", ref, tests=QUICK)
    assert result.ret == 1
    message = result.message(sorted(result.names("failed"))[0])
    assert f"a container of {ref} exited right after it started" in message and "exit code 127" in message
    created = containers_created(docker_client, result.started, result.finished, image=ref)
    assert still_present(docker_client, created) == []


def test_command_past_its_time_limit_is_killed_and_says_what_it_printed(run_suite, tmp_path, docker_client,
                                                                         fixture_image):
    fixture_image(REFERENCE)
    images = tmp_path / "images.yaml"
    images.write_text(f"images:\n  {REFERENCE}:\n    torch: \"2.6.0\"\n    timeouts: {{probe: 1}}\n")
    result = run_suite("--image", REFERENCE, "--images-file", str(images), tests=QUICK)
    assert result.ret == 1
    message = result.message(sorted(result.names("failed"))[0])
    assert "ran past its 1 s limit and was killed" in message and "last lines it printed" in message
    created = containers_created(docker_client, result.started, result.finished, image=REFERENCE)
    assert still_present(docker_client, created) == []
