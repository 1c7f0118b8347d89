"""What CI and a reader run exists: the example nightly workflow is valid YAML for a
self-hosted GPU runner, runs only make targets the Makefile has, reads the files
`make nightly` writes, and installs a CVE scanner before a release nightly; every `make`
command in the README exists; `make help` lists every target."""
from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from helpers import ROOT
from imagecheck.signoff import plugin as report

WORKFLOW = ROOT / "docs" / "examples" / "nightly-gpu.yml"
MAKE_COMMAND = re.compile(r"(?:^|[\s;&|(])make\s+((?:[A-Za-z_]+=\S+\s+)*)([a-z][\w-]*)")


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {m.group(1) for m in re.finditer(r"^([a-z][\w-]*):(?!=)", text, re.M)}


def make_targets_in(text: str) -> set[str]:
    return {m.group(2) for m in MAKE_COMMAND.finditer(text)}


@pytest.fixture(scope="module")
def workflow() -> dict:
    try:
        return yaml.safe_load(WORKFLOW.read_text())
    except yaml.YAMLError as error:
        pytest.fail(f"{WORKFLOW.relative_to(ROOT)} is not valid YAML: {error}", pytrace=False)


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_workflow_is_a_nightly_job_on_a_self_hosted_gpu_runner(workflow):
    assert isinstance(workflow, dict) and workflow.get("name")
    triggers = workflow["on"]
    assert re.fullmatch(r"[\d*/,-]+( [\d*/,-]+){4}", triggers["schedule"][0]["cron"])
    assert "workflow_dispatch" in triggers
    for name, job in workflow["jobs"].items():
        labels = job["runs-on"]
        assert "self-hosted" in labels and "gpu" in labels, f"job {name} runs on {labels}"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"step {step} needs exactly one of run/uses"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_workflow_runs_only_make_targets_that_exist(workflow):
    wanted = set()
    for step in steps(workflow):
        wanted |= make_targets_in(step.get("run", ""))
    assert {"setup", "nightly"} <= wanted
    missing = wanted - makefile_targets()
    assert not missing, f"the workflow runs make targets the Makefile lacks: {sorted(missing)}"
    for target in sorted(wanted):
        proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"`make -n {target}` fails: {proc.stderr.strip()}"


def test_workflow_reads_the_files_the_nightly_writes(workflow):
    text = WORKFLOW.read_text()
    used = set(re.findall(r"nightly-report/([\w.-]+\.\w+)", text))
    assert used, "the workflow reads nothing from the report folder"
    assert used <= set(report.FILES) | {"junit.xml"}, used
    assert "$REPORTS/latest" in text


def test_a_release_workflow_puts_a_cve_scanner_on_path(workflow):
    """Under --require-gpu a check that could not run blocks the sign-off, and the CVE check
    cannot run without trivy or grype: a release nightly without one is always BLOCKED."""
    runs = [step.get("run", "") for step in steps(workflow)]
    nightly = next(i for i, run in enumerate(runs) if "make nightly" in run)
    if "--require-gpu" in runs[nightly]:
        assert any(re.search(r"\b(trivy|grype)\b", run) for run in runs[:nightly]), (
            "the workflow runs a release nightly (--require-gpu) but no step before it installs trivy or grype")


def test_readme_make_commands_exist():
    readme = (ROOT / "README.md").read_text()
    commands = make_targets_in(readme)
    assert {"validate", "test", "nightly"} <= commands
    missing = commands - makefile_targets()
    assert not missing, f"README.md mentions make targets the Makefile lacks: {sorted(missing)}"
    first_block = re.search(r"```(?:\w+)?\n(.*?)```", readme, re.S).group(1)
    assert make_targets_in(first_block) >= {"validate", "test"}, "the quick start shows the two commands first"


def test_make_help_lists_every_target():
    proc = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    listed = set(re.findall(r"^\s+make (\S+)", proc.stdout, re.M))
    phony = set(re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split())
    assert phony <= listed, f"make help leaves out {sorted(phony - listed)}"
