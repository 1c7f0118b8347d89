"""The size check against real images: the reference within its promises (no budget in
images.yaml: it does not apply), the reference held to a budget below its weight (a
fixtures/configs file), and an image that grew against its baseline report, each message
naming the budget, the weight and the layers (with their build steps) that weigh or grew."""
import json

from helpers import REFERENCE, ROOT, run_inner
from report_runs import run_with_report

SIZE = ("tests/test_image_size.py",)
CHMOD = "pytorch-cuda:v2.6-chmod-site-packages"
CHECK = "test_image_size_is_within_budget"


def test_without_a_budget_or_a_baseline_the_size_check_does_not_apply(tmp_path, fixture_image):
    run = run_inner(tmp_path, "--image", fixture_image(REFERENCE), tests=SIZE, timeout=300)
    outcome = run.outcomes[f"{CHECK}[{REFERENCE}]"]
    assert outcome.outcome == "skipped" and "does not apply: images.yaml sets no size.max_gb" in outcome.message


def test_a_budget_below_the_reference_fails_the_size_check(tmp_path, fixture_image):
    config = ROOT / "fixtures" / "configs" / "size_budget_below_reference.yaml"
    run = run_inner(tmp_path, "--image", fixture_image(REFERENCE), f"--images-file={config}", tests=SIZE, timeout=300)
    assert run.names("failed") == {f"{CHECK}[{REFERENCE}]"}
    message = run.message(f"{CHECK}[{REFERENCE}]")
    for phrase in (f"{REFERENCE} weighs 6.35 GB, 1.35 GB more than its budget",
                   "expected: at most 5.00 GB (images.yaml size.max_gb: 5)",
                   "the largest layers: layer 4 `RUN python3 -m venv", "GB; layer 1 `Imported from -` 460.3 MB",
                   "hint: see the wasted-space checks"):
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_growth_against_the_baseline_names_the_layer_that_grew(tmp_path, fixture_image):
    released = run_with_report(tmp_path / "released", "--image", fixture_image(REFERENCE), tests=SIZE)
    layers = released.image(REFERENCE)["content"]["layers"]
    assert [layer["index"] for layer in layers] == list(range(5)) and layers[3]["size_bytes"] > 5 * 10 ** 9
    assert released.image(REFERENCE)["verdict"] == "SIGNED OFF"
    candidate = run_with_report(tmp_path / "candidate", "--image", fixture_image(CHMOD), "--baseline",
                                str(released.folder / "report.json"), tests=SIZE)
    image = candidate.image(CHMOD)
    check = next(c for c in image["checks"] if c["function"] == CHECK)
    assert check["outcome"] == "failed" and image["verdict"] == "BLOCKED"
    for phrase in (f"{CHMOD} grew +5.", f"against the baseline {REFERENCE}, more than images.yaml allows",
                   "expected: at most 10% more than 6.35 GB, 6.99 GB (images.yaml size.max_growth: 0.1)",
                   "new layer `RUN chmod -R g+w /opt/venv/lib/python3.11/site-packages` +5."):
        assert phrase in check["message"], f"{phrase!r} not in:\n{check['message']}"
    growth = image["content"]["layer_growth"]
    assert growth[0]["status"] == "new" and growth[0]["step"].startswith("RUN chmod -R g+w")
    assert all(g["status"] == "unchanged" for g in growth[1:]), growth
    markdown = (candidate.folder / "report.md").read_text()
    assert "**Layers** (largest first; " in markdown and "| 6 | 5." in markdown and " | new | `RUN chmod -R g+w" \
        in markdown
    assert json.loads((candidate.folder / "report.json").read_text())["images"][0]["content"]["baseline_size_bytes"] \
        == released.image(REFERENCE)["image"]["size_bytes"]
