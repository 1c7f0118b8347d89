"""Copy the probes into a container, run one under a time limit, parse its JSON.

Probes live in fixtures/probes/ and run INSIDE the image with the image's own python3;
each prints one JSON object (its last line). They are copied with put_archive, so a
remote DOCKER_HOST works as well as the local socket.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import CommandTimeout, NoPython, ProbeError, PythonWontStart, explain
from ..runtime.target import ExecResult, Target

PROBES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "probes"
IN_CONTAINER_DIR = "/.imagecheck/probes"
PYTHON = "python3"


@dataclass
class ProbeResult:
    """A probe's JSON object and how its process ended."""

    name: str
    data: dict
    run: ExecResult


def probe_files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(PROBES_DIR.glob("*.py"))}


def install(target: Target, directory: str = IN_CONTAINER_DIR) -> str:
    """Copy every probe into the target; returns the folder they are in."""
    target.put_files(directory, probe_files())
    return directory


def run(target: Target, name: str, args: list[str] | tuple[str, ...] = (), *, timeout: float,
        directory: str = IN_CONTAINER_DIR, user: str | None = None,
        environment: dict[str, str] | None = None, python: str = PYTHON) -> ProbeResult:
    """Run probe `name` (a file in fixtures/probes) in the target and parse its JSON.

    NoPython when the image has no python3 on PATH; ProbeError when the probe crashes or
    prints no JSON object, with its last output lines.
    """
    if not (PROBES_DIR / f"{name}.py").exists():
        raise ValueError(f"no probe named {name!r} in {PROBES_DIR}")  # a defect in the suite
    result = target.exec([python, "-B", f"{directory}/{name}.py", *args], timeout=timeout,
                         user=user, environment=environment)
    if result.exit_code in (126, 127) and _python_missing(result, python):
        raise NoPython(f"no {python} on PATH in {target.image}; every probe needs the image's own "
                       "python3 (hint: install Python in the image, or check its PATH)")
    data = parse(result.stdout)
    if data is None:
        raise ProbeError(explain(
            f"probe {name} printed no JSON object in {target.image}",
            observed=f"{how_it_ended(result.exit_code)}; last lines:\n{result.tail()}", where=target.name,
            hint="the probe crashed, was killed, or the image's python could not run it"))
    return ProbeResult(name, data, result)


STARTED = "imagecheck-python-started"


def python_starts(target: Target, timeout: float, python: str = PYTHON) -> None:
    """The target's python starts, prints and exits within timeout seconds; NoPython when
    there is none, PythonWontStart (with what it printed) when it fails or hangs at start."""
    try:
        result = target.exec([python, "-c", f"print({STARTED!r})"], timeout=timeout)
    except CommandTimeout as error:
        raise PythonWontStart(explain(
            f"the image's {python} did not start within timeouts.start ({timeout:.0f} s) in {target.image}",
            expected=f"`{python} -c print(...)` prints and exits at once",
            observed=str(error).split("observed: ", 1)[-1].split("\n  where:")[0], where=target.name,
            hint="a .pth file or sitecustomize that blocks at interpreter start (site-packages) is the usual "
                 "cause; every check that needs python fails with this one cause")) from None
    if result.exit_code in (126, 127) and _python_missing(result, python):
        raise NoPython(f"no {python} on PATH in {target.image}; every probe needs the image's own "
                       "python3 (hint: install Python in the image, or check its PATH)")
    if not result.ok or STARTED not in result.stdout:
        raise PythonWontStart(explain(
            f"the image's {python} does not start in {target.image}",
            expected=f"`{python} -c print(...)` prints and exits with 0",
            observed=f"exit code {result.exit_code}; last lines:\n{result.tail()}", where=target.name,
            hint="every check that needs python fails with this one cause; fix the interpreter first"))


def how_it_ended(exit_code: int) -> str:
    """An exit code as words: 137 is a SIGKILL (the out-of-memory killer, or someone)."""
    if exit_code > 128 and exit_code - 128 in SIGNALS:
        return (f"exit code {exit_code}: killed by {SIGNALS[exit_code - 128]} "
                + ("(the container's memory limit, or a kill from outside the suite)" if exit_code == 137 else
                   "(from outside the suite)"))
    return f"exit code {exit_code}"


SIGNALS = {9: "SIGKILL", 15: "SIGTERM", 6: "SIGABRT", 11: "SIGSEGV", 2: "SIGINT", 1: "SIGHUP"}


def parse(stdout: str) -> dict | None:
    """The last line of stdout that is a JSON object, or None."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _python_missing(result: ExecResult, python: str) -> bool:
    text = (result.stderr + result.stdout).lower()
    return "not found" in text and python in text or "no such file or directory" in text and python in text
