"""Using the suite: the header names the images, the GPU access and the mode; progress
lines show while output is captured, also on xdist workers; `pytest --fixtures`
documents every public fixture."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from helpers import REFERENCE, ROOT, SEEDRECIPE

PUBLIC_FIXTURES = {"image", "facts", "evidence", "require_gpus", "progress", "services", "services_as_started", "ddp_runs"}


def pytest_output(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    return proc.stdout + proc.stderr


def test_every_public_fixture_is_documented():
    output = pytest_output("--fixtures", "tests/test_versions.py", "--image", REFERENCE)
    blocks = re.split(r"\n(?=\S)", output)
    ours = {}
    for block in blocks:
        match = re.match(r"(\w+)(?: \[\w+ scope\])? -- (imagecheck/\S+|tests/\S+):\d+", block)
        if match:
            ours[match.group(1)] = block
    assert PUBLIC_FIXTURES <= set(ours), f"pytest --fixtures does not list {PUBLIC_FIXTURES - set(ours)}"
    undocumented = [name for name, block in ours.items() if "no docstring available" in block]
    assert not undocumented, f"fixtures without a docstring: {undocumented}"
    assert "_image_under_test" not in ours  # private: shown only with -v


def test_readme_names_every_public_fixture():
    readme = (ROOT / "README.md").read_text()
    sentence = re.search(r"`pytest --fixtures` documents the fixtures a check can use:([^.]*)\.", readme)
    assert sentence, "README.md no longer says which fixtures `pytest --fixtures` documents"
    named = set(re.findall(r"`(\w+)`", sentence.group(1)))
    assert named == PUBLIC_FIXTURES, f"README.md names {sorted(named)}, the public fixtures are {sorted(PUBLIC_FIXTURES)}"


def test_header_names_images_gpu_access_mode_and_report(tmp_path):
    output = pytest_output("--collect-only", "tests/test_versions.py", "--image", REFERENCE, "--image", SEEDRECIPE,
                           "--signoff-report", str(tmp_path))
    header = output[:output.index("collected")]
    assert f"  image {REFERENCE}\n" in header and f"  image {SEEDRECIPE}\n" in header
    assert re.search(r"^  GPU access: (none|toolkit|devices) \(", header, re.M), header
    assert "  mode: development" in header
    assert f"  sign-off report: {tmp_path}/" in header
    release = pytest_output("--collect-only", "tests/test_versions.py", "--image", REFERENCE, "--require-gpu")
    assert "  mode: release sign-off (--require-gpu)" in release


SLOW_CHECK = '''
import time


def test_a_long_step(progress):
    print("this line is captured")
    progress("preparing")
    with progress.step("compiling", heartbeat=0.4):
        time.sleep(1.0)


def test_a_failing_step(progress):
    with progress.step("exporting"):
        raise RuntimeError("boom")
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_progress_lines_show_while_output_is_captured(pytester, workers):
    pytester.makepyfile(test_slow=SLOW_CHECK)
    # the plugin by its pytest11 entry point's name (loading its module by name would register it twice)
    result = pytester.runpytest_subprocess("-p", "imagecheck", "--images-file", str(ROOT / "images.yaml"),
                                           "-p", "no:cacheprovider", *workers)
    output = result.stdout.str() + result.stderr.str()
    prefix = r"\[imagecheck gw\d\]" if workers else r"\[imagecheck\]"
    for line in (r"preparing", r"compiling \.\.\.", r"compiling: still running after \d+ s",
                 r"compiling: done in 1\.\d s", r"exporting: stopped by an error after 0\.\d s"):
        assert re.search(rf"^{prefix} {line}$", output, re.M), f"no progress line {line!r} in:\n{output}"
    assert "this line is captured" not in output.split("Captured stdout")[0]
    result.assert_outcomes(passed=1, failed=1)
