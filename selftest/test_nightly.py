"""`make nightly` (python -m imagecheck.nightly): every image not marked run_by_default:
false in parallel, one worker per image, the report and JUnit in a dated folder, the
previous night as the baseline; the images file is the one pytest reads, loaded once."""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from helpers import REFERENCE, ROOT, SEEDRECIPE
from pathlib import Path

from imagecheck import config, nightly as nightly_module
from imagecheck.nightly import worker_count


def nightly(reports, *pytest_args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagecheck.nightly", "--reports", str(reports), "--",
                           "-p", "no:cacheprovider", *pytest_args, "tests/test_versions.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_nightly_validates_each_image_on_its_own_worker_into_a_dated_folder(tmp_path, fixture_image):
    reports = tmp_path / "reports"
    first = nightly(reports, "--image", fixture_image(REFERENCE), "--image", fixture_image(SEEDRECIPE))
    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-2000:]  # the recipe is BLOCKED
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    folder = reports / today
    assert sorted(p.name for p in folder.iterdir()) == ["junit.xml", "pytest.log", "report.html", "report.json",
                                                        "report.md"]
    assert (reports / "latest").resolve() == folder.resolve()
    assert "2 image(s), one worker per image" in first.stdout
    report = json.loads((folder / "report.json").read_text())
    assert report["run"]["workers"] == 2 and report["baseline"] is None
    workers = {i["ref"]: {c["worker"] for c in i["checks"]} for i in report["images"]}
    assert all(len(w) == 1 for w in workers.values()) and workers[REFERENCE] != workers[SEEDRECIPE], workers
    assert {i["ref"]: i["verdict"] for i in report["images"]} == {REFERENCE: "SIGNED OFF", SEEDRECIPE: "BLOCKED"}
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite.get("name") == "imagecheck-nightly" and int(suite.get("failures")) == 3
    assert "imagecheck sign-off" in (folder / "pytest.log").read_text()

    second = nightly(reports, "--image", REFERENCE)
    assert second.returncode == 0, second.stdout[-3000:]
    again = reports / f"{today}-2"
    assert (reports / "latest").resolve() == again.resolve()
    baseline = json.loads((again / "report.json").read_text())["baseline"]
    assert baseline["path"] == str(folder / "report.json")


def test_a_gpu_host_gets_no_more_workers_than_its_gpus_allow(tmp_path):
    (tmp_path / "images.yaml").write_text("images:\n  a:1: {}\n  b:1: {}\n  c:1: {}\n  big:1: {gpu: {min_gpus: 4}}\n")
    catalog = config.load(tmp_path / "images.yaml")
    refs = ["a:1", "b:1", "c:1"]
    assert worker_count(refs, catalog, gpus=0)[0] == 3   # CPU host: every image at once
    assert worker_count(refs, catalog, gpus=8)[0] == 3   # 2 GPUs or more each
    assert worker_count(refs, catalog, gpus=2)[0] == 1   # the multi-GPU checks keep both GPUs
    workers, why = worker_count(refs, catalog, gpus=4)
    assert workers == 2 and "each worker needs 2" in why
    assert worker_count(refs + ["big:1"], catalog, gpus=8)[0] == 2  # an image that needs 4 GPUs


def test_the_images_file_is_the_one_pytest_reads():
    default = Path("images.yaml")
    assert nightly_module.images_file_in(["-k", "x"], default) == default
    assert nightly_module.images_file_in(["--images-file", "a.yaml", "-k", "x"], default) == Path("a.yaml")
    assert nightly_module.images_file_in(["--images-file=a.yaml", "--images-file", "b.yaml"], default) == Path("b.yaml")


def test_an_images_file_after_the_separator_decides_the_images_and_is_loaded_once(tmp_path, monkeypatch, capsys):
    images = tmp_path / "controls.yaml"
    images.write_text("images:\n  a:1: {run_by_default: false}\n")
    loads = []
    real_load = config.load
    monkeypatch.setattr(config, "load", lambda path: loads.append(Path(path)) or real_load(path))
    status = nightly_module.main(["--reports", str(tmp_path / "reports"), "--", "--images-file", str(images)])
    assert status == 4 and loads == [images]  # not images.yaml, which lists an image to run
    assert f"{images} lists no image to run by default" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()
    images.write_text("images:\n  a:1: {gpu: {min_gpus: x}}\n")
    assert nightly_module.main(["--reports", str(tmp_path / "reports"), "--", f"--images-file={images}"]) == 4
    assert f"{images} is not valid" in capsys.readouterr().err
