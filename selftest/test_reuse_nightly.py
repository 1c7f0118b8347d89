"""A nightly with --reuse does not validate an unchanged image twice: after a nightly of an
image, a second nightly with --reuse starts no container of it and its report (JSON,
HTML, Markdown, JUnit) says the results come from the first run; a change of the image's
promises makes it run again; a release run (--require-gpu) never reuses; an earlier
result that cannot be read, was blocked or has another fingerprint is passed over."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import REFERENCE, ROOT, containers_created

from imagecheck import config, nightly as nightly_module
from imagecheck.signoff import reuse

CHECKS = "tests/test_versions.py"


@pytest.fixture
def own_reference(docker_client, fixture_image, tmp_path):
    """The reference under a tag of this test alone (so every container of it is this
    test's), and a copy of images.yaml that lists it with the reference's promises."""
    ref = f"imagecheck-selftest/reuse:{uuid.uuid4().hex[:8]}"
    docker_client.images.get(fixture_image(REFERENCE)).tag(ref)
    images = tmp_path / "images.yaml"
    images.write_text((ROOT / "images.yaml").read_text().rstrip("\n") + f"\n\n  {ref}:\n    <<: *v26\n")
    yield ref, images
    docker_client.images.remove(ref)


def nightly(reports: Path, images: Path, ref: str, *options: str, pytest_args: tuple[str, ...] = ()):
    return subprocess.run([sys.executable, "-m", "imagecheck.nightly", "--reports", str(reports), *options, "--",
                           "-p", "no:cacheprovider", "--images-file", str(images), "--image", ref, *pytest_args,
                           CHECKS], cwd=ROOT, capture_output=True, text=True, timeout=900)


def latest(reports: Path) -> Path:
    return (reports / "latest").resolve()


def test_an_unchanged_image_is_reused_and_a_changed_promise_runs_it_again(tmp_path, docker_client, own_reference):
    ref, images = own_reference
    reports = tmp_path / "reports"
    first = nightly(reports, images, ref)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    first_folder = latest(reports)
    first_report = json.loads((first_folder / "report.json").read_text())
    recorded = first_report["images"][0]["fingerprint"]
    assert recorded["image_id"] == docker_client.images.get(ref).id

    started = time.time()
    second = nightly(reports, images, ref, "--reuse")
    created = containers_created(docker_client, started, time.time(), image=ref)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert f"{ref}: results reused from run {first_folder.name}" in second.stdout, second.stdout[:3000]
    assert created == [], f"expected no container of {ref} in a nightly that reuses it, observed {len(created)}"
    folder = latest(reports)
    image = json.loads((folder / "report.json").read_text())["images"][0]
    origin = image["reused_from"]
    assert origin["folder"] == first_folder.name and origin["generated"] == first_report["generated"], origin
    assert Path(origin["report"]).resolve() == first_folder / "report.json"
    assert image["verdict"] == "SIGNED OFF" and image["checks"] == first_report["images"][0]["checks"]
    label = f"run {first_folder.name} (generated {first_report['generated']})"
    assert f'data-reused-from="{first_folder.name}"' in (folder / "report.html").read_text()
    assert f"Results reused from {label}" in (folder / "report.md").read_text()
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties[f"imagecheck.{ref}.reused_from"] == label
    assert int(suite.get("tests")) == len(first_report["images"][0]["checks"])
    assert "pytest did not run" in (folder / "pytest.log").read_text()

    images.write_text(images.read_text() + '    triton: "3.2"\n')  # a promise written otherwise
    started = time.time()
    third = nightly(reports, images, ref, "--reuse")
    created = containers_created(docker_client, started, time.time(), image=ref)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-2000:]
    assert "promises in the images file changed" in third.stdout, third.stdout[:2000]
    assert created, f"expected the nightly to validate {ref} again after its promises changed; no container started"
    rerun = json.loads((latest(reports) / "report.json").read_text())["images"][0]
    assert "reused_from" not in rerun and rerun["fingerprint"]["promises"] != recorded["promises"]


def test_a_release_run_never_reuses(tmp_path, monkeypatch, capsys, own_reference):
    """An earlier report whose fingerprint matches the release run's own: the release run
    still validates the image (pytest is stood in for, so nothing starts); the same
    report is reused by a development run with matching fingerprints (the control)."""
    ref, images = own_reference
    reports = tmp_path / "reports"
    catalog = config.load(images)
    ran: list[list[str]] = []
    monkeypatch.setattr(nightly_module, "run_pytest", lambda cmd, log: ran.append(cmd) or log.write_text("") or 0)

    for mode_args, expect_run in (((), False), (("--require-gpu",), True)):
        pytest_args = ["--images-file", str(images), "--image", ref, *mode_args, CHECKS]
        earlier = reports / f"earlier{len(mode_args)}"
        earlier.mkdir(parents=True)
        fingerprint = nightly_module.fingerprints_of([ref], catalog, pytest_args)[ref]
        (earlier / "report.json").write_text(json.dumps({
            "generated": "2026-01-01T00:00:00+00:00", "run": {"require_gpu": bool(mode_args)},
            "images": [{"ref": ref, "verdict": "SIGNED OFF", "fingerprint": fingerprint,
                        "checks": [{"check": "test_version_is_as_promised[torch]", "outcome": "passed"}]}]}))
        ran.clear()
        status = nightly_module.main(["--reports", str(reports), "--reuse", "--", *pytest_args])
        out = capsys.readouterr().out
        if expect_run:
            assert ran and ref in ran[0], out
            assert "--reuse is off: a release run (--require-gpu) validates every image" in out
        else:
            assert status == 0 and not ran, out
            assert f"{ref}: results reused from run {earlier.name}" in out


def test_a_release_option_in_pytest_addopts_also_turns_reuse_off(monkeypatch):
    assert nightly_module.reuse_refused(["-k", "cuda"]) is None
    monkeypatch.setenv("PYTEST_ADDOPTS", "-ra --require-gpu")
    assert "release run" in nightly_module.reuse_refused(["-k", "cuda"])


def test_the_fingerprint_names_what_changed():
    mine = {"image_id": "a", "suite": "s", "promises": "p", "host": "h", "arguments": "x"}
    assert reuse.differences(mine, dict(mine)) == []
    assert reuse.differences(mine, {**mine, "image_id": "b", "host": "g"}) == ["image ID", "host (GPUs, driver, engine)"]
    assert reuse.differences(mine, None)[0].startswith("no fingerprint")
    assert reuse.other_arguments(["--image", "a:1", "-k", "cuda", "--images-file=x.yaml", "--image=b:1"]) == ["-k", "cuda"]


def test_an_unreadable_blocked_or_changed_earlier_result_is_passed_over(tmp_path):
    mine = {"image_id": "sha256:a", "suite": "s", "promises": "p", "host": "h", "arguments": "x"}

    def report(name: str, text: str, age: int) -> None:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "report.json").write_text(text)
        os.utime(folder / "report.json", (time.time() - age, time.time() - age))

    def image(verdict: str, **fingerprint: str) -> str:
        return json.dumps({"generated": f"{verdict} time", "images": [
            {"ref": "a:1", "verdict": verdict, "fingerprint": {**mine, **fingerprint}}]})

    report("good", image("SIGNED OFF"), age=400)
    report("blocked", image("BLOCKED"), age=300)
    report("other-host", image("SIGNED OFF", host="g"), age=200)
    report("broken", "{not json", age=100)
    earlier = reuse.earlier_reports(tmp_path, exclude=tmp_path / "tonight")
    assert [e.folder.name for e in earlier] == ["broken", "other-host", "blocked", "good"]
    found, source, why = reuse.find("a:1", mine, earlier)
    assert found is not None and source.folder.name == "good" and why == ""
    assert found.reused_from.label() == "run good (generated SIGNED OFF time)"
    assert earlier[0].problem and "broken" in earlier[0].problem
    assert reuse.find("a:1", {**mine, "image_id": "sha256:b"}, earlier)[2] == \
        "its image ID, host (GPUs, driver, engine) changed since other-host"
    assert reuse.find("b:1", mine, earlier)[2] == "no earlier report holds b:1"
    assert "BLOCKED in blocked" in reuse.find("a:1", mine, earlier[2:3])[2]
