"""Faults during a run, each for real: the shared container killed from outside, a probe
process killed inside it, the image removed, the engine gone (DOCKER_HOST at a socket that
goes away), an xdist worker killed. Each ends in a clear message (no traceback, no
internal error); the other image of the run is still judged (the reference, which passes
all of these checks); nothing is left after the next run's sweep.

The image under fault is an alias tag of the reference made for the test, so removing it
costs nothing; it runs first, so the reference runs after the fault."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import docker
import pytest

from helpers import REFERENCE, ROOT, checks_of, labelled_containers, start_inner

CHECKS = ("tests/test_versions.py", "tests/test_onnx.py", "tests/test_dataloader.py", "tests/test_imports.py",
          "tests/test_mounts.py")
WAIT = 300


@pytest.fixture
def alias(docker_client, fixture_image, tmp_path):
    """A tag of the reference of its own (removing it removes nothing else), holding the
    reference's promises in a copy of images.yaml (images_file(tmp_path))."""
    fixture_image(REFERENCE)
    tag = f"imagecheck-selftest/faults:{uuid.uuid4().hex[:8]}"
    docker_client.images.get(REFERENCE).tag(tag)
    (tmp_path / "images.yaml").write_text((ROOT / "images.yaml").read_text()
                                          + f"  {tag}:\n    <<: *v26\n    run_by_default: false\n")
    yield tag
    try:
        docker_client.images.remove(tag)
    except docker.errors.ImageNotFound:
        pass


def promises(tmp_path) -> str:
    """The --images-file option of the alias's promises (the fixture wrote them)."""
    return f"--images-file={tmp_path / 'images.yaml'}"


def running_container(client, image: str, role: str = "probe", pid: str | None = None, timeout: float = WAIT):
    """Wait until the run has a running container of this image and role; return it."""
    deadline = time.monotonic() + timeout
    labels = {"image": image, "role": role, **({"pid": pid} if pid else {})}
    while time.monotonic() < deadline:
        running = [c for c in labelled_containers(client, **labels) if c.status == "running"]
        if running:
            return running[0]
        time.sleep(0.2)
    pytest.fail(f"no running {role} container of {image} within {timeout} s")


def in_the_container(container, command: list[str]) -> int:
    """Run a command in the run's container as root; its exit code (the container must be up)."""
    try:
        return container.exec_run(command, user="0").exit_code
    except docker.errors.APIError as error:
        pytest.fail(f"the run's container went away before the fault was made: {error}")


def wait_for_a_probe(container, name: str = "facts") -> None:
    """Wait until the probe runs in the container (the fault then comes mid-run)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if in_the_container(container, ["pgrep", "-f", f"probes/{name}.py"]) == 0:
            return
        time.sleep(0.1)
    pytest.fail(f"the {name} probe never ran in the shared container")


def sweep() -> str:
    """The next run's sweep, as `make clean` runs it."""
    return subprocess.run([sys.executable, "-m", "imagecheck.runtime.lifecycle"], capture_output=True, text=True,
                          timeout=300).stdout


def judged_clearly(run, faulty: str) -> dict[str, str]:
    """The faulty image's failures by check (first lines); the run's output holds no traceback
    nor internal error, and the reference passed every check."""
    output = run.stdout + run.stderr
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-4000:]
    refs = (faulty, REFERENCE)
    reference = checks_of(run.outcomes, REFERENCE, refs)
    assert reference and all(run.outcomes[name].outcome == "passed" for name in reference), {
        name: run.outcomes[name].message[:300] for name in reference if run.outcomes[name].outcome != "passed"}
    return {name: run.message(name).strip().splitlines()[0] for name in checks_of(run.outcomes, faulty, refs)
            if run.outcomes[name].outcome in ("failed", "error")}


def test_the_shared_container_killed_from_outside(alias, docker_client, tmp_path):
    run = start_inner(tmp_path, promises(tmp_path), "--image", alias, "--image", REFERENCE, tests=CHECKS)
    try:
        container = running_container(docker_client, alias)
        wait_for_a_probe(container)
        container.kill()
        result = run.wait(900)
    finally:
        run.kill()
    failures = judged_clearly(result, alias)
    assert failures, "killing the shared container failed no check of its image"
    for name, line in failures.items():
        assert "lost its container" in line or "could not run" in line or "printed no JSON" in line \
            or "the first attempt failed" in line, f"{name}: {line}"
    sweep()
    assert labelled_containers(docker_client, pid=str(run.process.pid)) == []


def test_a_probe_process_killed_inside_the_container(alias, docker_client, tmp_path):
    run = start_inner(tmp_path, promises(tmp_path), "--image", alias, "--image", REFERENCE, tests=CHECKS)
    try:
        container = running_container(docker_client, alias)
        deadline = time.monotonic() + WAIT
        while in_the_container(container, ["pkill", "-KILL", "-f", "probes/onnx_export.py"]) != 0:
            if time.monotonic() > deadline:
                pytest.fail("the ONNX probe never ran in the shared container")
            time.sleep(0.1)
        result = run.wait(900)
    finally:
        run.kill()
    failures = judged_clearly(result, alias)
    onnx = next(name for name in result.outcomes if "test_torchvision_model_exports" in name and alias in name)
    assert set(failures) == {onnx}, f"killing one probe failed more than its check: {failures}"
    assert "killed by SIGKILL" in result.message(onnx), result.message(onnx)[:800]
    later = next(name for name in result.outcomes if "test_dataloader" in name and alias in name)
    assert result.outcomes[later].outcome == "passed", "a probe beside the killed one must still run in the container"


def test_the_image_removed_while_the_run_goes_on(alias, docker_client, tmp_path):
    run = start_inner(tmp_path, promises(tmp_path), "--image", alias, "--image", REFERENCE, tests=CHECKS)
    try:
        running_container(docker_client, alias)
        docker_client.images.remove(alias)  # the tag: the running container keeps its layers
        result = run.wait(900)
    finally:
        run.kill()
    failures = judged_clearly(result, alias)
    # the mounts check starts a container of its own after the fact checks; the DataLoader's
    # second container (Docker's default /dev/shm) begins beside the facts probe, often before the removal
    needing_a_new_container = [name for name in failures if "_mount" in name or "dataloader" in name]
    assert any("_mount" in name for name in needing_a_new_container), \
        f"no check that starts another container failed: {failures}"
    for name in needing_a_new_container:
        assert f"image {alias} is not present on this Docker engine" in result.message(name), result.message(name)[:600]


class SocketProxy:
    """A unix socket that forwards to the engine's own socket, until stop()."""

    def __init__(self, path: str, target: str = "/var/run/docker.sock") -> None:
        self.path, self.target = path, target
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen(64)
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self.server.close()
        os.unlink(self.path)
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass


def test_the_engine_gone_while_the_run_goes_on(alias, docker_client, tmp_path):
    proxy = SocketProxy(str(tmp_path / "engine.sock"))
    env = {**os.environ, "DOCKER_HOST": f"unix://{proxy.path}"}
    run = start_inner(tmp_path, promises(tmp_path), "--image", alias, tests=CHECKS, env=env)
    try:
        running_container(docker_client, alias)
        proxy.stop()
        result = run.wait(900)
    finally:
        run.kill()
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-4000:]
    assert result.ret == 1
    failed = result.names("failed") | result.names("error")
    assert failed, output[-3000:]
    for name in failed:
        message = result.message(name)
        assert "Docker engine" in message or "lost its container or the engine" in message, f"{name}: {message[:600]}"
    left = labelled_containers(docker_client, pid=str(run.process.pid))
    assert left, "the engine was gone: the run could not have removed its containers (the test proves nothing)"
    assert "removed container" in sweep()
    assert labelled_containers(docker_client, pid=str(run.process.pid)) == []


def test_an_xdist_worker_killed_while_it_runs(alias, docker_client, tmp_path):
    run = start_inner(tmp_path, promises(tmp_path), "-n", "2", "--image", alias, "--image", REFERENCE, tests=CHECKS)
    try:
        container = running_container(docker_client, alias)
        worker = int(container.labels["imagecheck.pid"])
        assert worker != run.process.pid, "the container belongs to the controller, not a worker"
        os.kill(worker, signal.SIGKILL)
        result = run.wait(900)
    finally:
        run.kill()
    output = result.stdout + result.stderr
    assert "INTERNALERROR" not in output, output[-4000:]
    assert "crashed" in output or "worker" in output.lower(), output[-3000:]
    reference = checks_of(result.outcomes, REFERENCE, (alias, REFERENCE))
    assert reference and all(result.outcomes[n].outcome == "passed" for n in reference)
    assert labelled_containers(docker_client, pid=str(worker)), "a killed worker cannot remove its containers"
    sweep()
    assert labelled_containers(docker_client, pid=str(worker)) == []
