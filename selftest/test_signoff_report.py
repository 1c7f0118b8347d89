"""The sign-off report from real runs of the suite on the reference image and the
articles' recipe: verdicts with reasons first in all three formats, in one process and
with `-n 2`; evidence in the report and in JUnit; the image and host recorded as the
engine reports them; a baseline comparison of the two images' reports."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from helpers import REFERENCE, ROOT, SEEDRECIPE
from report_runs import ReportRun, run_with_report


@pytest.fixture(scope="module", params=["one process", "-n 2"])
def both(request, tmp_path_factory, fixture_image) -> ReportRun:
    """The reference and the recipe in one run, with and without xdist."""
    extra = ["-n", "2"] if request.param == "-n 2" else []
    folder = tmp_path_factory.mktemp("signoff")
    return run_with_report(folder, "--image", fixture_image(REFERENCE), "--image", fixture_image(SEEDRECIPE), *extra)


def test_reference_is_signed_off_and_recipe_blocked(both):
    assert both.ret == 1, both.output[-3000:]
    report = both.json
    assert [(i["ref"], i["verdict"]) for i in report["images"]] == [(REFERENCE, "SIGNED OFF"), (SEEDRECIPE, "BLOCKED")]
    assert report["summary"] == {"verdict": "BLOCKED", "images": 2, "signed_off": 1, "blocked": 1}
    assert both.image(REFERENCE)["reasons"] == []
    reasons = both.image(SEEDRECIPE)["reasons"]
    assert any("test_version_is_as_promised[torch] failed" in r and "2.2.0" in r for r in reasons), reasons
    assert any("test_version_is_as_promised[torchvision] failed" in r and "0.17.0" in r for r in reasons), reasons


def test_terminal_summary_names_verdicts_and_files(both):
    summary = both.output[both.output.index("imagecheck sign-off"):]
    lines = summary.splitlines()
    assert any(line.startswith(REFERENCE + " ") and "SIGNED OFF" in line for line in lines)
    blocked = next(n for n, line in enumerate(lines) if line.startswith(SEEDRECIPE) and "BLOCKED" in line)
    assert lines[blocked + 1].lstrip().startswith("- required check ")  # the reasons follow the verdict
    assert str(both.folder / "report.html") in summary


def test_markdown_puts_verdict_then_reasons_first(both):
    text = (both.folder / "report.md").read_text()
    assert text.splitlines()[0] == "# ⛔ imagecheck sign-off: BLOCKED"
    section = text[text.index(f"## {SEEDRECIPE}: BLOCKED"):]
    after_heading = [line for line in section.splitlines()[1:] if line.strip()]
    assert after_heading[0] == "**Why it is blocked:**"
    assert after_heading[1].startswith("1. required check ")
    assert f"## {REFERENCE}: SIGNED OFF" in text


class _Page(HTMLParser):
    """The facts the page must show: banner verdict, table rows, each section's order."""

    def __init__(self) -> None:
        super().__init__()
        self.banner = None
        self.rows: dict[str, str] = {}
        self.sections: dict[str, list[str]] = {}
        self.open_failures: list[str] = []
        self._section = None
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if a.get("id") == "verdict":
            self.banner = a.get("data-verdict")
        if tag == "tr" and "data-ref" in a:
            self._row = a["data-ref"]
        if tag == "span" and self._row and "badge" in classes and self._row not in self.rows:
            self.rows[self._row] = classes[-1]
        if tag == "section" and "image" in classes:
            self._section = a["data-ref"]
            self.sections[self._section] = []
        if self._section and tag in ("ol", "details", "h3", "p"):
            self.sections[self._section].append(f"{tag}.{'.'.join(classes)}")
        if tag == "details" and "check" in classes and "open" in a:
            self.open_failures.append(a.get("data-check"))

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        if tag == "section":
            self._section = None


def test_html_shows_verdict_table_and_reasons_first(both):
    page = _Page()
    page.feed((both.folder / "report.html").read_text())
    assert page.banner == "BLOCKED"
    assert page.rows == {REFERENCE: "signed-off", SEEDRECIPE: "blocked"}
    first = [e for e in page.sections[SEEDRECIPE] if e != "p.muted"][0]
    assert first == "ol.reasons"
    assert "test_version_is_as_promised[torch]" in page.open_failures


def test_failures_carry_their_evidence_in_report_and_junit(both):
    checks = {c["check"]: c for c in both.image(SEEDRECIPE)["checks"]}
    torch_check = checks["test_version_is_as_promised[torch]"]
    assert torch_check["outcome"] == "failed" and torch_check["required"]
    assert torch_check["evidence"] == {"torch.version": "2.2.0+cu121"}
    assert "images.yaml expects 2.6.0" in torch_check["message"]
    assert "assert " not in torch_check["message"]  # pytest's introspection is left to the details
    root = ET.parse(both.folder / "junit.xml").getroot()
    properties = {}
    for case in root.iter("testcase"):
        properties[case.get("name")] = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties[f"test_version_is_as_promised[{SEEDRECIPE}-torch]"]["torch.version"] == "2.2.0+cu121"
    assert properties[f"test_version_is_as_promised[{REFERENCE}-torch]"]["torch.version"] == "2.6.0+cu124"
    suite = {p.get("name"): p.get("value") for p in root.find("testsuite").find("properties")}
    assert suite[f"imagecheck.{REFERENCE}.verdict"] == "SIGNED OFF"
    assert suite[f"imagecheck.{SEEDRECIPE}.verdict"] == "BLOCKED"
    assert suite[f"imagecheck.{SEEDRECIPE}.torch"] == "2.2.0+cu121"


def test_report_records_image_versions_and_host_as_the_engine_reports_them(both, docker_client):
    for ref in (REFERENCE, SEEDRECIPE):
        engine = docker_client.images.get(ref).attrs
        info = both.image(ref)["image"]
        assert info["id"] == engine["Id"]
        assert info["size_bytes"] == engine["Size"]
        assert info["created"] == engine["Created"]
        assert info["labels"] == (engine["Config"].get("Labels") or {})  # no credential there: shown as it is
        assert (info["entrypoint"], info["cmd"]) == (engine["Config"].get("Entrypoint"), engine["Config"].get("Cmd"))
        assert info["repo_digests"] == (engine.get("RepoDigests") or [])
    assert both.image(REFERENCE)["versions"] == {
        "python": "3.11.2", "torch": "2.6.0+cu124", "torchvision": "0.21.0+cu124", "torchaudio": "2.6.0+cu124",
        "triton": "3.2.0", "numpy": both.image(REFERENCE)["versions"]["numpy"], "cuda": "12.4", "cudnn": "9.1.0",
        "nccl": "2.21.5"}
    assert both.image(SEEDRECIPE)["versions"]["torch"] == "2.2.0+cu121"
    host = both.json["host"]
    assert host["docker"]["version"] == docker_client.version()["Version"]
    assert host["gpu_access"]["mode"] in ("none", "toolkit", "devices")


def test_each_image_runs_on_one_worker_with_one_container(both):
    workers = {ref: {c["worker"] for c in both.image(ref)["checks"]} for ref in (REFERENCE, SEEDRECIPE)}
    if both.json["run"]["workers"]:
        assert all(len(w) == 1 for w in workers.values()), workers
        assert workers[REFERENCE] != workers[SEEDRECIPE], workers
    else:
        assert workers == {REFERENCE: {None}, SEEDRECIPE: {None}}
    for ref in (REFERENCE, SEEDRECIPE):
        assert both.image(ref)["session"] == {"containers_started": 1, "torch_imports": 1}


def test_baseline_of_the_reference_lists_the_recipes_version_changes(tmp_path, fixture_image):
    released = run_with_report(tmp_path / "reference", "--image", fixture_image(REFERENCE),
                               tests=("tests/test_versions.py",))
    assert released.ret == 0, released.output[-3000:]
    candidate = run_with_report(tmp_path / "recipe", "--image", fixture_image(SEEDRECIPE), "--baseline",
                                str(released.folder / "report.json"), tests=("tests/test_versions.py",))
    image = candidate.image(SEEDRECIPE)
    assert image["baseline_ref"] == REFERENCE
    versions = {r["name"]: r for r in image["regressions"] if r["kind"] == "version"}
    assert (versions["torch"]["baseline"], versions["torch"]["current"], versions["torch"]["change"]) == \
        ("2.6.0+cu124", "2.2.0+cu121", "downgrade")
    assert (versions["torchvision"]["baseline"], versions["torchvision"]["current"]) == ("0.21.0+cu124", "0.17.0+cu121")
    newly = {r["name"] for r in image["regressions"] if r["kind"] == "newly_failing"}
    assert {"test_version_is_as_promised[torch]", "test_version_is_as_promised[torchvision]"} <= newly
    markdown = (candidate.folder / "report.md").read_text()
    assert markdown.index("## Regressions against the baseline") < markdown.index(f"## {SEEDRECIPE}: BLOCKED")
    assert "| version | torch | 2.6.0+cu124 | 2.2.0+cu121 |" in markdown
    assert "regression: torch 2.6.0+cu124 -> 2.2.0+cu121 (downgrade)" in candidate.output


def test_bad_report_options_are_usage_errors(tmp_path):
    not_a_report = tmp_path / "junit.xml"
    not_a_report.write_text("<testsuites/>")
    result = run_with_report(tmp_path / "out", "--image", REFERENCE, "--baseline", str(not_a_report),
                             tests=("tests/test_versions.py",))
    assert result.ret == 4 and "--baseline" in result.output and "not JSON" in result.output
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/test_versions.py", "-p", "no:cacheprovider",
                           "--image", REFERENCE, "--baseline", str(not_a_report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4 and "needs --signoff-report" in proc.stdout + proc.stderr


def test_a_performance_drop_beyond_the_threshold_blocks(tmp_path, fixture_image):
    """A real figure (the all_reduce bandwidth the DDP check records), against a baseline
    whose figure was ten times better: the image is blocked, the regression leads."""
    tests = ("tests/test_ddp.py",)
    args = ("--image", fixture_image(REFERENCE), "-k", "bandwidth")
    measured = run_with_report(tmp_path / "measured", *args, tests=tests)
    figures = measured.image(REFERENCE)["perf"]
    assert figures, f"no check recorded a perf.* figure:\n{measured.output[-3000:]}"
    assert measured.image(REFERENCE)["verdict"] == "SIGNED OFF", measured.image(REFERENCE)["reasons"]
    better = measured.json
    for figure in better["images"][0]["perf"].values():
        figure["value"] = figure["value"] * 10 if figure["direction"] == "higher" else figure["value"] / 10
    baseline = tmp_path / "better.json"
    baseline.write_text(json.dumps(better))
    again = run_with_report(tmp_path / "again", *args, "--baseline", str(baseline), tests=tests)
    image = again.image(REFERENCE)
    assert again.ret == 1 and image["verdict"] == "BLOCKED"
    drops = [r for r in image["regressions"] if r["kind"] == "perf"]
    assert drops and all(r["blocks"] and r["drop"] > r["threshold"] == 0.2 for r in drops), image["regressions"]
    assert image["reasons"][0].startswith("regression: perf."), image["reasons"]
