"""Negative controls of the security and runtime contract, against real Docker.

Each defect image (fixtures/images/defects/<name>/: the reference plus one defect) must
fail exactly the check(s) named for it here, for the reason named, and pass every other
check of the contract; the reference image must pass them all. No secret value may appear
in full in the output or the JUnit report of any of these runs.

Each image gets one inner run restricted to the contract's test modules (about a minute
per image); select one with -k, e.g. `-k no-init`.
"""
from __future__ import annotations

import ast
import os
import re

import pytest

from helpers import REFERENCE, ROOT, containers_created

SECURITY_TESTS = ("tests/test_users.py", "tests/test_arbitrary_uid.py", "tests/test_ports.py",
                  "tests/test_jupyter.py", "tests/test_ssh.py", "tests/test_process.py",
                  "tests/test_secrets.py", "tests/test_filesystem.py", "tests/test_mounts.py",
                  "tests/test_cves.py")
DEFECTS_DIR = ROOT / "fixtures" / "images" / "defects"
# Skipped on a host without trivy or grype; nothing else of the contract may skip here.
MAY_SKIP = {"test_no_known_vulnerability_above_the_threshold"}

# defect image -> (the checks it must fail, a phrase each failure must hold: the reason)
CONTROLS = {
    "pytorch-cuda:v2.6-root-user": {
        "test_default_user_is_not_root": "runs as root",
        "test_default_user_is_as_promised": "uid is 0, images.yaml expects 1000"},
    "pytorch-cuda:v2.6-home-not-writable": {
        "test_home_is_writable": "cannot write its HOME /home/aiuser"},
    "pytorch-cuda:v2.6-no-tmp": {
        "test_tmp_is_world_writable_and_sticky": "has no /tmp"},
    "pytorch-cuda:v2.6-no-passwd-entry": {
        "test_torch_works_under_an_arbitrary_uid": "getpwuid(): uid not found: 12345"},
    "pytorch-cuda:v2.6-jupyter-no-token": {
        "test_jupyter_refuses_unauthenticated_api_calls": "without a token with HTTP 200"},
    "pytorch-cuda:v2.6-ssh-password-login": {
        "test_sshd_refuses_password_login": "passwordauthentication yes"},
    "pytorch-cuda:v2.6-ssh-baked-host-keys": {
        "test_ssh_host_keys_differ_between_containers": "serve the same SSH host key"},
    "pytorch-cuda:v2.6-extra-port": {
        "test_no_unlisted_port_listens": ":8000"},
    "pytorch-cuda:v2.6-secret-in-env": {
        "test_environment_holds_no_secrets": "ENV HF_TOKEN: Hugging Face token (hf_I…"},
    "pytorch-cuda:v2.6-secret-in-build-arg": {
        "test_build_history_holds_no_secrets": "GitHub token (ghp_…"},
    "pytorch-cuda:v2.6-setuid-binary": {
        "test_no_setuid_or_setgid_files_outside_the_allowlist": "/usr/local/bin/find-as-root"},
    "pytorch-cuda:v2.6-no-init": {
        "test_docker_stop_is_prompt": "killed when the grace ran out"},
    # Its entrypoint never runs a command, so the arbitrary-uid check (which runs its probe
    # as the command) cannot run either: two checks, one cause.
    "pytorch-cuda:v2.6-swallowed-command": {
        "test_given_command_runs": "did not run the command it was given",
        "test_torch_works_under_an_arbitrary_uid": "did not run the command it was given"},
}


def contract_tests() -> set[str]:
    """Every check of the contract: the test functions of its modules."""
    names = set()
    for module in SECURITY_TESTS:
        tree = ast.parse((ROOT / module).read_text())
        names |= {node.name for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return names


def fake_secrets() -> set[str]:
    """The (fake) credential values the defect images carry."""
    values = set()
    for dockerfile in DEFECTS_DIR.glob("*/Dockerfile"):
        values |= set(re.findall(r"\b(?:hf|ghp)_[A-Za-z0-9]{30,}\b", dockerfile.read_text()))
    return values


def by_check(outcomes: dict) -> dict:
    """Outcomes keyed by test function name (the inner run checks one image)."""
    return {name.split("[", 1)[0]: outcome for name, outcome in outcomes.items()}


def test_the_leak_check_knows_the_fake_secrets():
    """The leak check below looks for these values; it must have some to look for."""
    assert {value[:4] for value in fake_secrets()} == {"hf_I", "ghp_"}


@pytest.mark.parametrize("ref", [REFERENCE, *CONTROLS])
def test_image_fails_exactly_its_named_checks(ref, run_suite, fixture_image, docker_client, pytester):
    fixture_image(ref)
    run = run_suite("--image", ref, "--showlocals", tests=SECURITY_TESTS)  # locals too must not leak
    outcomes = by_check(run.outcomes)
    expected = CONTROLS.get(ref, {})

    missing = contract_tests() - set(outcomes)
    assert not missing, f"the inner run did not report {sorted(missing)}; output:\n{run.stdout[-3000:]}"
    failed = {name for name, o in outcomes.items() if o.outcome in ("failed", "error")}
    assert failed == set(expected), (
        f"{ref}: failed {sorted(failed) or 'nothing'}, expected exactly {sorted(expected) or 'nothing'}\n"
        + "\n".join(f"--- {name}: {outcomes[name].message[:1500]}" for name in sorted(failed ^ set(expected))
                    if name in outcomes))
    for name, phrase in expected.items():
        assert phrase in outcomes[name].message, (
            f"{ref}: {name} failed, but not for the named reason ({phrase!r}):\n{outcomes[name].message[:2000]}")
    skipped = {name for name, o in outcomes.items() if o.outcome == "skipped"}
    assert skipped <= MAY_SKIP, f"{ref}: checks skipped that must run here: " + "; ".join(
        f"{name}: {outcomes[name].message.strip()[:200]}" for name in sorted(skipped - MAY_SKIP))

    reports = "".join(path.read_text(errors="replace") for path in pytester.path.glob("junit-*.xml"))
    leaked = [value[:4] + "…" for value in fake_secrets() if value in run.stdout or value in reports]
    assert not leaked, f"{ref}: a secret value appears in full in the output or the JUnit report ({leaked})"

    # Other runs may use the same image meanwhile: a leftover is a container made in this
    # window that still exists although the process that made it has ended.
    created = containers_created(docker_client, run.started, run.finished, image=ref)
    left = [e["id"][:12] for e in created
            if not _alive(e["Actor"]["Attributes"].get("imagecheck.pid"))
            and docker_client.containers.list(all=True, filters={"id": e["id"]})]
    assert not left, f"{ref}: the run left containers behind: {left}"


def _alive(pid: str | None) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
