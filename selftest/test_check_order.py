"""The order of an image's checks (pytest_plugin/order.py) and what begins with its first
check (image.begin()): the facts first, the rest, the checks that measure last; the
companions its selected checks need begin with its first check, whichever it is."""
from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import REFERENCE, ROOT
from imagecheck.pytest_plugin.order import TIERS, tier

INNER_CHECKS = '''
import pytest

from imagecheck.image import filesystem_walk

ran = []


@pytest.mark.measures
def test_measures(image):
    ran.append("measures")
    assert ran[0] == ("facts" if image.reads_facts else "other") and ran[-1] == "measures", ran


def test_first_of_the_others(image):
    ran.append("other")
    walk = image.memo.started(("probe", "filesystem"))
    assert walk == ("filesystem_walk" in image.companions), (
        f"the walk begun when the first of the other checks runs: {walk}; a selected check reads it: "
        f"{'filesystem_walk' in image.companions}")


@pytest.mark.facts
def test_reads_the_facts(image):
    ran.append("facts")
    assert image.facts().imports("torch")


@pytest.mark.filesystem_walk
def test_reads_the_walk(image):
    ran.append("walk")
    assert filesystem_walk.facts(image), "the walk found nothing"
'''


@pytest.mark.parametrize("markers, expected", [
    ({"facts", "filesystem_walk"}, "facts"), ({"compiles", "measures"}, "measures"),
    ({"slow", "measures", "gpu"}, "measures"), ({"services"}, ""), (set(), ""), ({"derived_image"}, ""),
    ({"onnx", "slow"}, ""),
])
def test_a_check_takes_the_tier_of_its_markers(markers, expected):
    assert tier(markers) == TIERS.index(expected)


def test_the_suite_runs_the_facts_first_and_measures_last():
    """The order pytest collects for the reference: the fact checks first, the measuring
    checks (DDP, the GPU rates, torch.compile) last."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
                           "--image", REFERENCE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    ids = [line.split("::")[0] for line in proc.stdout.splitlines() if line.startswith("tests/")]
    assert ids, proc.stdout + proc.stderr
    facts_modules = {"tests/test_imports.py", "tests/test_versions.py", "tests/test_users.py", "tests/test_pip_check.py"}
    measuring = {"tests/test_ddp.py", "tests/test_ddp_multinode.py", "tests/test_gpu_speed.py", "tests/test_compile.py"}
    last_fact = max(i for i, module in enumerate(ids) if module in facts_modules)
    assert all(module not in {"tests/test_jupyter.py", "tests/test_onnx.py"} for module in ids[:last_fact]), ids
    first_measuring = min(i for i, module in enumerate(ids) if module in measuring)
    assert set(ids[first_measuring:]) <= measuring, ids[first_measuring:]


@pytest.mark.parametrize("selection, checks", [("not walk", 3), ("not facts", 3), ("", 4)],
                         ids=["no check reads the walk", "no check reads the facts", "every check"])
def test_the_companions_begin_with_the_first_check(pytester, selection, checks):
    """The first check that runs is not the one that reads the walk: the walk has begun all
    the same when a selected check reads it, and not otherwise."""
    pytester.makepyfile(test_order=INNER_CHECKS)
    result = pytester.runpytest_subprocess("-p", "imagecheck", "--images-file", str(ROOT / "images.yaml"),
                                           "--image", REFERENCE, "-p", "no:cacheprovider", "-k", selection)
    result.assert_outcomes(passed=checks)
