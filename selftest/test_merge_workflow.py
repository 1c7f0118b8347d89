"""The release-matrix workflow (docs/examples/release-matrix.yml): valid YAML with a shard
job per runner (a CPU runner, a 1-GPU and a 2-GPU self-hosted runner) and a merge job;
every command it runs exists (make targets, the console script, the pytest and merge
options); and its own shard and merge commands, run here on two shards of the reference
image (the DDP and process checks with --gpu-mode none, the version and CUDA checks),
give one merged verdict whose matrix shows where each check ran. A shard of another
image is refused with both image IDs named."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ddp_runs import ON_GPUS_ONLY, SINGLE
from helpers import REFERENCE, ROOT, SEEDRECIPE
from imagecheck.signoff.model import SignOff

WORKFLOW = ROOT / "docs" / "examples" / "release-matrix.yml"
# what each local shard selects (PYTEST_ADDOPTS), small enough for a 2-core machine
SELECTION = {"cpu": "tests/test_ddp.py tests/test_process.py", "gpu1": "tests/test_versions.py tests/test_cuda.py"}
GPU_TIER = {"test_host_driver_runs_the_image_cuda", "test_cuda_is_available", "test_device_count_equals_the_gpus_granted",
            "test_a_one_gpu_grant_shows_exactly_that_gpu", "test_matmul_and_convolution_run_on_the_gpu",
            "test_arch_list_covers_the_device", "test_nvidia_smi_runs_inside", "test_memory_observability_calls_work"}
BANDWIDTH = "test_all_reduce_bus_bandwidth_meets_the_floor"


@pytest.fixture(scope="module")
def workflow() -> dict:
    try:
        loaded = yaml.safe_load(WORKFLOW.read_text())
    except yaml.YAMLError as error:
        pytest.fail(f"{WORKFLOW.relative_to(ROOT)} is not valid YAML: {error}", pytrace=False)
    assert isinstance(loaded, dict) and set(loaded["jobs"]) == {"shard", "signoff"}, loaded
    return loaded


def step(job: dict, needle: str) -> dict:
    """The one step of a job whose run (or uses) holds needle."""
    found = [s for s in job["steps"] if needle in (s.get("run") or s.get("uses") or "")]
    assert len(found) == 1, f"expected one step with {needle!r}, found {len(found)}"
    return found[0]


def render(script: str, matrix: dict | None = None) -> str:
    """A step's script with its ${{ matrix.* }} expressions filled in (the rest is left to the shell)."""
    rendered = re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str((matrix or {})[m.group(1)]), script)
    assert "${{" not in rendered, f"an expression the local run cannot fill in: {rendered}"
    return rendered


def test_workflow_shards_the_digest_over_three_runners_and_merges_them(workflow):
    assert workflow["on"]["workflow_dispatch"]["inputs"]["image"]["required"] is True
    shard, signoff = workflow["jobs"]["shard"], workflow["jobs"]["signoff"]
    entries = {e["name"]: e for e in shard["strategy"]["matrix"]["include"]}
    assert shard["strategy"]["fail-fast"] is False
    labels = {name: set(e["runner"]) for name, e in entries.items()}
    cpu = [n for n, l in labels.items() if "self-hosted" not in l and "gpu" not in l]
    gpus = {n: l for n, l in labels.items() if {"self-hosted", "gpu"} <= l}
    assert len(cpu) == 1 and sorted(l & {"gpus-1", "gpus-2"} for l in gpus.values()) == [{"gpus-1"}, {"gpus-2"}], labels
    assert "--gpu-mode none" in entries[cpu[0]]["args"]
    validate = step(shard, "--shard")["run"]
    assert re.search(r'pytest --image "\$IMAGE" --pull missing --shard "\$SHARDS/\$\{\{ matrix\.name \}\}"', validate), \
        validate  # the suite pulls the digest itself
    upload = step(shard, "actions/upload-artifact")
    assert upload["if"] == "always()" and "${{ matrix.name }}" in upload["with"]["path"]
    assert signoff["needs"] == "shard" and signoff["if"] == "always()"
    assert step(signoff, "actions/download-artifact")["with"]["pattern"] == "shard-*"
    merge = step(signoff, "imagecheck-signoff merge")
    assert "--release" in merge["run"] and "if" not in merge and "continue-on-error" not in merge
    assert "||" not in merge["run"], "the merge must fail the job when the image is BLOCKED"
    summary = step(signoff, "GITHUB_STEP_SUMMARY")
    assert summary["if"] == "always()" and "report.md" in summary["run"]
    for job in (shard, signoff):
        for s in job["steps"]:
            assert ("run" in s) != ("uses" in s), f"step {s} needs exactly one of run/uses"
            if "uses" in s:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", s["uses"]), s["uses"]


def test_every_command_the_workflow_runs_exists(workflow):
    text = WORKFLOW.read_text()
    targets = set(re.findall(r"\bmake\s+([a-z][\w-]*)", text))
    makefile = set(re.findall(r"^([a-z][\w-]*):(?!=)", (ROOT / "Makefile").read_text(), re.M))
    assert targets and targets <= makefile, f"make targets the Makefile lacks: {sorted(targets - makefile)}"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    programs = set(re.findall(r"\.venv/bin/([\w-]+)", text))
    assert programs == {"pytest", "imagecheck-signoff"}, programs
    assert scripts.get("imagecheck-signoff") == "imagecheck.signoff.cli:main", scripts
    for program in programs:
        assert (ROOT / ".venv" / "bin" / program).exists(), f".venv/bin/{program} is missing: run `make setup`"
    pytest_help = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True,
                                 timeout=120).stdout
    shard_run = step(workflow["jobs"]["shard"], "--shard")["run"]
    for option in set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", shard_run)) | {"--gpu-mode"}:
        assert f"{option} " in pytest_help or f"{option}=" in pytest_help, f"pytest has no option {option}"
    merge_help = subprocess.run([str(ROOT / ".venv" / "bin" / "imagecheck-signoff"), "merge", "--help"],
                                capture_output=True, text=True, timeout=60)
    assert merge_help.returncode == 0, merge_help.stderr
    merge_run = step(workflow["jobs"]["signoff"], "imagecheck-signoff merge")["run"]
    for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", merge_run):
        assert option in merge_help.stdout, f"imagecheck-signoff merge has no option {option}"
    defined = set(workflow["env"]) | {"GITHUB_STEP_SUMMARY", "GITHUB_PATH", "HOME"}
    for job in workflow["jobs"].values():
        for s in job["steps"]:
            used = set(re.findall(r"\$\{?([A-Z_]+)", s.get("run", "")))
            assert used <= defined | set(s.get("env") or {}), f"step {s.get('name')} reads {used - defined}"


@dataclass
class Shell:
    """A step's script run here as GitHub runs it (bash -eo pipefail)."""

    ret: int
    output: str


def run_step(script: str, env: dict[str, str], timeout: int = 900) -> Shell:
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    return Shell(proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def environment(tmp_path_factory, fixture_image) -> dict[str, str]:
    """The workflow's environment, here: the reference image, folders under a temporary one."""
    work = tmp_path_factory.mktemp("release")
    return {"IMAGE": fixture_image(REFERENCE), "SHARDS": str(work / "shards"), "SIGNOFF": str(work / "signoff"),
            "GITHUB_STEP_SUMMARY": str(work / "summary.md"), "WORK": str(work)}


@pytest.fixture(scope="module")
def shard_here(workflow, environment):
    """shard_here(name): the workflow's shard step for that matrix entry, run here once
    (selecting SELECTION[name]); the shard's folder."""
    job = workflow["jobs"]["shard"]
    entries = {e["name"]: e for e in job["strategy"]["matrix"]["include"]}
    done: dict[str, Path] = {}

    def run(name: str) -> Path:
        if name not in done:
            ran = run_step(render(step(job, "--shard")["run"], entries[name]),
                           {**environment, "SHARD_ARGS": entries[name]["args"], "PYTEST_ADDOPTS": SELECTION[name]})
            assert ran.ret == 0, f"shard {name}: exit {ran.ret}\n{ran.output[-3000:]}"
            done[name] = Path(environment["SHARDS"]) / name
        return done[name]

    return run


@pytest.fixture(scope="module")
def local(workflow, environment, shard_here) -> dict:
    """Both shards (cpu and gpu1), then the workflow's merge and summary steps, here:
    {'shards', 'signoff', 'merge', 'summary', 'env', 'work'}."""
    for name in SELECTION:
        shard_here(name)
    job = workflow["jobs"]["signoff"]
    merge = run_step(render(step(job, "imagecheck-signoff merge")["run"]), environment, timeout=300)
    summary = run_step(render(step(job, "GITHUB_STEP_SUMMARY")["run"]), environment, timeout=60)
    return {"shards": Path(environment["SHARDS"]), "signoff": Path(environment["SIGNOFF"]), "merge": merge,
            "summary": summary, "env": environment, "work": Path(environment["WORK"])}


def report_of(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def test_each_shard_records_its_host_what_it_judged_and_reads_back_unchanged(local, docker_client):
    engine = docker_client.images.get(REFERENCE).attrs
    for name in SELECTION:
        report = report_of(local["shards"] / name)
        shard = report["shard"]
        assert shard["name"] == name and shard["suite_version"] == report["tool"]["version"]
        assert shard["images"][REFERENCE]["id"] == engine["Id"]
        assert shard["images"][REFERENCE]["repo_digests"] == (engine.get("RepoDigests") or [])
        assert shard["images"][REFERENCE]["promises_digest"].startswith("sha256:")
        assert shard["host"]["engine"] == f"Docker {docker_client.version()['Version']}"
        assert (local["shards"] / name / "junit.xml").is_file()
        assert SignOff.from_json(report).to_json() == report
        for check in report["images"][0]["checks"]:
            assert check["status"] in ("passed", "failed", "not_applicable", "could_not_run"), check
            if check["status"] == "could_not_run":
                assert check["requirement"]["kind"] == "gpus", check


def test_the_release_merge_blocks_only_for_the_checks_no_shard_could_run(local):
    assert local["merge"].ret == 1 and "BLOCKED" in local["merge"].output, local["merge"].output[-3000:]
    report = report_of(local["signoff"])
    assert [s["name"] for s in report["shards"]] == list(SELECTION)
    image = report["images"][0]
    checks = {c["check"]: c for c in image["checks"]}
    cannot = {name for name, c in checks.items() if c["status"] == "could_not_run"}
    assert cannot == GPU_TIER | (SINGLE & ON_GPUS_ONLY), cannot  # the NCCL-only checks of tests/test_ddp.py
    assert not [c for c in checks.values() if c["status"] == "failed"]
    assert checks[BANDWIDTH]["requirement"]["shards"] == {"cpu": {"kind": "gpus", "wanted": 2, "granted": 0}}
    assert checks["test_cuda_is_available"]["requirement"]["shards"] == {"gpu1": {"kind": "gpus", "wanted": 1,
                                                                                  "granted": 0}}
    assert image["reasons"] and all("could not run on any shard" in r for r in image["reasons"]), image["reasons"]
    assert any("gpu1 needs 1 GPU(s), granted 0" in r for r in image["reasons"]), image["reasons"]
    assert any("cpu needs 2 GPU(s), granted 0" in r for r in image["reasons"]), image["reasons"]
    assert {r["shard"]: r["status"] for r in checks["test_loss_falls_over_ddp_steps"]["shards"]} == {"cpu": "passed"}


def test_the_pages_show_where_each_check_ran(local):
    markdown = (local["signoff"] / "report.md").read_text()
    assert "| check | merged | cpu: no GPU | gpu1: no GPU |" in markdown, markdown[:3000]
    assert "| `test_loss_falls_over_ddp_steps` | passed | passed | not selected |" in markdown
    assert "| `test_version_is_as_promised[torch]` | passed | not selected | passed |" in markdown
    assert (f"| `{BANDWIDTH}` | **could not run** | could not run: needs 2 GPU(s), granted 0 | not selected |"
            in markdown)
    assert "## Hosts (shards merged)" in markdown and "| `gpu1` |" in markdown
    page = (local["signoff"] / "report.html").read_text()
    assert page.count('<table class="matrix">') == 1 and 'data-check="test_cuda_is_available"' in page
    assert local["summary"].ret == 0 and Path(local["env"]["GITHUB_STEP_SUMMARY"]).read_text() == markdown
    junit = (local["signoff"] / "junit.xml").read_text()
    assert 'name="imagecheck.shard.cpu.host"' in junit and 'name="imagecheck.shard.gpu1.status"' in junit


def run_merge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "imagecheck-signoff"), "merge", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_a_development_merge_signs_off_and_takes_the_release_as_baseline(local):
    out = local["work"] / "development"
    proc = run_merge(*(str(local["shards"] / n) for n in SELECTION), "--out", str(out), "--baseline",
                     str(local["signoff"] / "report.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    image = report_of(out)["images"][0]
    assert image["verdict"] == "SIGNED OFF" and image["baseline_ref"] == REFERENCE
    assert image["regressions"] == [], image["regressions"]


def test_a_shard_of_another_image_is_refused_naming_both_ids(shard_here, environment, fixture_image, docker_client):
    work = Path(environment["WORK"])
    other = work / "shards-other" / "recipe"
    ran = subprocess.run([sys.executable, "-m", "pytest", "tests/test_versions.py", "-p", "no:cacheprovider",
                          "--image", fixture_image(SEEDRECIPE), "--shard", str(other)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert (other / "report.json").is_file(), ran.stdout[-3000:]
    proc = run_merge(str(shard_here("gpu1")), str(other), "--out", str(work / "refused"))
    assert proc.returncode == 4 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    for ref in (REFERENCE, SEEDRECIPE):
        assert docker_client.images.get(ref).id in proc.stderr, proc.stderr
    assert not (work / "refused").exists()
