"""The merge of shards into one release sign-off, on hand-made shards (no Docker): which
status a check gets across hosts, which host a failure names, what a check no shard could
run says, which shards are refused, and the command line's answers to bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT
from imagecheck.signoff import writer
from imagecheck.signoff.merge import MergeRefused, Shard, merge
from imagecheck.signoff.model import CheckRecord, ImageInfo, ImageReport, Policy, SignOff
from imagecheck.signoff.requirement import describe
from imagecheck.signoff.shard import shard_info

REF = "registry.example:5000/pytorch-cuda@sha256:" + "d" * 64
IMAGE_ID = "sha256:" + "1" * 64
PROMISES = "sha256:" + "p" * 64
NEEDS_ONE_GPU = {"kind": "gpus", "wanted": 1, "granted": 0}
NEEDS_TWO_GPUS = {"kind": "gpus", "wanted": 2, "granted": 1}


def host(name: str, gpus: int) -> dict:
    """A host as image/description.describe_host() writes it."""
    return {"hostname": f"{name}-host", "gpus": [{"index": i, "name": "NVIDIA H200"} for i in range(gpus)],
            "driver": "550.54" if gpus else None, "gpu_access": {"granted": gpus},
            "docker": {"version": "27.1.1"}}


def record(check: str, outcome: str, message: str = "", requirement: dict | None = None, **evidence) -> CheckRecord:
    return CheckRecord(check=check, function=check.split("[")[0], outcome=outcome, message=message,
                       requirement=requirement, nodeid=f"tests/test_x.py::{check}", module="tests/test_x.py",
                       image=REF, evidence=evidence)


def shard(name: str, gpus: int, checks: list[CheckRecord], *, image_id: str = IMAGE_ID, digests: list[str] = (),
          promises: str = PROMISES, version: str = "0.1.0", perf: dict | None = None) -> Shard:
    image = ImageReport(REF, policy=Policy(), image=ImageInfo(id=image_id, repo_digests=list(digests)),
                        checks=checks, promises_digest=promises, versions={"torch": "2.6.0+cu124", "cuda": "12.4"},
                        inside={"cuda_available": bool(gpus), "devices": [{"name": "NVIDIA H200"}] * gpus})
    if perf:
        image.perf = perf
    report = SignOff(images=[image], host=host(name, gpus), tool={"name": "imagecheck", "version": version},
                     shard=shard_info(name, host(name, gpus), [image], version, require_gpu=False))
    return Shard(f"shards/{name}", report)


def merged_check(signoff: SignOff, name: str) -> CheckRecord:
    return next(c for c in signoff.images[0].checks if c.check == name)


def test_a_check_that_passed_on_one_host_and_could_not_run_elsewhere_passes():
    cpu = shard("cpu", 0, [record("test_cuda_is_available", "skipped", "needs 1 GPU(s)", NEEDS_ONE_GPU),
                           record("test_versions", "passed")])
    gpu = shard("gpu1", 1, [record("test_cuda_is_available", "passed")])
    signoff = merge([cpu, gpu], release=True)
    check = merged_check(signoff, "test_cuda_is_available")
    assert (check.status, check.outcome) == ("passed", "passed")
    assert {r.shard: r.status for r in check.shards} == {"cpu": "could_not_run", "gpu1": "passed"}
    assert signoff.verdict == "SIGNED OFF", signoff.images[0].reasons


def test_a_failure_on_any_host_blocks_and_names_that_host():
    cpu = shard("cpu", 0, [record("test_all_reduce", "passed")])
    gpu = shard("gpu2", 2, [record("test_all_reduce", "failed", "rank 1 got wrong elements")])
    signoff = merge([cpu, gpu], release=False)
    check = merged_check(signoff, "test_all_reduce")
    assert check.status == "failed"
    image = signoff.images[0]
    assert image.verdict == "BLOCKED"
    assert image.reasons == ["required check test_all_reduce failed: on gpu2 (NVIDIA H200 x 2 on gpu2-host): "
                             "rank 1 got wrong elements"]


def test_a_check_no_shard_could_run_blocks_a_release_naming_what_each_shard_lacked():
    checks = lambda granted: [record("test_ddp", "skipped", f"needs 2 GPU(s), this host grants {granted}",  # noqa: E731
                                     {"kind": "gpus", "wanted": 2, "granted": granted}),
                              record("test_versions", "passed")]
    shards = [shard("cpu", 0, checks(0)), shard("gpu1", 1, checks(1))]
    release = merge(shards, release=True)
    check = merged_check(release, "test_ddp")
    assert check.status == "could_not_run"
    assert check.requirement == {"kind": "any_shard", "shards": {"cpu": {"kind": "gpus", "wanted": 2, "granted": 0},
                                                                  "gpu1": {"kind": "gpus", "wanted": 2, "granted": 1}}}
    assert release.verdict == "BLOCKED"
    assert release.images[0].reasons == [
        "required check test_ddp was skipped in a release run (--release): could not run on any shard: "
        "cpu needs 2 GPU(s), granted 0; gpu1 needs 2 GPU(s), granted 1"]
    development = merge(shards, release=False)
    assert development.verdict == "SIGNED OFF" and development.images[0].reasons == []
    assert any("1 required check(s) skipped" in note and "--release" in note for note in development.images[0].notes)


def test_a_check_that_does_not_apply_anywhere_never_blocks():
    skip = record("test_onnx", "skipped", "does not apply: images.yaml promises no ONNX export")
    signoff = merge([shard("cpu", 0, [skip, record("test_a", "passed")]), shard("gpu1", 1, [skip])], release=True)
    assert merged_check(signoff, "test_onnx").status == "not_applicable"
    assert signoff.verdict == "SIGNED OFF", signoff.images[0].reasons


def test_performance_figures_keep_their_host():
    from imagecheck.signoff.model import PerfFigure

    figure = PerfFigure(value=300.0, unit="GB/s", direction="higher", subject="all_reduce.2gpu",
                        measure="bus_bandwidth", check="test_bw")
    signoff = merge([shard("cpu", 0, [record("test_a", "passed")]),
                     shard("gpu2", 2, [record("test_bw", "passed")], perf={"perf.all_reduce.2gpu.bus_bandwidth_gbps":
                                                                           figure})], release=True)
    kept = signoff.images[0].perf["perf.all_reduce.2gpu.bus_bandwidth_gbps"]
    assert (kept.shard, kept.value) == ("gpu2", 300.0)
    assert kept.host.startswith("NVIDIA H200 x 2, driver 550.54")
    page = writer.contents(signoff)
    assert "gpu2: NVIDIA H200 x 2" in page["report.md"]


def test_shards_of_different_image_ids_are_refused_naming_both():
    other = "sha256:" + "2" * 64
    with pytest.raises(MergeRefused) as refused:
        merge([shard("cpu", 0, [record("test_a", "passed")]),
               shard("gpu1", 1, [record("test_a", "passed")], image_id=other)], release=True)
    message = str(refused.value)
    assert IMAGE_ID in message and other in message, message
    for part in ("expected:", "observed:", "where: shards/cpu and shards/gpu1", "hint:"):
        assert part in message, message


def test_shards_that_judged_the_same_images_in_another_order_merge():
    other_ref = REF.replace("pytorch-cuda@", "pytorch-cuda-slim@")

    def two_images(name: str, gpus: int, refs: list[str]) -> Shard:
        images = [ImageReport(ref, policy=Policy(), image=ImageInfo(id=IMAGE_ID), promises_digest=PROMISES,
                              checks=[record("test_a", "passed")]) for ref in refs]
        report = SignOff(images=images, host=host(name, gpus), tool={"name": "imagecheck", "version": "0.1.0"},
                         shard=shard_info(name, host(name, gpus), images, "0.1.0", require_gpu=False))
        return Shard(f"shards/{name}", report)

    signoff = merge([two_images("cpu", 0, [REF, other_ref]), two_images("gpu1", 1, [other_ref, REF])],
                    release=True)
    assert [image.ref for image in signoff.images] == [REF, other_ref]
    assert signoff.verdict == "SIGNED OFF", [image.reasons for image in signoff.images]


def test_shards_of_different_digests_promises_or_versions_are_refused():
    a, b = f"{REF.split('@')[0]}@sha256:{'a' * 64}", f"{REF.split('@')[0]}@sha256:{'b' * 64}"
    cases = {"digests": (dict(digests=[a]), dict(digests=[b]), (a, b)),
             "promises": (dict(), dict(promises="sha256:" + "q" * 64), (PROMISES, "sha256:" + "q" * 64)),
             "versions": (dict(), dict(version="0.2.0"), ("imagecheck 0.1.0", "imagecheck 0.2.0"))}
    for what, (mine, theirs, named) in cases.items():
        with pytest.raises(MergeRefused) as refused:
            merge([shard("cpu", 0, [record("test_a", "passed")], **mine),
                   shard("gpu1", 1, [record("test_a", "passed")], **theirs)], release=True)
        assert all(name in str(refused.value) for name in named), f"{what}: {refused.value}"


def write_shard(folder: Path, made: Shard) -> Path:
    writer.write(made.report, folder, junit=True)
    return folder


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagecheck.signoff", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_command_merges_written_shards_and_exits_by_the_verdict(tmp_path):
    cpu = write_shard(tmp_path / "cpu", shard("cpu", 0, [record("test_cuda", "skipped", "no GPU", NEEDS_ONE_GPU)]))
    gpu = write_shard(tmp_path / "gpu1", shard("gpu1", 1, [record("test_cuda", "passed")]))
    proc = run_cli("merge", str(cpu), str(gpu), "--out", str(tmp_path / "out"), "--release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["junit.xml", "report.html", "report.json",
                                                                    "report.md"]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["verdict"] == "SIGNED OFF" and [s["name"] for s in report["shards"]] == ["cpu", "gpu1"]
    alone = run_cli("merge", str(cpu), "--out", str(tmp_path / "alone"), "--release")
    assert alone.returncode == 1 and "BLOCKED" in alone.stdout, alone.stdout + alone.stderr


@pytest.mark.parametrize("problem", ["no shard", "no folder", "no report.json", "invalid JSON", "not a shard",
                                     "different images"])
def test_bad_input_exits_4_with_expected_observed_where_and_a_hint(tmp_path, problem):
    good = write_shard(tmp_path / "cpu", shard("cpu", 0, [record("test_a", "passed")]))
    bad = tmp_path / "bad"
    bad.mkdir()
    if problem == "no report.json":
        (bad / "junit.xml").write_text("<testsuites/>")
    elif problem == "invalid JSON":
        (bad / "report.json").write_text('{"schema": "imagecheck.signoff/1", "images": [')
    elif problem == "not a shard":
        plain = shard("x", 0, [record("test_a", "passed")]).report
        plain.shard = None
        writer.write(plain, bad)
    elif problem == "different images":
        write_shard(bad, shard("gpu1", 1, [record("test_a", "passed")], image_id="sha256:" + "9" * 64))
    shards = {"no shard": [], "no folder": [str(tmp_path / "missing")]}.get(problem, [str(good), str(bad)])
    proc = run_cli("merge", *shards, "--out", str(tmp_path / "out"))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "Traceback" not in output, output
    for part in ("expected:", "observed:", "where:", "hint:"):
        assert part in proc.stderr, f"{problem}: no {part!r} in:\n{proc.stderr}"
    if problem == "different images":
        assert IMAGE_ID in proc.stderr and "sha256:" + "9" * 64 in proc.stderr, proc.stderr


def test_a_merged_report_is_a_baseline_and_a_merge_takes_one(tmp_path):
    shards = [write_shard(tmp_path / "cpu", shard("cpu", 0, [record("test_a", "passed"), record("test_b", "passed")])),
              write_shard(tmp_path / "gpu1", shard("gpu1", 1, [record("test_b", "passed")]))]
    first = run_cli("merge", *map(str, shards), "--out", str(tmp_path / "released"), "--release")
    assert first.returncode == 0, first.stdout + first.stderr
    worse = write_shard(tmp_path / "gpu1-now", shard("gpu1", 1, [record("test_b", "failed", "broke")]))
    again = run_cli("merge", str(shards[0]), str(worse), "--out", str(tmp_path / "now"), "--release",
                    "--baseline", str(tmp_path / "released" / "report.json"))
    assert again.returncode == 1, again.stdout + again.stderr
    image = json.loads((tmp_path / "now" / "report.json").read_text())["images"][0]
    assert image["baseline_ref"] == REF
    assert [(r["kind"], r["name"], r["effect"]) for r in image["regressions"]] == \
        [("newly_failing", "test_b", "blocks (a required check fails)")]
    assert "## Regressions against the baseline" in (tmp_path / "now" / "report.md").read_text()


def test_a_requirement_reads_in_words_with_its_values_or_their_default():
    assert describe({"kind": "gpus", "wanted": 2, "granted": 1}) == "needs 2 GPU(s), granted 1"
    assert describe({"kind": "cve_scanner"}) == "needs a CVE scanner on PATH (trivy or grype)"
    assert describe({"kind": "cve_scanner", "wanted": ["trivy"]}) == "needs a CVE scanner on PATH (trivy)"
    assert describe({"kind": "bridge_network", "name": None}) == "needs a bridge network to publish ports"
    assert describe(None, "needs syft\nmore") == "needs syft"
