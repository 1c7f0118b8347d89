"""report.html in a real browser: headless Chromium renders the report of a real run
(the reference and the articles' recipe); the DOM and a screenshot show the verdict, the
image table and a failure's evidence on screen."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from helpers import REFERENCE, SEEDRECIPE
from png import Png
from report_runs import run_with_report

RED = (0xB9, 0x1C, 0x1C)    # --bad in report_html.CSS
GREEN = (0x15, 0x80, 0x3D)  # --ok
WIDTH = 1280

# Measures, from inside the page, where the things a reader needs are and whether they show.
PROBE = """
<script>
(function () {
  function box(el) {
    if (!el) return null;
    var b = el.getBoundingClientRect(), s = getComputedStyle(el);
    return {x: b.left + scrollX, y: b.top + scrollY, w: b.width, h: b.height, text: el.innerText.slice(0, 400),
            shown: s.display !== 'none' && s.visibility !== 'hidden' && b.width > 0 && b.height > 0};
  }
  var failure = document.querySelector('details.check.failed[open]');
  var out = {verdict: box(document.getElementById('verdict')), table: box(document.getElementById('image-table')),
             rows: Array.prototype.map.call(document.querySelectorAll('#image-table tr[data-ref]'),
                   function (tr) { var b = box(tr); b.ref = tr.getAttribute('data-ref'); return b; }),
             failure: box(failure), check: failure && failure.getAttribute('data-check'),
             evidence: box(failure && failure.querySelector('table.evidence'))};
  document.body.setAttribute('data-probe', JSON.stringify(out));
})();
</script>
"""


def install_chromium() -> str:
    """The chromium binary; installs Debian's chromium package when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail("this self-test needs Chromium: install Debian's chromium package (apt-get install chromium)",
                    pytrace=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}",
                        pytrace=False)
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium but it is not on PATH", pytrace=False)
    return found


def chromium(binary: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--disable-extensions", "--no-first-run", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, fixture_image):
    """The report of a real run, instrumented, rendered: (probe results, screenshot, path)."""
    binary = install_chromium()
    folder = tmp_path_factory.mktemp("browser")
    run = run_with_report(folder / "report", "--image", fixture_image(REFERENCE), "--image",
                          fixture_image(SEEDRECIPE), tests=("tests/test_versions.py",))
    assert run.ret == 1 and (folder / "report" / "report.html").exists(), run.output[-3000:]
    page = (folder / "report" / "report.html").read_text()
    probed = folder / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = chromium(binary, f"--window-size={WIDTH},900", "--dump-dom", probed.as_uri())  # same width: same layout
    match = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert match, f"chromium did not render the page: {dom.stderr[-1500:]}"
    probe = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                       .replace("&gt;", ">"))
    height = int(max(900, probe["evidence"]["y"] + probe["evidence"]["h"] + 40)) if probe["evidence"] else 1600
    shot = folder / "report.png"
    result = chromium(binary, f"--window-size={WIDTH},{height}", f"--screenshot={shot}", probed.as_uri())
    assert shot.exists(), f"chromium wrote no screenshot: {result.stderr[-1500:]}"
    print(f"screenshot: {shot}")
    return probe, Png(shot), shot


def near(color: tuple[int, int, int], wanted: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, wanted))


def count(png: Png, box: dict, predicate) -> int:
    found = 0
    for y in range(int(box["y"]) + 1, min(int(box["y"] + box["h"]) - 1, png.height_read)):
        for x in range(int(box["x"]) + 1, min(int(box["x"] + box["w"]) - 1, png.width), 2):
            found += predicate(png.pixel(x, y))
    return found


def test_verdict_banner_is_on_top_red_and_readable(rendered):
    probe, png, _ = rendered
    banner = probe["verdict"]
    assert banner["shown"] and banner["y"] == 0 and banner["text"].startswith("BLOCKED")
    assert near(png.pixel(int(banner["x"]) + 4, int(banner["y"]) + 4), RED)
    white = count(png, banner, lambda p: min(p) > 235)
    assert white > 300, f"the banner shows almost no text ({white} white pixels)"


def test_image_table_shows_both_images_with_their_colours(rendered):
    probe, png, _ = rendered
    assert probe["table"]["shown"] and probe["table"]["y"] < 400  # first screenful
    rows = {row["ref"]: row for row in probe["rows"]}
    assert set(rows) == {REFERENCE, SEEDRECIPE}
    assert "SIGNED OFF" in rows[REFERENCE]["text"] and "BLOCKED" in rows[SEEDRECIPE]["text"]
    for ref, colour in ((REFERENCE, GREEN), (SEEDRECIPE, RED)):
        row = rows[ref]
        edge = png.pixel(int(row["x"]) + 2, int(row["y"] + row["h"] / 2))
        assert near(edge, colour), f"{ref}: row edge {edge}, expected {colour}"


def test_a_failure_is_expanded_with_its_evidence(rendered):
    probe, png, shot = rendered
    assert probe["check"].startswith("test_version_is_as_promised[")
    failure, evidence = probe["failure"], probe["evidence"]
    assert failure["shown"] and evidence and evidence["shown"], probe
    assert "images.yaml expects" in failure["text"]
    assert re.search(r"(torch|torchvision|triton)\.version\s+\S+", evidence["text"]), evidence["text"]
    assert evidence["y"] + evidence["h"] <= png.height_read, f"evidence below the screenshot {shot}"
    assert near(png.pixel(int(failure["x"]) + 2, int(failure["y"] + failure["h"] / 2)), RED)
    ink = count(png, evidence, lambda p: max(p) < 120)
    assert ink > 100, f"the evidence table shows no text in {shot} ({ink} dark pixels)"
