"""Run container-structure-test style tests the way that tool does: for every command
test, create a NEW container of the image with the test's command (entrypoint cleared),
run it to completion, read its output, check exit code and output patterns, remove it;
metadata tests read the image's configuration without a container.

    python bench/naive_runner.py IMAGE bench/naive_fact_checks.yaml
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import docker
import yaml


def run_command_test(client: docker.DockerClient, image: str, test: dict) -> tuple[bool, float, str]:
    """One test in its own container: (passed, seconds, why)."""
    started = time.monotonic()
    container = client.containers.create(image, [test["command"], *test.get("args", [])], entrypoint=[],
                                         user=test.get("user"), labels={"imagecheck.bench": "naive"})
    try:
        container.start()
        code = container.wait(timeout=600)["StatusCode"]
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True)
    seconds = time.monotonic() - started
    if code != test.get("exitCode", 0):
        return False, seconds, f"exit code {code}"
    for pattern in test.get("expectedOutput", []):
        if not re.search(pattern, output, re.M):
            return False, seconds, f"expected output {pattern!r} not found"
    for pattern in test.get("excludedOutput", []):
        if re.search(pattern, output, re.M):
            return False, seconds, f"excluded output {pattern!r} found"
    return True, seconds, ""


def run_metadata_test(client: docker.DockerClient, image: str, test: dict) -> tuple[bool, float, str]:
    """One test of the image's configuration, read without a container: (passed, seconds, why)."""
    started = time.monotonic()
    attrs = client.images.get(image).attrs
    config = attrs.get("Config") or {}
    why = ""
    for pattern in test.get("envExcludes", []):
        if any(re.search(pattern, item) for item in config.get("Env") or []):
            why = f"an ENV entry matches {pattern!r}"
    for pattern in test.get("historyExcludes", []):
        if any(re.search(pattern, layer.get("CreatedBy") or "") for layer in client.images.get(image).history()):
            why = f"a build step matches {pattern!r}"
    if "exposedPorts" in test:
        exposed = sorted(key.split("/")[0] for key in config.get("ExposedPorts") or {})
        if exposed != sorted(test["exposedPorts"]):
            why = f"exposed ports {exposed}, expected {sorted(test['exposedPorts'])}"
    return not why, time.monotonic() - started, why


def run_all(image: str, config: Path) -> tuple[float, int, int]:
    """Every command test (a new container each) and metadata test in the file;
    (total seconds, passed, total)."""
    client = docker.from_env(timeout=600)
    spec = yaml.safe_load(config.read_text())
    tests = [(run_command_test, t) for t in spec.get("commandTests", [])]
    tests += [(run_metadata_test, t) for t in spec.get("metadataTest", [])]
    started = time.monotonic()
    passed = 0
    for runner, test in tests:
        ok, seconds, why = runner(client, image, test)
        passed += ok
        print(f"  {'PASS' if ok else 'FAIL'} {test['name']:45} {seconds:6.1f} s {why}", flush=True)
    return time.monotonic() - started, passed, len(tests)


if __name__ == "__main__":
    total, passed, count = run_all(sys.argv[1], Path(sys.argv[2]))
    print(f"{passed}/{count} passed in {total:.1f} s")
