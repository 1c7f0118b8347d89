"""The order of an image's checks (pytest_plugin/order.py) and what begins with its first
check (image.begin()): its services first, while the facts probe and the companions run
in the background; the facts next; the rest; the checks that measure last."""
from __future__ import annotations

import pytest

from helpers import REFERENCE, ROOT
from imagecheck.pytest_plugin.order import TIERS, tier

INNER_CHECKS = '''
import pytest

ran = []


@pytest.mark.measures
def test_measures(image):
    ran.append("measures")
    assert ran == ["services", "facts", "other", "measures"], ran


@pytest.mark.facts
def test_reads_the_facts(image):
    ran.append("facts")
    assert image.facts().imports("torch")


def test_other(image):
    ran.append("other")


@pytest.mark.services
def test_services(image):
    ran.append("services")
    assert image.memo.started(("probe", "facts")) == image.reads_facts, (
        f"facts probe begun: {image.memo.started(('probe', 'facts'))}, a selected check reads the facts: "
        f"{image.reads_facts}")
'''


@pytest.mark.parametrize("markers, expected", [
    ({"services"}, "services"), ({"facts", "filesystem_walk"}, "facts"), ({"compiles", "measures"}, "measures"),
    ({"slow", "measures", "gpu"}, "measures"), (set(), ""), ({"derived_image"}, ""), ({"onnx", "slow"}, ""),
])
def test_a_check_takes_the_tier_of_its_markers(markers, expected):
    assert tier(markers) == TIERS.index(expected)


def test_the_suite_runs_services_first_and_measures_last():
    """The order pytest collects for the reference: every services check before every facts
    check, every measuring check last."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
                           "--image", REFERENCE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    ids = [line for line in proc.stdout.splitlines() if line.startswith("tests/")]
    assert ids, proc.stdout + proc.stderr
    modules = [line.split("::")[0] for line in ids]
    assert modules[0] in {"tests/test_jupyter.py", "tests/test_ssh.py", "tests/test_process.py", "tests/test_ports.py"}
    first_fact = ids.index(next(line for line in ids if "test_cuda.py::test_torch_is_built" in line))
    last_service = max(i for i, line in enumerate(ids) if "test_ssh.py" in line or "test_jupyter.py" in line)
    assert last_service < first_fact
    measuring = [i for i, line in enumerate(ids) if line.split("::")[0] in
                 {"tests/test_ddp.py", "tests/test_ddp_multinode.py", "tests/test_gpu_speed.py"}]
    assert min(measuring) > max(i for i, line in enumerate(ids) if "test_onnx.py" in line or "test_sbom.py" in line)


@pytest.mark.parametrize("selection", [[], ["-k", "services"]], ids=["every check", "the services check alone"])
def test_the_facts_probe_begins_with_the_first_check_when_a_check_reads_the_facts(pytester, selection):
    pytester.makepyfile(test_order=INNER_CHECKS)
    result = pytester.runpytest_subprocess("-p", "imagecheck", "--images-file", str(ROOT / "images.yaml"),
                                           "--image", REFERENCE, "-p", "no:cacheprovider", *selection)
    result.assert_outcomes(passed=1 if selection else 4)
