"""The SBOM and the package diff from real runs: the reference's SBOM (syft, CycloneDX and
SPDX) in the sign-off folder with the sha256 report.json records, its Debian and Python
packages in report.json; a candidate that changes a few packages, run against the
reference's report.json as its baseline: the diff in report.json, Markdown and HTML, the
GPU-stack downgrade first and flagged; the same diff in a fleet sign-off merged from two
shards of the candidate, with its SBOM files brought along."""
import hashlib
import json
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from helpers import REFERENCE, ROOT, run_inner
from report_runs import run_with_report

CANDIDATE = "pytorch-cuda:v2.6-package-changes"
CONTENT = ("tests/test_sbom.py", "tests/test_image_size.py")
EXPECTED_CHANGES = [  # (change, kind, name, baseline, now, GPU stack): the GPU stack first
    ("downgraded", "python", "nvidia-nvtx-cu12", "12.4.127", "12.1.105", "nvidia wheels"),
    ("removed", "deb", "e2fsprogs", None, None, None),
    ("removed", "python", "uri-template", "1.3.0", None, None),
    ("upgraded", "python", "sympy", "1.13.1", "1.14.0", None),
    ("added", "python", "imagecheck-marker", None, "1.0", None)]


@pytest.fixture(scope="module")
def released(tmp_path_factory, fixture_image):
    return run_with_report(tmp_path_factory.mktemp("released"), "--image", fixture_image(REFERENCE), tests=CONTENT)


@pytest.fixture(scope="module")
def candidate(tmp_path_factory, fixture_image, released):
    return run_with_report(tmp_path_factory.mktemp("candidate"), "--image", fixture_image(CANDIDATE), "--baseline",
                           str(released.folder / "report.json"), tests=CONTENT)


def changes_of(content: dict) -> list[tuple]:
    return [(c["change"], c["kind"], c["name"], c["baseline"] if c["change"] != "removed" or c["kind"] == "python"
             else None, c["current"], c["gpu_stack"]) for c in content["package_changes"]]


def test_the_sbom_is_in_the_signoff_folder_with_the_digest_the_report_records(released):
    assert released.ret == 0, released.output[-3000:]
    content = released.image(REFERENCE)["content"]
    assert [f["format"] for f in content["sbom"]] == ["cyclonedx", "spdx"]
    for sbom in content["sbom"]:
        data = (released.folder / sbom["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sbom["sha256"] and len(data) == sbom["bytes"]
    cyclonedx = json.loads((released.folder / content["sbom"][0]["file"]).read_text())
    spdx = json.loads((released.folder / content["sbom"][1]["file"]).read_text())
    assert cyclonedx["bomFormat"] == "CycloneDX" and cyclonedx["metadata"]["component"]["name"] == REFERENCE
    assert spdx["spdxVersion"].startswith("SPDX-")
    assert content["sbom_tool"].startswith("syft ")


def test_the_report_carries_every_debian_and_python_package(released):
    content = released.image(REFERENCE)["content"]
    counts = content["package_counts"]
    assert counts["deb"] > 100 and counts["python"] > 100, counts
    names = {(p["kind"], p["name"]): p for p in content["packages"]}
    assert names[("python", "torch")]["version"] == "2.6.0" and names[("python", "torch")]["license"]
    assert ("deb", "libc6") in names and ("python", "nvidia-nvtx-cu12") in names
    check = next(c for c in released.image(REFERENCE)["checks"] if c["function"] == "test_sbom_lists_every_python_"
                                                                                    "distribution")
    assert check["outcome"] == "passed" and check["evidence"]["sbom"]["packages"] == counts


def test_the_candidate_lists_what_changed_the_gpu_stack_first(candidate):
    image = candidate.image(CANDIDATE)
    assert image["baseline_ref"] == REFERENCE
    assert changes_of(image["content"]) == EXPECTED_CHANGES, image["content"]["package_changes"]
    downgrade = next(r for r in image["regressions"] if r["kind"] == "package")
    assert (downgrade["name"], downgrade["change"], downgrade["effect"]) == (
        "nvidia-nvtx-cu12 (python)", "downgrade, GPU stack (nvidia wheels)", "informs")
    assert image["notes"][0].startswith("GPU stack downgraded against the baseline: python package nvidia-nvtx-cu12 "
                                        "12.4.127 -> 12.1.105")
    growth = image["content"]["layer_growth"]
    assert growth[0]["status"] == "new" and growth[0]["step"].startswith("RUN pip install -q --no-cache-dir")


def test_the_markdown_shows_the_diff(candidate):
    text = (candidate.folder / "report.md").read_text()
    section = text[text.index("### What ships"):]
    assert f"**Package changes against `{REFERENCE}`** (1 downgraded, 2 removed, 1 upgraded, 1 added; the GPU stack " \
           "first):" in section
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[1] == ("| **⚠ downgraded (GPU stack: nvidia wheels)** | `nvidia-nvtx-cu12` | python | `12.4.127` | "
                       "`12.1.105` | NVIDIA Proprietary Software |")
    assert any(row.startswith("| removed | `e2fsprogs` | deb | `1.47.0") for row in rows), rows
    assert "| upgraded | `sympy` | python | `1.13.1` | `1.14.0` | BSD |" in rows
    assert "| added | `imagecheck-marker` | python | – | `1.0` | MIT |" in rows
    regression = next(line for line in text.splitlines() if "| package | nvidia-nvtx-cu12 (python) |" in line)
    assert regression.endswith("| informs |") and text.index(regression) < text.index("### What ships")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, str, bool]] = []
        self.sboms: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-change" in a:
            self.changes.append((a["data-change"], a["data-package"], "gpu-downgrade" in a.get("class", "")))
        if tag == "li" and "data-sbom" in a:
            self.sboms.append(a["data-sbom"])


def test_the_html_shows_the_diff(candidate):
    page = _Page()
    page.feed((candidate.folder / "report.html").read_text())
    assert page.changes == [("downgraded", "nvidia-nvtx-cu12", True), ("removed", "e2fsprogs", False),
                            ("removed", "uri-template", False), ("upgraded", "sympy", False),
                            ("added", "imagecheck-marker", False)]
    assert page.sboms == ["cyclonedx", "spdx"]


def test_the_fleet_signoff_carries_the_same_diff(tmp_path, fixture_image, released, candidate):
    for shard in ("cpu-a", "cpu-b"):
        run = run_inner(tmp_path, "--image", fixture_image(CANDIDATE), "--shard", str(tmp_path / shard), tests=CONTENT,
                        timeout=900)
        assert (tmp_path / shard / "report.json").is_file(), run.stdout[-3000:]
    merged = tmp_path / "merged"
    proc = subprocess.run([sys.executable, "-m", "imagecheck.signoff", "merge", str(tmp_path / "cpu-a"),
                           str(tmp_path / "cpu-b"), "--out", str(merged), "--baseline",
                           str(released.folder / "report.json")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    image = json.loads((merged / "report.json").read_text())["images"][0]
    assert changes_of(image["content"]) == EXPECTED_CHANGES
    assert image["content"]["sbom"] == candidate.image(CANDIDATE)["content"]["sbom"]  # one SBOM per image ID
    for sbom in image["content"]["sbom"]:
        assert hashlib.sha256((merged / sbom["file"]).read_bytes()).hexdigest() == sbom["sha256"]
    assert "nvidia-nvtx-cu12" in (merged / "report.md").read_text()
