"""Negative controls of the security and runtime contract, against real Docker.

Each defect image (fixtures/images/defects/<name>/: the reference plus one defect) must
fail exactly the check(s) named for it here, for the reason named, and pass every other
check of the contract; the reference image must pass them all. No secret value may appear
in full in the output, the JUnit report or the sign-off report (report.html, report.md,
report.json) of any of these runs, nor any line of a private key baked into a control.

Each image gets one inner run restricted to the contract's test modules (about a minute
per image); select one with -k, e.g. `-k no-init`.
"""
from __future__ import annotations

import ast
import os
import re

import pytest

from helpers import REFERENCE, ROOT, containers_created
from imagecheck.signoff import plugin as report

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
    "pytorch-cuda:v2.6-secret-in-file": {
        "test_files_hold_no_secrets": "/home/aiuser/.cache/huggingface/token:1: Hugging Face token (hf_I…"},
    # Host keys left in /etc/ssh that sshd does not serve (it serves a fresh key per
    # container): the served-key check passes, the file scan names each key and its type.
    # The served baked key of ssh-baked-host-keys is that check's, not the file scan's.
    "pytorch-cuda:v2.6-ssh-unserved-host-keys": {
        "test_files_hold_no_secrets": "/etc/ssh/ssh_host_ed25519_key: private SSH host key, type ssh-ed25519 "
                                      "(not served"},
    "pytorch-cuda:v2.6-empty-password": {
        "test_no_account_has_an_empty_or_preset_password": "aiuser: an empty password (in /etc/shadow)"},
    # PID 1 exits on SIGTERM (docker stop is prompt) and the services answer: only reaping fails.
    "pytorch-cuda:v2.6-no-reaping": {
        "test_pid1_reaps_orphaned_children": "was still a zombie"},
    # Nothing serves port 22. The two checks that judge answers fail, saying so; every other
    # service check needs the image's services up, so each reports that they were not ready
    # (setup errors, and the docker stop check's own fresh container): one cause.
    "pytorch-cuda:v2.6-ssh-not-started": {
        "test_every_listed_port_answers_from_the_host": "ssh port 22",
        "test_ssh_answers_with_its_banner": "did not answer with an SSH-2.0 banner",
        **dict.fromkeys(("test_no_unlisted_port_listens", "test_jupyter_answers_http",
                         "test_jupyter_refuses_unauthenticated_api_calls", "test_jupyter_accepts_the_documented_token",
                         "test_sshd_refuses_password_login", "test_sshd_refuses_root_password_login",
                         "test_ssh_host_keys_differ_between_containers", "test_pid1_reaps_orphaned_children",
                         "test_docker_stop_is_prompt"),
                        "were not ready within timeouts.service_ready (30 s)")},
}
# Controls that carry private keys made at build time: the leak check reads them from the
# image (as root) and looks for every line of each key in the output and the reports.
BAKED_KEYS = {"pytorch-cuda:v2.6-ssh-unserved-host-keys": "/etc/ssh/ssh_host_*_key",
              "pytorch-cuda:v2.6-ssh-baked-host-keys": "/etc/ssh/ssh_host_ed25519_key"}
# The checks that judge how the ports answered fail in their own call (a silent port is
# their finding, never a setup error of theirs).
JUDGES_ANSWERS = {"test_every_listed_port_answers_from_the_host", "test_ssh_answers_with_its_banner"}


def contract_tests() -> set[str]:
    """Every check of the contract: the test functions of its modules."""
    names = set()
    for module in SECURITY_TESTS:
        tree = ast.parse((ROOT / module).read_text())
        names |= {node.name for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return names


def fake_secrets() -> set[str]:
    """The (fake) credential values the defect images carry (in their Dockerfiles and the
    files they copy in)."""
    values = set()
    for path in DEFECTS_DIR.rglob("*"):
        if path.is_file():
            values |= set(re.findall(r"\b(?:hf|ghp)_[A-Za-z0-9]{30,}\b", path.read_text(errors="replace")))
    return values


def baked_key_lines(docker_client, ref: str) -> set[str]:
    """The base64 lines of the private keys BAKED_KEYS names in the image (empty for other
    images), read in a container of the image as root (no network, removed at once)."""
    if ref not in BAKED_KEYS:
        return set()
    text = docker_client.containers.run(ref, ["-c", f"cat {BAKED_KEYS[ref]}"], entrypoint=["sh"], user="0",
                                        network_mode="none", remove=True).decode()
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= 40 and "PRIVATE KEY" not in line}


def by_check(outcomes: dict) -> dict:
    """Outcomes keyed by test function name (the inner run checks one image)."""
    return {name.split("[", 1)[0]: outcome for name, outcome in outcomes.items()}


def test_the_leak_check_knows_the_fake_secrets():
    """The leak check below looks for these values; it must have some to look for."""
    assert {value[:4] for value in fake_secrets()} == {"hf_I", "ghp_"}
    assert len(fake_secrets()) == 3  # in ENV, in a build argument (and a label), in a file


@pytest.mark.parametrize("ref", [REFERENCE, *CONTROLS])
def test_image_fails_exactly_its_named_checks(ref, run_suite, fixture_image, docker_client, pytester):
    fixture_image(ref)
    key_lines = baked_key_lines(docker_client, ref)
    assert key_lines or ref not in BAKED_KEYS, f"{ref}: no private key read from {BAKED_KEYS[ref]} for the leak check"
    signoff = pytester.path / "signoff"
    run = run_suite("--image", ref, "--showlocals", "--signoff-report", str(signoff),  # locals too must not leak
                    tests=SECURITY_TESTS)
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
    for name in JUDGES_ANSWERS & set(expected):
        assert outcomes[name].outcome == "failed", f"{ref}: {name} must fail, not error:\n{outcomes[name].message[:1500]}"
    skipped = {name for name, o in outcomes.items() if o.outcome == "skipped"}
    assert skipped <= MAY_SKIP, f"{ref}: checks skipped that must run here: " + "; ".join(
        f"{name}: {outcomes[name].message.strip()[:200]}" for name in sorted(skipped - MAY_SKIP))

    missing_reports = [name for name in report.FILES if not (signoff / name).is_file()]
    assert not missing_reports, f"{ref}: the inner run wrote no {missing_reports}; output:\n{run.stdout[-2000:]}"
    written = [*pytester.path.glob("junit-*.xml"), *(signoff / name for name in report.FILES)]
    reports = {path.name: path.read_text(errors="replace") for path in written}
    leaked = [f"{value[:4]}… in {where}" for value in fake_secrets()
              for where, text in [("the output", run.stdout), *reports.items()] if value in text]
    assert not leaked, f"{ref}: a secret value appears in full in the output or a report ({leaked})"
    leaked_keys = {where for line in key_lines for where, text in [("the output", run.stdout), *reports.items()]
                   if line in text}
    assert not leaked_keys, f"{ref}: a line of a private key baked into the image appears in {sorted(leaked_keys)}"

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
