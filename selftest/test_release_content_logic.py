"""What ships, its pure logic (no Docker): the packages read from a CycloneDX SBOM, the
package diff against the baseline (GPU stack first, Debian and Python version order), the
layers from the engine's history and their growth, the size budget's messages, the
downgrade regressions and the verdict's GPU-stack note, report.json's content section
(and reports written before it), and the HTML and Markdown pages showing the diff."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from imagecheck.rules import layers as layer_rules
from imagecheck.rules import package_diff, size_budget, sizes
from imagecheck.rules.layers import Layer
from imagecheck.rules.package_diff import Package, PackageChange
from imagecheck.rules.package_versions import compare
from imagecheck.signoff import baseline, content, reuse, verdict
from imagecheck.signoff import html as report_html
from imagecheck.signoff import junit as report_junit
from imagecheck.signoff import markdown as report_md
from imagecheck.signoff.model import BaselineInfo, CheckRecord, ImageInfo, ImageReport, ReleaseContent, SbomFile, \
    SignOff


def component(kind: str, name: str, version: str, licence: str | None = None, purl_type: str | None = None) -> dict:
    out = {"type": "library", "name": name, "version": version,
           "properties": [{"name": "syft:package:type", "value": kind}, {"name": "syft:package:foundBy",
                                                                          "value": f"{kind}-cataloger"}]}
    if licence:
        out["licenses"] = [{"license": {"id": licence}}]
    return out


REFERENCE = [Package("python", "torch", "2.6.0", "BSD-3-Clause"), Package("python", "nvidia-nvtx-cu12", "12.4.127"),
             Package("python", "sympy", "1.13.1", "BSD"), Package("python", "uri-template", "1.3.0"),
             Package("deb", "libc6", "2.36-9+deb12u9"), Package("deb", "runit-helper", "2.15.2"),
             Package("deb", "tzdata", "2024a-0+deb12u1")]
CANDIDATE = [Package("python", "torch", "2.6.0", "BSD-3-Clause"), Package("python", "nvidia_nvtx_cu12", "12.1.105"),
             Package("python", "sympy", "1.14.0", "BSD"), Package("python", "imagecheck-marker", "1.0", "MIT"),
             Package("deb", "libc6", "2.36-9+deb12u4"), Package("deb", "tzdata", "2024b-0+deb12u1")]


# ---- packages and their diff ----------------------------------------------------------------
def test_the_sbom_gives_each_debian_and_python_package_once_with_its_license():
    document = {"components": [component("deb", "libc6", "2.36-9", "LGPL-2.1"), component("python", "torch", "2.6.0",
                                                                                            "BSD-3-Clause"),
                               component("python", "torch", "2.6.0"), component("npm", "left-pad", "1.0.0"),
                               {"type": "operating-system", "name": "debian", "version": "12"},
                               {"name": "no-version", "properties": [{"name": "syft:package:type", "value": "deb"}]},
                               {**component("python", "multi", "1"), "licenses": [{"expression": "MIT OR Apache-2.0"},
                                                                                   {"license": {"name": "Custom"}}]}]}
    packages = package_diff.from_cyclonedx(document)
    assert packages == [Package("deb", "libc6", "2.36-9", "LGPL-2.1"), Package("python", "multi", "1",
                                                                               "MIT OR Apache-2.0, Custom"),
                        Package("python", "torch", "2.6.0", "BSD-3-Clause")]
    assert package_diff.counts(packages) == {"deb": 1, "python": 2}
    assert package_diff.from_cyclonedx({"bomFormat": "CycloneDX"}) == [] == package_diff.from_cyclonedx([])


def test_the_diff_names_each_change_the_gpu_stack_first():
    changes = package_diff.diff(REFERENCE, CANDIDATE)
    assert [(c.change, c.name, c.baseline, c.current, c.gpu_stack) for c in changes] == [
        ("downgraded", "nvidia_nvtx_cu12", "12.4.127", "12.1.105", "nvidia wheels"),
        ("downgraded", "libc6", "2.36-9+deb12u9", "2.36-9+deb12u4", "glibc"),
        ("removed", "runit-helper", "2.15.2", None, None),
        ("removed", "uri-template", "1.3.0", None, None),
        ("upgraded", "tzdata", "2024a-0+deb12u1", "2024b-0+deb12u1", None),
        ("upgraded", "sympy", "1.13.1", "1.14.0", None),
        ("added", "imagecheck-marker", None, "1.0", None)]
    assert changes[-1].license == "MIT"
    assert package_diff.tally(changes) == {"downgraded": 2, "removed": 2, "changed": 0, "upgraded": 2, "added": 1}
    assert package_diff.diff(REFERENCE, list(reversed(REFERENCE))) == []


def test_names_compare_as_their_manager_compares_them():
    """pip's names are one package whatever the case, dots, dashes and underscores."""
    assert package_diff.diff([Package("python", "Jinja2", "3.1.4")], [Package("python", "jinja2", "3.1.4")]) == []
    moved = package_diff.diff([Package("python", "zope.interface", "6.0")], [Package("python", "zope-interface", "7.0")])
    assert [(c.change, c.name) for c in moved] == [("upgraded", "zope-interface")]
    assert package_diff.diff([Package("deb", "torch", "1")], [Package("python", "torch", "1")]) != []  # other kinds


@pytest.mark.parametrize("kind, name, part", [
    ("python", "torch", "torch"), ("python", "pytorch-triton", "triton"), ("python", "nvidia-cudnn-cu12", "nvidia wheels"),
    ("deb", "cuda-cudart-12-4", "CUDA"), ("deb", "libcudnn9-cuda-12", "cuDNN"), ("deb", "libnccl2", "NCCL"),
    ("deb", "python3.11", "Python"), ("deb", "libpython3.11-stdlib", "Python"), ("deb", "libc6", "glibc"),
    ("python", "numpy", None), ("deb", "nvidia-foo", None), ("python", "libc6", None)])
def test_the_gpu_stack_is_named(kind, name, part):
    found = package_diff.gpu_stack_part(kind, name)
    assert (found[1] if found else None) == part


def test_several_versions_of_one_name_compare_by_the_newest():
    old = [Package("python", "pip", "23.0.1"), Package("python", "pip", "22.0")]
    new = [Package("python", "pip", "23.0.1"), Package("python", "pip", "24.0")]
    (change,) = package_diff.diff(old, new)
    assert (change.change, change.baseline, change.current) == ("upgraded", "22.0, 23.0.1", "23.0.1, 24.0")


@pytest.mark.parametrize("kind, old, new, order", [
    ("deb", "1.0", "1.0~rc1", -1), ("deb", "1.0~rc1", "1.0", 1), ("deb", "1:1.0", "2.0", -1), ("deb", "1.0a", "1.0", -1),
    ("deb", "2.36-9+deb12u4", "2.36-9+deb12u9", 1), ("deb", "12.2.0-14", "12.2.0-14+b1", 1), ("deb", "1-1", "1-1", 0),
    ("python", "2.6.0+cu124", "2.2.0+cu121", -1), ("python", "1.13.1", "1.14.0", 1), ("python", "1.0", "1.0.0", 0),
    ("python", "1.0rc1", "1.0", 1), ("python", "not-a-version", "other", None)])
def test_versions_order_as_their_manager_orders_them(kind, old, new, order):
    assert compare(kind, old, new) == order


def test_an_unordered_change_is_changed_not_guessed():
    (change,) = package_diff.diff([Package("python", "x", "abc")], [Package("python", "x", "abd")])
    assert change.change == "changed" and change.summary() == "x abc -> abd (python, changed)"


# ---- layers and the size budget ---------------------------------------------------------------
HISTORY = [  # as the engine gives it: newest first
    {"CreatedBy": "/bin/sh -c #(nop)  USER aiuser", "Size": 0, "Created": 5},
    {"CreatedBy": "/bin/sh -c chmod -R a+rX /opt/venv", "Size": 5_000_000_000, "Created": 4},
    {"CreatedBy": "|1 WHEELS=http://x/ /bin/sh -c pip install torch", "Size": 5_900_000_000, "Created": 3},
    {"CreatedBy": "/bin/sh -c #(nop)  ENV A=1", "Size": 0, "Created": 2},
    {"CreatedBy": "/bin/sh -c #(nop) WORKDIR /w", "Size": 0, "Created": 1},
    {"CreatedBy": "", "Comment": "Imported from -", "Size": 460_000_000, "Created": 0}]


def test_layers_pair_the_steps_that_made_them_with_their_digests():
    layers = layer_rules.from_history(HISTORY, ["sha256:a", "sha256:b", "sha256:c", "sha256:d"])
    assert [(l.index, l.step, l.size_bytes, l.diff_id) for l in layers] == [
        (0, "Imported from -", 460_000_000, "sha256:a"), (1, "WORKDIR /w", 0, "sha256:b"),
        (2, "RUN pip install torch", 5_900_000_000, "sha256:c"), (3, "RUN chmod -R a+rX /opt/venv", 5_000_000_000,
                                                                  "sha256:d")]
    unpaired = layer_rules.from_history(HISTORY, ["sha256:a", "sha256:c", "sha256:d"])  # WORKDIR made no layer
    assert [l.step for l in unpaired] == ["Imported from -", "RUN pip install torch", "RUN chmod -R a+rX /opt/venv"]
    assert [l.diff_id for l in unpaired] == ["sha256:a", "sha256:c", "sha256:d"]
    assert layer_rules.step_text("RUN /bin/sh -c apt-get update # buildkit") == "RUN apt-get update"


def test_each_layer_grows_against_the_baseline_layer_it_matches():
    base = layer_rules.from_history(HISTORY[2:], ["sha256:a", "sha256:b", "sha256:c"])
    now = base[:2] + [Layer(2, 6_000_000_000, "RUN pip install torch", "", "sha256:x"),
                      Layer(3, 5_000_000_000, "RUN chmod -R a+rX /opt/venv", "", "sha256:d")]
    grown = layer_rules.growth(base + [Layer(3, 10, "COPY gone /", "", "sha256:g")], now)
    assert [(g.status, g.step, g.growth) for g in grown] == [
        ("new", "RUN chmod -R a+rX /opt/venv", 5_000_000_000), ("grew", "RUN pip install torch", 100_000_000),
        ("unchanged", "Imported from -", 0), ("unchanged", "WORKDIR /w", 0), ("removed", "COPY gone /", -10)]


def test_the_size_budget_names_the_weight_the_budget_and_the_heaviest_layers():
    layers = layer_rules.from_history(HISTORY, ["a", "b", "c", "d"])
    assert size_budget.over_budget("img:1", 6_000_000_000, None, layers) is None
    assert size_budget.over_budget("img:1", 5_000_000_000, 5, layers) is None  # the budget itself is allowed
    message = size_budget.over_budget("img:1", 5_000_000_001, 5, layers)
    assert message.startswith("img:1 weighs 5.00 GB, 1 B more than its budget")
    assert "expected: at most 5.00 GB (images.yaml size.max_gb: 5)" in message
    assert "the largest layers: layer 3 `RUN pip install torch` 5.90 GB; layer 4 `RUN chmod -R a+rX" in message
    assert "hint: " in message


def test_growth_is_judged_against_the_baseline_image():
    base = layer_rules.from_history(HISTORY[2:], ["a", "b", "c"])
    now = layer_rules.from_history(HISTORY, ["a", "b", "c", "d"])
    assert size_budget.over_growth("img:2", 110, now, "img:1", 100, base, 0.1) is None
    message = size_budget.over_growth("img:2", 200, now, "img:1", 100, base, 0.1)
    assert "img:2 grew +100 B (100.0 %) against the baseline img:1" in message
    assert "(images.yaml size.max_growth: 0.1)" in message
    assert "new layer `RUN chmod -R a+rX /opt/venv` +5.00 GB" in message
    assert "lists no layers" in size_budget.over_growth("img:2", 200, now, "img:1", 100, None, 0.1)


def test_sizes_show_in_the_units_docker_lists():
    assert [sizes.human(n) for n in (205, 9096, 3 << 20, 6_353_000_000)] == ["205 B", "9.1 kB", "3.1 MB", "6.35 GB"]
    assert sizes.signed(-4096) == "-4.1 kB" and sizes.signed(0) == "0 B" and sizes.signed(10 ** 9) == "+1.00 GB"
    assert sizes.number(16.0) == "16" and sizes.number(6.5) == "6.5"


# ---- the report -------------------------------------------------------------------------------------
def sbom_check(folder, packages: list[Package], name: str = "img") -> CheckRecord:
    document = {"components": [component(p.kind, p.name, p.version, p.license or None) for p in packages]}
    path = folder / "sbom" / f"{name}.cdx.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    files = [{"format": "cyclonedx", "file": f"sbom/{name}.cdx.json", "bytes": path.stat().st_size,
              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}]
    return CheckRecord("test_sbom_lists_every_python_distribution", "test_sbom_lists_every_python_distribution",
                       "passed", evidence={"sbom": {"files": files, "tool": "syft 1.18.1",
                                                    "packages": package_diff.counts(packages)}})


def size_check(layers: list[Layer]) -> CheckRecord:
    return CheckRecord("test_image_size_is_within_budget", "test_image_size_is_within_budget", "passed",
                       evidence={"image.layers": [l.to_json() for l in layers], "size.bytes": 1})


def reports(tmp_path) -> tuple[ImageReport, ImageReport]:
    """The baseline image and the candidate, as a run builds them (content.attach)."""
    base_layers = layer_rules.from_history(HISTORY[2:], ["a", "b", "c"])
    now_layers = layer_rules.from_history(HISTORY, ["a", "b", "c", "d"])
    old = content.attach(ImageReport("img:1", image=ImageInfo(size_bytes=6_360_000_000),
                                     checks=[sbom_check(tmp_path / "old", REFERENCE, "old"), size_check(base_layers)]),
                         tmp_path / "old")
    new = content.attach(ImageReport("img:2", image=ImageInfo(size_bytes=11_360_000_000),
                                     checks=[sbom_check(tmp_path / "new", CANDIDATE, "new"), size_check(now_layers)]),
                         tmp_path / "new")
    return old, new


def test_the_report_reads_the_packages_back_from_the_sbom_it_links(tmp_path):
    old, new = reports(tmp_path)
    assert new.content.packages == sorted(CANDIDATE, key=lambda p: (p.kind, package_diff.normalized(p.kind, p.name)))
    assert new.content.sbom == [SbomFile.from_json(new.checks[0].evidence["sbom"]["files"][0])]
    assert [l.step for l in new.content.layers][-1] == "RUN chmod -R a+rX /opt/venv"
    (tmp_path / "new" / "sbom" / "new.cdx.json").write_text("{}")  # changed after the check recorded it
    again = content.attach(ImageReport("img:2", checks=new.checks), tmp_path / "new")
    assert again.content.packages is None and "changed after the check recorded it" in again.content.note
    assert content.attach(ImageReport("img:3", checks=[CheckRecord("t", "t", "passed")]), tmp_path).content is None


def test_a_downgrade_is_a_regression_that_informs_and_the_gpu_stack_leads_the_notes(tmp_path):
    old, new = reports(tmp_path)
    compared = content.compared(old, new)
    judged = verdict.judge(replace(compared, regressions=baseline.compare(old, compared, 0.2)))
    downgrades = [r for r in judged.regressions if r.kind == "package"]
    assert [(r.name, r.change, r.effect) for r in downgrades] == [
        ("nvidia_nvtx_cu12 (python)", "downgrade, GPU stack (nvidia wheels)", "informs"),
        ("libc6 (deb)", "downgrade, GPU stack (glibc)", "informs")]
    assert judged.verdict == verdict.SIGNED_OFF
    assert judged.notes[0].startswith("GPU stack downgraded against the baseline: python package nvidia_nvtx_cu12 "
                                      "12.4.127 -> 12.1.105 (downgrade, GPU stack (nvidia wheels)); it informs")
    assert "promise the version in images.yaml to make it block" in judged.notes[0]


def test_a_package_the_versions_already_compare_is_not_named_twice(tmp_path):
    old, new = reports(tmp_path)
    old.versions, new.versions = {"torch": "2.6.0"}, {"torch": "2.2.0"}
    old.content.packages.append(Package("python", "torch", "2.6.0"))
    compared = content.compared(old, new)
    compared.content.packages.append(Package("python", "torch", "2.2.0"))
    compared = content.compared(old, compared)
    names = [r.name for r in baseline.compare(old, compared, 0.2)]
    assert names.count("torch") == 1 and "torch (python)" not in names


def test_a_reused_image_keeps_no_package_diff_of_the_run_it_came_from(tmp_path):
    old, new = reports(tmp_path)
    earlier = verdict.judge(content.compared(old, new))
    assert earlier.content.package_changes and earlier.content.baseline_size_bytes
    tonight = reuse.carried_over(earlier, None)  # tonight's nightly has no baseline
    assert tonight.content.package_changes is None and tonight.content.layer_growth is None
    assert tonight.content.baseline_size_bytes is None and tonight.content.packages == earlier.content.packages
    again = reuse.carried_over(earlier, SignOff(images=[old]))  # the same baseline: compared again
    assert again.content.package_changes == earlier.content.package_changes


def signed_off_pair(tmp_path) -> SignOff:
    old, new = reports(tmp_path)
    compared = content.compared(old, new)
    compared.baseline_ref = old.ref
    compared.regressions = baseline.compare(old, compared, 0.2)
    return SignOff(images=[verdict.judge(compared)], baseline=BaselineInfo("old/report.json", "then", ["img:1"]))


def test_report_json_carries_the_packages_and_reads_back(tmp_path):
    signoff = signed_off_pair(tmp_path)
    data = json.loads(json.dumps(signoff.to_json()))
    section = data["images"][0]["content"]
    assert section["package_counts"] == {"deb": 2, "python": 4}
    assert {"kind": "python", "name": "imagecheck-marker", "version": "1.0", "license": "MIT"} in section["packages"]
    assert section["package_changes"][0]["gpu_stack"] == "nvidia wheels"
    again = SignOff.from_json(data)
    assert again.images[0].content == signoff.images[0].content
    assert "content" not in again.images[0].extra


def test_a_report_written_before_the_content_section_still_serves_as_a_baseline(tmp_path):
    old = {"schema": "imagecheck.signoff/1", "images": [{"ref": "img:1", "image": {"size_bytes": 5}, "checks": []}]}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(old))
    base = baseline.load(path).images[0]
    assert base.content is None
    _, new = reports(tmp_path)
    compared = content.compared(base, new)
    assert compared.content.package_changes is None and compared.content.layer_growth is None
    assert compared.content.baseline_size_bytes == 5
    page = report_md.render(SignOff(images=[replace(compared, baseline_ref="img:1")]))
    assert "No package diff: the baseline report carries no package list" in page


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, str, bool]] = []
        self.links: list[str] = []
        self.layers: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-change" in a:
            self.changes.append((a["data-change"], a["data-package"], "gpu-downgrade" in (a.get("class") or "")))
        if tag == "a" and (a.get("href") or "").startswith("sbom/"):
            self.links.append(a["href"])
        if tag == "tr" and "layer" in (a.get("class") or "").split():
            self.layers.append(a.get("data-layer") or "removed")


def test_the_html_page_shows_the_sbom_the_diff_and_the_layers(tmp_path):
    page = report_html.render(signed_off_pair(tmp_path))
    rows = _Rows()
    rows.feed(page)
    assert rows.changes[:2] == [("downgraded", "nvidia_nvtx_cu12", True), ("downgraded", "libc6", True)]
    assert ("added", "imagecheck-marker", False) in rows.changes and len(rows.changes) == 7
    assert rows.links == ["sbom/new.cdx.json"]
    assert rows.layers[:2] == ["3", "4"]  # largest first
    assert "(2 downgraded, 2 removed, 2 upgraded, 1 added; the GPU stack first)" in page
    assert "GPU stack downgraded against the baseline" in page


def test_the_markdown_shows_the_sbom_the_diff_and_the_layers(tmp_path):
    text = report_md.render(signed_off_pair(tmp_path))
    section = text[text.index("### What ships"):]
    assert "[`sbom/new.cdx.json`](sbom/new.cdx.json) (cyclonedx, sha256 `" in section
    assert "2 Debian and 4 Python packages." in section
    table = [line for line in section.splitlines() if line.startswith("| ")]
    assert table[0] == "| change | package | kind | baseline | now | license |"
    assert table[1] == ("| **⚠ downgraded (GPU stack: nvidia wheels)** | `nvidia_nvtx_cu12` | python | `12.4.127` | "
                        "`12.1.105` | – |")
    assert "| added | `imagecheck-marker` | python | – | `1.0` | MIT |" in table
    assert "**Layers** (largest first; 11.36 GB in 4 layers, +5.00 GB against the baseline's 6.36 GB):" in section
    assert "| 4 | 5.00 GB | new | `RUN chmod -R a+rX /opt/venv` |" in table
    assert "| 3 | 5.90 GB | 0 B | `RUN pip install torch` |" in table


def test_package_change_and_content_survive_json():
    change = PackageChange("downgraded", "python", "torch", "2.6.0", "2.2.0", "BSD", "torch")
    assert PackageChange.from_json(change.to_json()) == change
    assert ReleaseContent.from_json(None) is None
    assert ReleaseContent.from_json({}).packages is None


def test_junit_names_the_sbom_its_digest_and_each_package_change(tmp_path):
    properties = dict(report_junit.suite_properties(signed_off_pair(tmp_path)))
    assert properties["imagecheck.img:2.sbom.cyclonedx"] == "sbom/new.cdx.json"
    assert len(properties["imagecheck.img:2.sbom.cyclonedx.sha256"]) == 64
    assert properties["imagecheck.img:2.package_change.nvidia_nvtx_cu12"] == \
        "nvidia_nvtx_cu12 12.4.127 -> 12.1.105 (python, downgraded)"
