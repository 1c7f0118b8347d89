"""`make bench`'s peer configs are ones container-structure-test reads (its own parser, on
an image that does not exist, so no container starts) and write no `$` in a command (the
tool substitutes environment variables there), and `make -n -B bench` names its
steps: the bench extra installed, then bench/overhead.py, bench/nightly_reuse.py and
bench/whole_suite.py. The bench's figures are never asserted here."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import peer  # noqa: E402

MISSING_IMAGE = "imagecheck-selftest/no-such-image:0"
# container-structure-test's schema 2.0.0 (its README): the keys a command test may have
COMMAND_KEYS = {"name", "setup", "teardown", "command", "args", "envVars", "expectedOutput", "excludedOutput",
                "expectedError", "excludedError", "exitCode"}


def test_the_peer_configs_hold_the_fact_checks_once_each_in_the_tools_schema():
    names = []
    for config in peer.CONFIGS:
        spec = yaml.safe_load(config.read_text())
        assert spec["schemaVersion"] == "2.0.0", f"{config.name}: expected schemaVersion 2.0.0"
        for test in spec["commandTests"]:
            unknown = set(test) - COMMAND_KEYS
            assert not unknown, f"{config.name}: {test['name']} has keys the tool refuses: {sorted(unknown)}"
            for pattern in test.get("expectedOutput", []) + test.get("excludedOutput", []):
                re.compile(pattern)
            words = [test["command"], *test.get("args", [])]
            assert not any("$" in word for word in words), \
                f"{config.name}: {test['name']} writes a `$`, which the tool replaces with an environment value"
            names.append(test["name"])
    assert len(names) == 28 and len(set(names)) == 28, names
    root = yaml.safe_load(peer.CONFIGS[1].read_text())
    assert root["containerRunOptions"] == {"user": "root"}


def test_container_structure_test_parses_every_peer_config():
    try:
        binary, _ = peer.binary()
    except peer.PeerMissing as missing:
        pytest.skip(f"could not run here: {missing}")
    for config in peer.CONFIGS:
        proc = subprocess.run([binary, "test", "--image", MISSING_IMAGE, "--config", str(config), "--output", "json"],
                              capture_output=True, text=True, timeout=60)
        found = peer.results(proc.stdout, config)
        expected = [t["name"] for t in yaml.safe_load(config.read_text())["commandTests"]]
        assert [t.name for t in found][:len(expected)] == expected, json.dumps([t.errors for t in found])[:1000]
        assert all("no such image" in " ".join(t.errors) for t in found), [t.errors for t in found]


def test_make_bench_installs_the_bench_extra_then_runs_the_bench():
    proc = subprocess.run(["make", "-n", "-B", "bench"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    install = next((n for n, line in enumerate(lines) if "pip install" in line and ".[bench]" in line), None)
    bench = next((n for n, line in enumerate(lines) if "bench/overhead.py" in line), None)
    reuse = next((n for n, line in enumerate(lines) if "bench/nightly_reuse.py" in line), None)
    whole = next((n for n, line in enumerate(lines) if "bench/whole_suite.py" in line), None)
    assert None not in (install, bench, reuse, whole) and install < bench < reuse < whole, proc.stdout
