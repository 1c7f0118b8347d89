"""Run container-structure-test style command tests the way that tool does: for every
test, create a NEW container of the image with the test's command (entrypoint cleared),
run it to completion, read its output, check exit code and output patterns, remove it.

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
                                         labels={"imagecheck.bench": "naive"})
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


def run_all(image: str, config: Path) -> tuple[float, int, int]:
    """Every command test in the file; (total seconds, passed, total)."""
    client = docker.from_env(timeout=600)
    tests = yaml.safe_load(config.read_text())["commandTests"]
    started = time.monotonic()
    passed = 0
    for test in tests:
        ok, seconds, why = run_command_test(client, image, test)
        passed += ok
        print(f"  {'PASS' if ok else 'FAIL'} {test['name']:32} {seconds:6.1f} s {why}", flush=True)
    return time.monotonic() - started, passed, len(tests)


if __name__ == "__main__":
    total, passed, count = run_all(sys.argv[1], Path(sys.argv[2]))
    print(f"{passed}/{count} passed in {total:.1f} s")
