"""The sign-off report's pure logic: verdicts, regressions, perf keys, scheduling scopes,
and the renderers on a hand-made model (no Docker: these are rules over plain data)."""
from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from imagecheck.image import description as imageinfo
from imagecheck.rules import perf
from imagecheck.signoff import baseline, records, verdict
from imagecheck.signoff.model import BaselineInfo, CheckRecord, ImageInfo, ImageReport, PerfFigure, Policy, \
    Regression, SignOff
from imagecheck.signoff import html as report_html
from imagecheck.signoff import markdown as report_md
from imagecheck.pytest_plugin.scheduling import image_of


def check(name: str, outcome: str, message: str = "", **evidence) -> CheckRecord:
    return CheckRecord(check=name, function=name.split("[")[0], outcome=outcome, message=message, evidence=evidence)


def decide(checks: list[CheckRecord], *, required: list[str], advisory: list[str], require_gpu: bool,
           incomplete: list[str] = (), regressions: list[Regression] = ()) -> ImageReport:
    """The verdict on an image of these checks, each required unless advisory (as records.build decides)."""
    checks = [replace(c, required=records.is_required(c.check, c.function, advisory)) for c in checks]
    image = ImageReport("img", policy=Policy(required, advisory), checks=checks, regressions=list(regressions))
    return verdict.judge(image, mode=verdict.RELEASE if require_gpu else verdict.DEVELOPMENT, incomplete=incomplete)


def test_everything_is_required_unless_listed_advisory():
    checks = [check("test_a", "passed"), check("test_b", "failed", "b broke"), check("test_c[x]", "failed", "c broke")]
    decided = decide(checks, required=[], advisory=["test_c"], require_gpu=False)
    assert decided.verdict == verdict.BLOCKED
    assert decided.reasons == ["required check test_b failed: b broke"]
    assert any("advisory check test_c[x] failed: c broke" in note for note in decided.notes)


def test_an_advisory_entry_can_name_one_parameter():
    checks = [check("test_v[triton]", "failed", "old triton"), check("test_v[torch]", "passed")]
    decided = decide(checks, required=[], advisory=["test_v[triton]"], require_gpu=False)
    assert decided.verdict == verdict.SIGNED_OFF


def test_a_check_that_does_not_apply_never_blocks_a_release():
    checks = [check("test_a", "passed"),
              check("test_onnx", "skipped", "Skipped: does not apply: images.yaml promises no ONNX export for x"),
              check("test_cpu[x]", "skipped", "Skipped: does not apply: this host grants 1 GPU(s): checked on CUDA")]
    release = decide(checks, required=[], advisory=[], require_gpu=True)
    assert release.verdict == verdict.SIGNED_OFF and release.reasons == []
    assert "2 check(s) do not apply to this image: test_onnx, test_cpu[x]" in release.notes
    cannot_run = checks + [check("test_cves", "skipped", "Skipped: no CVE scanner on PATH")]
    assert decide(cannot_run, required=[], advisory=[], require_gpu=True).verdict == verdict.BLOCKED


def test_failures_lead_with_the_installed_stack():
    checks = [replace(check("test_torch_works_under_an_arbitrary_uid", "failed", "uid"), module="tests/test_arbitrary_uid.py"),
              replace(check("test_version_is_as_promised[torch]", "failed", "torch is 2.2.0"), module="tests/test_versions.py")]
    reasons = decide(checks, required=[], advisory=[], require_gpu=False).reasons
    assert reasons[0].startswith("required check test_version_is_as_promised[torch] failed: torch is 2.2.0")


def test_grouped_reasons_read_in_the_plural():
    checks = [check("test_a", "skipped", "needs 2 GPU(s)"), check("test_b", "skipped", "needs 2 GPU(s)")]
    reasons = decide(checks, required=[], advisory=[], require_gpu=True).reasons
    assert reasons == ["required checks test_a, test_b were skipped in a release run (--require-gpu): needs 2 GPU(s)"]


def test_a_skipped_required_check_blocks_only_under_require_gpu():
    checks = [check("test_cuda", "skipped", "needs 1 GPU(s), this host grants 0"), check("test_a", "passed")]
    development = decide(checks, required=[], advisory=[], require_gpu=False)
    release = decide(checks, required=[], advisory=[], require_gpu=True)
    assert development.verdict == verdict.SIGNED_OFF
    assert any("--require-gpu" in note for note in development.notes)
    # what each skip was for goes under its own key, not among the notes the pages show
    assert development.skips == ["skipped: test_cuda: needs 1 GPU(s), this host grants 0"]
    assert not any("needs 1 GPU(s)" in note for note in development.notes)
    assert release.skips == []
    assert release.verdict == verdict.BLOCKED
    assert release.reasons == ["required check test_cuda was skipped in a release run (--require-gpu): "
                                  "needs 1 GPU(s), this host grants 0"]


def test_a_signed_off_development_run_never_says_every_required_check_passed_when_one_could_not_run():
    skipped = decide([check("test_cuda", "skipped", "needs 1 GPU(s), this host grants 0"), check("test_a", "passed")],
                     required=[], advisory=[], require_gpu=False)
    clean = decide([check("test_a", "passed")], required=[], advisory=[], require_gpu=False)
    page = report_html.render(SignOff(images=[skipped]))
    assert "Every required check passed" not in page
    assert "No required check failed; 1 could not run on this host (a release run blocks on them)." in page
    assert "Every required check passed." in report_html.render(SignOff(images=[clean]))


def test_a_listed_required_check_that_did_not_run_blocks():
    decided = decide([check("test_a", "passed")], required=["test_a", "test_cuda_is_available"],
                     advisory=[], require_gpu=False)
    assert decided.reasons == ["required by images.yaml but did not run: test_cuda_is_available"]


def test_no_checks_or_an_incomplete_run_blocks():
    assert decide([], required=[], advisory=[], require_gpu=False).reasons == ["no check ran for this image"]
    cut = decide([check("test_a", "passed")], required=[], advisory=[], require_gpu=False,
                 incomplete=["the run was interrupted before every check ran"])
    assert cut.verdict == verdict.BLOCKED


def test_identical_failures_are_one_reason():
    checks = [check(f"test_{n}", "error", "image x is not present on this Docker engine") for n in "abcdef"]
    reasons = decide(checks, required=[], advisory=[], require_gpu=False).reasons
    assert reasons == ["required checks test_a, test_b, test_c, test_d and 2 more failed: "
                       "image x is not present on this Docker engine"]


def test_perf_keys_carry_their_direction_in_the_unit():
    key = perf.perf_key("compile.mobilenet_v3_large", "speedup", "x")
    assert key == "perf.compile.mobilenet_v3_large.speedup_x"
    parsed = perf.parse(key)
    assert (parsed.subject, parsed.measure, parsed.unit, parsed.direction) == \
        ("compile.mobilenet_v3_large", "speedup", "x", perf.HIGHER)
    assert perf.parse("perf.all_reduce.2gpu.bus_bandwidth_gbps").direction == perf.HIGHER
    assert perf.parse("perf.compile.resnet50.compile_s").direction == perf.LOWER
    assert perf.parse("perf.compile.resnet50.speedup") is None  # no unit
    assert perf.parse("torch.version") is None
    with pytest.raises(ValueError, match="unknown performance unit"):
        perf.perf_key("compile.resnet50", "speedup", "percent")


def test_record_perf_goes_through_evidence():
    recorded = {}
    perf.record_perf(lambda k, v: recorded.__setitem__(k, v), "all_reduce.2gpu", "bus_bandwidth", 328.0, "gbps")
    assert recorded == {"perf.all_reduce.2gpu.bus_bandwidth_gbps": 328.0}
    with pytest.raises(TypeError):
        perf.record_perf(lambda k, v: None, "compile.resnet50", "speedup", "fast", "x")


def image_report(versions: dict, checks: list[CheckRecord], figures: dict) -> ImageReport:
    return ImageReport("img", versions=versions, checks=checks, perf={k: PerfFigure(value=v) for k, v in figures.items()})


def test_baseline_finds_version_outcome_and_performance_regressions():
    old = image_report({"torch": "2.6.0+cu124", "cuda": "12.4"},
                       [check("test_a", "passed"), check("test_b", "passed"), check("test_gone", "passed")],
                       {"perf.compile.resnet50.speedup_x": 2.0, "perf.compile.resnet50.compile_s": 10.0,
                        "perf.all_reduce.2gpu.bus_bandwidth_gbps": 300.0})
    new = image_report({"torch": "2.2.0+cu121", "cuda": "12.4"},
                       [check("test_a", "failed", "broke"), check("test_b", "skipped", "no GPU")],
                       {"perf.compile.resnet50.speedup_x": 1.5, "perf.compile.resnet50.compile_s": 11.0,
                        "perf.all_reduce.2gpu.bus_bandwidth_gbps": 290.0})
    found = {(r.kind, r.name): r for r in baseline.compare(old, new, max_perf_drop=0.2)}
    assert found[("version", "torch")].change == "downgrade"
    assert ("version", "cuda") not in found
    assert found[("newly_failing", "test_a")].current == "failed"
    assert found[("newly_skipped", "test_b")].current == "skipped"
    assert ("not_run", "test_gone") in found
    speedup = found[("perf", "perf.compile.resnet50.speedup_x")]
    assert speedup.drop == 0.25 and speedup.blocks
    # 10 % slower compile and 3 % less bandwidth stay within the 20 % allowed
    assert ("perf", "perf.compile.resnet50.compile_s") not in found
    assert ("perf", "perf.all_reduce.2gpu.bus_bandwidth_gbps") not in found


def test_baseline_matches_by_reference_else_its_only_image():
    two = SignOff(images=[ImageReport("a"), ImageReport("b")])
    assert baseline.match(two, "b").ref == "b"
    assert baseline.match(two, "c") is None
    assert baseline.match(SignOff(images=[ImageReport("released")]), "candidate").ref == "released"


def test_baseline_file_must_be_a_report(tmp_path):
    wrong = tmp_path / "junit.json"
    wrong.write_text(json.dumps({"tests": 3}))
    with pytest.raises(baseline.BaselineError, match="expected a sign-off report"):
        baseline.load(wrong)
    with pytest.raises(baseline.BaselineError, match="cannot read it"):
        baseline.load(tmp_path / "missing.json")


def test_scheduling_scope_is_the_longest_image_in_the_parameters():
    refs = ["pytorch-cuda:v2.6", "pytorch-cuda:v2.6-seedrecipe"]
    assert image_of("tests/t.py::test_v[pytorch-cuda:v2.6-seedrecipe-torch]", refs) == "pytorch-cuda:v2.6-seedrecipe"
    assert image_of("tests/t.py::test_v[pytorch-cuda:v2.6-torch]", refs) == "pytorch-cuda:v2.6"
    assert image_of("tests/t.py::test_v[pytorch-cuda:v2.6]", refs) == "pytorch-cuda:v2.6"
    assert image_of("tests/t.py::test_v[x-pytorch-cuda:v2.6-seedrecipe]", refs) == "pytorch-cuda:v2.6-seedrecipe"
    assert image_of("tests/t.py::test_plain", refs) is None


def model_with(speedups: dict[str, float]) -> SignOff:
    figures = {f"perf.compile.{name}.speedup_x": {"value": value, "unit": "x", "direction": "higher",
                                                  "subject": f"compile.{name}", "measure": "speedup",
                                                  "check": "test_compiled_models"}
               for name, value in speedups.items()}
    image = {"ref": "img:1", "verdict": verdict.SIGNED_OFF, "reasons": [], "notes": [], "regressions": [],
             "checks": [], "counts": dict.fromkeys(("passed", "failed", "error", "skipped", "xfailed", "xpassed"), 0),
             "perf": figures}
    run = {"mode": "development", "args": [], "incomplete": [], "collection_errors": [], "workers": 0,
           "started": "", "duration_s": 1.0}
    return SignOff.from_json({"schema": baseline.SCHEMA, "tool": {"version": "0"}, "generated": "now", "run": run,
                              "host": {}, "baseline": None, "images": [image],
                              "summary": {"verdict": verdict.SIGNED_OFF, "images": 1, "signed_off": 1, "blocked": 0}})


class _Svg(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rects, self.texts, self._in_text = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "rect":
            self.rects.append(dict(attrs))
        self._in_text = tag == "text"

    def handle_data(self, data):
        if self._in_text:
            self.texts.append(data)


def test_speedup_chart_draws_one_bar_per_model_to_scale():
    parser = _Svg()
    parser.feed(report_html.speedup_chart(model_with({"resnet50": 2.0, "vit_b_16": 1.0})))
    widths = [float(r["width"]) for r in parser.rects]
    assert len(widths) == 2 and widths[0] == pytest.approx(2 * widths[1], rel=0.01)
    assert "2.00x" in parser.texts and "resnet50" in "".join(parser.texts)
    assert report_html.speedup_chart(model_with({})) == ""


def test_pages_are_self_contained():
    page = report_html.render(model_with({"resnet50": 1.4}))
    for external in ("<script src", "<link ", "@import", "url(http", 'src="http'):
        assert external not in page
    assert report_md.render(model_with({})).startswith("# ✅ imagecheck sign-off: SIGNED OFF")


def test_a_blocking_regression_is_a_reason():
    regression = Regression("perf", "perf.compile.resnet50.speedup_x", 2.0, 1.5, blocks=True,
                            summary="perf.compile.resnet50.speedup_x 2 -> 1.5 x (25% worse, images.yaml allows 20%)")
    decided = decide([check("test_a", "passed")], required=[], advisory=[], require_gpu=False,
                     regressions=[regression, Regression("version", "torch", "2.6.0", "2.7.0",
                                                         summary="torch 2.6.0 -> 2.7.0 (upgrade)")])
    assert decided.reasons == [f"regression: {regression.summary}"]


HF = "hf_" + "Q" * 34
GHP = "ghp_" + "Z" * 36


def test_image_metadata_in_the_report_keeps_no_credential():
    attrs = {"Id": "sha256:abc", "Size": 6_350_000_000, "Config": {
        "User": "aiuser", "Entrypoint": ["/usr/bin/tini", "--", "serve", f"--token={GHP}"],
        "Cmd": ["sh", "-c", f"HF_TOKEN={HF} start-services"],
        "Labels": {"build.source": f"https://x-access-token:{GHP}@github.com/org/repo",
                   "build.api-token": "0123456789abcdef", "org.opencontainers.image.version": "v2.6"}}}
    info = imageinfo.metadata(attrs)
    assert info["labels"]["org.opencontainers.image.version"] == "v2.6"
    assert info["entrypoint"][:3] == ["/usr/bin/tini", "--", "serve"] and info["cmd"][:2] == ["sh", "-c"]
    model = model_with({})
    model.images[0].image = ImageInfo.from_json(info)
    pages = {"report.html": report_html.render(model), "report.md": report_md.render(model),
             "report.json": json.dumps(model.to_json())}
    for name, text in pages.items():
        for value in (HF, GHP, "0123456789abcdef"):
            assert value not in text, f"{name} shows {value[:4]}… in full"
        assert "6.35 GB" in text or name == "report.json"


def test_pages_show_notes_and_leave_skips_to_the_skipped_table():
    model = model_with({})
    image = model.images[0]
    image.notes = ["development run: 1 required check(s) skipped; a release sign-off runs with --require-gpu"]
    image.skips = ["skipped: test_cuda: the skip line verdict keeps apart"]
    image.checks = [replace(check("test_cuda", "skipped", "needs 1 GPU(s)"), nodeid="t::test_cuda", duration_s=0.1)]
    for page in (report_html.render(model), report_md.render(model)):
        assert "development run: 1 required check(s) skipped" in page
        assert "the skip line verdict keeps apart" not in page
        assert "needs 1 GPU(s)" in page


def test_pages_show_each_regressions_effect():
    model = model_with({})
    model.baseline = BaselineInfo("old/report.json", "then", ["img:1"])
    model.images[0].baseline_ref = "img:1"
    model.images[0].regressions = [
        Regression(kind="newly_failing", name="test_a", baseline="passed", current="failed", blocks=False,
                   effect="blocks (a required check fails)", summary="test_a newly fails"),
        Regression(kind="version", name="torch", baseline="2.6.0", current="2.7.0", blocks=False,
                   change="upgrade", effect="informs", summary="torch 2.6.0 -> 2.7.0 (upgrade)")]
    page = report_html.render(model)
    assert '<span class="badge failed">newly failing</span>' in page and "<td>blocks (a required check fails)</td>" in page
    assert '<span class="badge skipped">version</span>' in page and "<td>informs</td>" in page
    markdown = report_md.render(model)
    assert "| blocks (a required check fails) |" in markdown and "| informs |" in markdown
