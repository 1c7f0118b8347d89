"""Version matching and the release pairing data (pure logic: no Docker)."""
import pytest

from imagecheck.rules.pairings import (RELEASES, downgrade_hint, driver_satisfies, pairing_problems,
                               promise_problems, release_for_torch)
from imagecheck.rules.versions import matches, public


@pytest.mark.parametrize("expected, observed, ok", [
    ("2.6.0", "2.6.0+cu124", True),
    ("2.6", "2.6.3", True),
    ("2.6.0", "2.6.1", False),
    ("2.6.0+cu124", "2.6.0+cu124", True),
    ("2.6.0+cu124", "2.6.0+cu126", False),
    ("12.4", "12.4", True),
    ("12.1", "12.4", False),
    ("2.1", "2.10.0", False),
    ("9.1", "9.1.0.70", True),
    ("2.6.0", None, False),
])
def test_version_matching(expected, observed, ok):
    assert matches(expected, observed) is ok


def test_public_version_drops_the_local_part():
    assert public("2.6.0+cu124") == "2.6.0"


def test_every_release_row_is_distinct_and_ordered():
    torches = [r.torch for r in RELEASES]
    assert len(set(torches)) == len(torches)
    assert [tuple(map(int, t.split("."))) for t in torches] == sorted(tuple(map(int, t.split("."))) for t in torches)


def test_reference_stack_is_a_real_pairing():
    assert pairing_problems("2.6.0+cu124", "0.21.0+cu124", "2.6.0+cu124", "3.11.2", "2.4.6") == []


def test_articles_pairing_is_caught_against_the_promise():
    problems = promise_problems("2.6.0", "2.2.0+cu121", "0.17.0+cu121", "2.6.0+cu124")
    assert len(problems) == 1 and "torchvision 0.17.0+cu121" in problems[0] and "belongs to torch 2.2" in problems[0]


def test_a_mismatch_against_the_installed_torch_is_reported_once():
    assert promise_problems("2.6.0", "2.6.0+cu124", "0.17.0", None) == []
    problems = pairing_problems("2.6.0+cu124", "0.17.0", None, None)
    assert problems == ["torchvision 0.17.0 does not pair with torch 2.6.0+cu124: it belongs to torch 2.2, "
                        "torch 2.6 needs torchvision 0.21"]


def test_torchaudio_and_numpy_that_do_not_serve_torch_2_2():
    problems = pairing_problems("2.2.0+cu121", "0.17.0+cu121", "2.6.0+cu124", "3.11.2", "2.4.6")
    assert any("torchaudio 2.6.0+cu124 does not pair with torch 2.2.0" in p for p in problems)
    assert any("NumPy 2.4.6" in p for p in problems)


def test_python_outside_the_supported_range():
    assert any("Python 3.12" in p for p in pairing_problems("2.2.0", "0.17.0", None, "3.12.1"))


def test_unknown_torch_is_named():
    assert "not in the release table" in pairing_problems("1.13.1", None, None, None)[0]


def test_downgrade_is_explained():
    hint = downgrade_hint("2.2.0+cu121", "2.6.0", "0.17.0+cu121")
    assert "torchvision 0.17.0+cu121 requires torch 2.2.x" in hint and "downgraded" in hint
    assert downgrade_hint("2.6.0", "2.6.0", "0.21.0") is None


@pytest.mark.parametrize("driver, cuda, ok", [
    ("580.159.04", "13.0", True), ("550.54", "13.0", False), ("525.60.13", "12.4", True),
    ("470.82", "12.1", False), ("450.80.02", "11.8", True), ("450.80.01", "11.8", False)])
def test_driver_floors(driver, cuda, ok):
    assert driver_satisfies(driver, cuda) is ok


def test_torch_2_6_ships_cuda_12_4_by_default_and_no_12_1():
    release = release_for_torch("2.6.0")
    assert release.cuda_builds[0] == "12.4" and "12.1" not in release.cuda_builds and release.nccl == ("2.21.5",)
