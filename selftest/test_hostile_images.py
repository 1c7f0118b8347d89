"""Hostile images (fixtures/images/hostile/): what an unvetted image throws at the suite
neither fools, hangs nor harms a run.

- noisy: its python prints a banner (markup, bytes that are not UTF-8) at every start and
  3 MB at exit, its entrypoint a banner: the probes' protocol and the checks do not notice,
  it fails exactly what the reference fails (nothing, on these checks);
- python-hangs: its python hangs at start: the interpreter is tried once (timeouts.start),
  and every check that needs python fails with that one cause, later ones at once;
- markup: HTML and Markdown in its labels, environment and a setuid file's name: the one
  defect is named, and every report shows the strings as text (HTML, Markdown, JUnit);
- fork-storm: its default command starts 3000 processes; the pids limit holds them in
  their container, the services never come up and say so, nothing is left behind.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from helpers import REFERENCE, labelled_containers, run_inner

PROTOCOL_CHECKS = ("tests/test_versions.py", "tests/test_imports.py", "tests/test_pip_check.py",
                   "tests/test_users.py", "tests/test_process.py", "tests/test_ports.py",
                   "tests/test_arbitrary_uid.py")
NOISY, HANGS, MARKUP, FORKS = ("pytorch-cuda:v2.6-noisy", "pytorch-cuda:v2.6-python-hangs",
                               "pytorch-cuda:v2.6-markup", "pytorch-cuda:v2.6-fork-storm")


def outcomes_by_check(run, ref: str) -> dict[str, str]:
    """check name without the image -> outcome, for one image of a run."""
    return {name.replace(f"{ref}-", "").replace(f"[{ref}]", ""): o.outcome for name, o in run.outcomes.items()}


def outside_code(markdown: str) -> str:
    """Markdown without its fenced code blocks and code spans (which show text as it is)."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", markdown, flags=re.S))


@pytest.fixture
def no_leftovers(docker_client):
    """No container of a hostile image outlives its run (runs of other images may go on beside)."""
    yield
    left = [c.name for ref in (NOISY, HANGS, MARKUP, FORKS) for c in labelled_containers(docker_client, image=ref)]
    assert left == [], f"a run left containers behind: {left}"


def test_a_noisy_image_fails_exactly_what_the_reference_fails(tmp_path, fixture_image, no_leftovers):
    fixture_image(NOISY)
    for name in ("reference", "noisy"):
        (tmp_path / name).mkdir()
    reference = run_inner(tmp_path / "reference", "--image", REFERENCE, tests=PROTOCOL_CHECKS, timeout=1200)
    noisy = run_inner(tmp_path / "noisy", "--image", NOISY, tests=PROTOCOL_CHECKS, timeout=1200)
    assert outcomes_by_check(noisy, NOISY) == outcomes_by_check(reference, REFERENCE), noisy.stdout[-4000:]
    assert "Traceback" not in noisy.stdout


def test_a_python_that_hangs_at_start_is_one_cause_found_once(tmp_path, fixture_image, no_leftovers):
    fixture_image(HANGS)
    run = run_inner(tmp_path, "--image", HANGS, tests=("tests",), timeout=1500)
    cause = "the image's python3 did not start within timeouts.start (20 s)"
    failing = run.names("failed") | run.names("error")
    with_cause = {name for name in failing if cause in run.message(name)}
    assert len(with_cause) >= 30, f"only {len(with_cause)} checks name the one cause:\n{run.stdout[-3000:]}"
    repeated = {name for name in with_cause if "the first attempt failed; later checks report the same" in run.message(name)}
    assert len(repeated) >= len(with_cause) - 3, "later checks waited for the interpreter again instead of " \
                                                 "reporting the first attempt's failure"
    others = {name: run.message(name).strip().splitlines()[0] for name in failing - with_cause}
    assert all("python" in line or "torch.compile" in line for line in others.values()), others
    assert "Traceback" not in run.stdout and "INTERNALERROR" not in run.stdout


def test_markup_from_the_image_is_text_in_every_report(tmp_path, fixture_image, no_leftovers):
    fixture_image(MARKUP)
    report = tmp_path / "report"
    run = run_inner(tmp_path, "--image", MARKUP, "--signoff-report", str(report),
                    tests=("tests/test_filesystem.py", "tests/test_versions.py"), timeout=900)
    setuid = next(name for name in run.names("failed") if "setuid" in name)
    assert "/usr/local/bin/<script>x<script>" in run.message(setuid)
    page, markdown = (report / "report.html").read_text(), (report / "report.md").read_text()
    for raw in ("<script>x<script>", "<script>alert('label')</script>", "<img src=x onerror=alert('env')>",
                "<b>key</b>"):
        assert raw not in page, f"report.html holds {raw!r} as markup"
    assert "&lt;script&gt;x&lt;script&gt;" in page
    for raw in ("<script", "<img", "[link](javascript", "<b>key"):
        assert raw not in outside_code(markdown), f"report.md holds {raw!r} as markup"
    assert "&lt;script&gt;x&lt;script&gt;" in markdown
    junit = ET.parse(next(tmp_path.glob("junit-*.xml")))  # parses: nothing the image wrote broke the XML
    assert any("<script>x<script>" in (case.find("failure").get("message") or "")
               for case in junit.iter("testcase") if case.find("failure") is not None)
    labels = json.loads((report / "report.json").read_text())["images"][0]["image"]["labels"]
    assert labels["org.example.note"].startswith("<script>alert('label')</script>")  # kept as data in JSON


def test_a_fork_storm_is_held_by_the_pids_limit(tmp_path, fixture_image, no_leftovers):
    fixture_image(FORKS)
    run = run_inner(tmp_path, "--image", FORKS, tests=("tests/test_ports.py",), timeout=900)
    answers = next(name for name in run.outcomes if "every_listed_port_answers" in name)
    message = run.message(answers)
    assert run.outcomes[answers].outcome in ("failed", "error"), message[:2000]
    assert "stopped before its ports answered" in message and "Cannot fork" in message, message[:3000]
    exposed = next(name for name in run.outcomes if "exposed_ports_equal" in name)
    assert run.outcomes[exposed].outcome == "passed"
    assert "Traceback" not in run.stdout
