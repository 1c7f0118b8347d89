"""Pure logic of the security contract: credential patterns and redaction, the build
history parser, the CVE policy and report parsers, /proc/net addresses. No Docker."""
from __future__ import annotations

import pytest

from imagecheck import cves, secrets
from imagecheck.services import _proc_address

HF = "hf_" + "Q" * 34
GHP = "ghp_" + "Z" * 36
AWS = "AKIA" + "ABCDEFGHIJKLMNOP"


@pytest.mark.parametrize("value", [HF, GHP, AWS, "a-long-password-value"])
def test_redaction_never_shows_the_value(value):
    shown = secrets.redact(value)
    assert value not in shown
    assert len(shown.split("…")[0]) <= secrets.SHOWN_PREFIX
    assert f"({len(value)} chars)" in shown


@pytest.mark.parametrize("text, kind", [
    (f"token={HF}", "Hugging Face token"),
    (f"export GH={GHP}", "GitHub token"),
    (f"id {AWS} here", "AWS access key id"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc", "private key"),
    ("index-url = https://user:s3cretpass@pypi.example/simple", "password in a URL"),
    ("pypi-AgEIcHlwaS5vcmc" + "x" * 60, "PyPI token"),
])
def test_each_credential_kind_is_found_and_redacted(text, kind):
    found = secrets.scan_text(text, "somewhere")
    assert [f.kind for f, _ in found] == [kind]
    finding, value = found[0]
    assert value not in str(finding) or kind == "private key"


def test_placeholders_in_urls_are_no_findings():
    assert secrets.scan_text("https://user:${PASSWORD}@host/x https://user:****@host/y", "x") == []


def test_environment_of_the_reference_holds_nothing():
    env = ["PATH=/opt/venv/bin:/usr/bin", "VIRTUAL_ENV=/opt/venv", "NVIDIA_VISIBLE_DEVICES=all",
           "NVIDIA_DRIVER_CAPABILITIES=compute,utility", "LANG=C.UTF-8", "PYTHONUNBUFFERED=1"]
    assert secrets.scan_environment(env, []) == []


def test_environment_secrets_by_pattern_by_name_and_allowlist():
    env = [f"HF_TOKEN={HF}", "DB_PASSWORD=correct-horse-battery", "API_KEY=", "SOME_TOKEN=1"]
    found = secrets.scan_environment(env, [])
    assert [f.where for f, _ in found] == ["ENV HF_TOKEN", "ENV DB_PASSWORD"]
    assert all(value not in str(f) for f, value in found)
    assert [f.where for f, _ in secrets.scan_environment(env, ["HF_*"])] == ["ENV DB_PASSWORD"]


def test_history_finds_build_arguments_in_both_builders_formats():
    history = [  # newest first, as the engine returns it
        {"CreatedBy": f"RUN |1 GITHUB_TOKEN={GHP} /bin/sh -c test -n \"$GITHUB_TOKEN\""},
        {"CreatedBy": "|1 DEPLOY_PASSWORD=hunter2hunter2 /bin/sh -c make"},
        {"CreatedBy": f"/bin/sh -c #(nop)  ARG GITHUB_TOKEN={GHP}"},
        {"CreatedBy": "|1 WHEELS=http://127.0.0.1:8000/ /bin/sh -c pip install"},
    ]
    found = secrets.scan_history(history, set(), [])
    text = "\n".join(str(f) for f in found)
    assert GHP not in text and "hunter2hunter2" not in text
    assert "build step 2 of 4 (ARG): GitHub token" in text
    assert "build step 4 of 4 (RUN with build arguments): GitHub token" in text
    assert "build argument DEPLOY_PASSWORD" in text
    assert "WHEELS" not in text


def test_history_leaves_values_still_in_env_to_the_env_check():
    history = [{"CreatedBy": f"/bin/sh -c #(nop)  ENV HF_TOKEN={HF}"}]
    assert secrets.scan_history(history, {HF}, []) == []
    assert len(secrets.scan_history(history, set(), [])) == 1  # overwritten later: still in history


def test_cve_policy_fails_above_the_threshold_unless_allowlisted():
    found = [cves.Vulnerability("CVE-1", "CRITICAL", "openssl", "3.0", "3.1"),
             cves.Vulnerability("CVE-2", "HIGH", "zlib", "1.2", None),
             cves.Vulnerability("CVE-3", "CRITICAL", "glibc", "2.36", None)]
    assert [v.id for v in cves.over_threshold(found, "HIGH", [])] == ["CVE-1", "CVE-3"]
    assert [v.id for v in cves.over_threshold(found, "HIGH", ["cve-3"])] == ["CVE-1"]
    assert [v.id for v in cves.over_threshold(found, "MEDIUM", ["CVE-1", "CVE-3"])] == ["CVE-2"]


def test_trivy_and_grype_reports_parse():
    trivy = {"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-9", "Severity": "HIGH", "PkgName": "bash",
                                               "InstalledVersion": "5.2", "FixedVersion": "5.3"}]},
                         {"Vulnerabilities": None}]}
    grype = {"matches": [{"vulnerability": {"id": "CVE-8", "severity": "Critical", "fix": {"versions": ["1.1"]}},
                          "artifact": {"name": "curl", "version": "1.0"}}]}
    assert cves.parse_trivy(trivy) == [cves.Vulnerability("CVE-9", "HIGH", "bash", "5.2", "5.3")]
    assert cves.parse_grype(grype) == [cves.Vulnerability("CVE-8", "CRITICAL", "curl", "1.0", "1.1")]


@pytest.mark.parametrize("hex_address, text", [
    ("00000000", "0.0.0.0"), ("0100007F", "127.0.0.1"),
    ("00000000000000000000000000000000", "::"), ("00000000000000000000000001000000", "::1"),
])
def test_proc_net_addresses_decode(hex_address, text):
    assert _proc_address(hex_address) == text
