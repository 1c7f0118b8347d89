"""`make test` (what .ci/run runs) fails when pytest collects nothing: pytest's exit code 5
is a broken setup, not a pass."""
import subprocess

from helpers import ROOT


def test_make_test_fails_when_pytest_collects_nothing():
    proc = subprocess.run(["make", "test", "ARGS=-k no_check_is_named_like_this"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "make test: pytest collected no tests: the setup is broken" in proc.stdout

