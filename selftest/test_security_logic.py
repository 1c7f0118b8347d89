"""Pure logic of the security contract: credential patterns and redaction, the build
history parser, the allowlists, the filesystem probe's file scan and account states, the
CVE policy and report parsers, /proc/net addresses. No Docker."""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from helpers import ROOT
from imagecheck.image import filesystem_walk as filesystem
from imagecheck.rules import cves, secrets
from imagecheck.image.listeners import _proc_address

PROBES = ROOT / "fixtures" / "probes"

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


@pytest.mark.parametrize("step", [f"/bin/sh -c #(nop)  ENV HF_TOKEN={HF}", f"ENV HF_TOKEN={HF}"],
                         ids=["classic builder", "BuildKit"])
def test_history_honours_the_allowlist_for_env_values(step):
    history = [{"CreatedBy": step}]
    # still in the ENV and allowlisted: the ENV check lets it pass, so must the history check
    assert secrets.history_findings(history, [f"HF_TOKEN={HF}"], ["HF_TOKEN"]) == []
    # overwritten later (no longer in the ENV), its name allowlisted: expected too
    assert secrets.history_findings(history, [], ["HF_*"]) == []
    # not allowlisted: reported where the ENV check no longer sees it
    assert [f.kind for f in secrets.history_findings(history, [], [])] == ["Hugging Face token"]


@pytest.mark.parametrize("step", [f"/bin/sh -c #(nop)  ARG GITHUB_TOKEN={GHP}", f"ARG GITHUB_TOKEN={GHP}",
                                  f"RUN |1 GITHUB_TOKEN={GHP} /bin/sh -c make",
                                  f"|1 GITHUB_TOKEN={GHP} /bin/sh -c make"])
def test_history_honours_the_allowlist_for_build_arguments(step):
    history = [{"CreatedBy": step}]
    assert secrets.scan_history(history, set(), ["GITHUB_TOKEN"]) == []
    assert [f.kind for f in secrets.scan_history(history, set(), [])] == ["GitHub token"]


def test_an_allowlisted_name_excuses_only_its_own_value():
    step = f"RUN |1 GITHUB_TOKEN={GHP} /bin/sh -c echo {HF} >/tmp/x"
    found = secrets.scan_history([{"CreatedBy": step}], set(), ["GITHUB_TOKEN"])
    assert [f.kind for f in found] == ["Hugging Face token"]


@pytest.mark.parametrize("text", [f"sh -c HF_TOKEN={HF} serve", f"--token={GHP}", "DB_PASSWORD=correct-horse-battery",
                                  "https://user:s3cretpass@pypi.example/simple",
                                  "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAb3BlbnNzaC1rZXk\n"
                                  "-----END OPENSSH PRIVATE KEY-----"])
def test_redacted_text_keeps_no_credential(text):
    shown = secrets.redact_text(text)
    for value in (HF, GHP, "correct-horse-battery", "s3cretpass", "AAAAb3BlbnNzaC1rZXk"):
        assert value not in shown
    assert shown != text


def test_redaction_leaves_ordinary_text_alone():
    for text in ("start-services", "/usr/bin/tini -g -- /usr/local/bin/entrypoint.sh", "PYTHONUNBUFFERED=1",
                 "TOKEN_ENV=JUPYTER_TOKEN_FILE", "https://pypi.org/simple"):
        assert secrets.redact_text(text) == text
    assert secrets.redact_named("org.opencontainers.image.version", "v2.6") == "v2.6"
    assert secrets.redact_named("build.api-token", "0123456789abcdef") != "0123456789abcdef"


# ---- the filesystem probe's pure parts (fixtures/probes/filesystem.py, run here) ----------

@pytest.fixture(scope="module")
def walk_probe():
    """The probe module, imported from fixtures/probes (it imports _common from there)."""
    sys.path.insert(0, str(PROBES))
    try:
        spec = importlib.util.spec_from_file_location("imagecheck_filesystem_probe", PROBES / "filesystem.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(PROBES))
    return module


@pytest.fixture(scope="module")
def walk_config(walk_probe):
    """The probe's settings from the very argument the suite passes it."""
    return walk_probe.settings(json.loads(filesystem.probe_arguments()))


@pytest.mark.parametrize("value", ["changeme", "NONE", "<redacted>", "${PYPI_TOKEN}", "$TOKEN", "{{ token }}", "<token>",
                                   "%TOKEN%", "****", "xxxx", "XXXX", "xXxX", "s3cretpass", "hunter2hunter2", HF, ""])
def test_probe_judges_placeholders_as_the_suite_does(walk_probe, walk_config, value):
    assert walk_probe.is_placeholder(value, walk_config) == secrets.is_placeholder(value)


PIP_CONF = "[global]\nindex-url = https://user:{}@pypi.example/simple\n"


@pytest.mark.parametrize("path", ["/etc/pip.conf", "/home/aiuser/.config/pip/pip.ini",
                                  "/home/aiuser/.git-credentials"])
@pytest.mark.parametrize("scanned", [True, False], ids=["content scanned", "name rule only"])
def test_probe_reports_a_url_credential_once_and_no_placeholder(walk_probe, walk_config, path, scanned):
    for placeholder in ("${PYPI_TOKEN}", "XXXX", "****", "<token>", "changeme"):
        assert walk_probe.file_secrets(path, PIP_CONF.format(placeholder), scanned, walk_config) == []
    found = walk_probe.file_secrets(path, PIP_CONF.format("s3cretpass"), scanned, walk_config)
    assert len(found) == 1, found
    kind = "password in a URL" if scanned else f"credentials file ({path.rsplit('/', 1)[1]})"
    assert found[0]["kind"] == kind and found[0]["line"] == 2 and found[0]["path"] == path
    assert "s3cretpass" not in json.dumps(found)


def test_probe_reads_credential_files_only_where_tools_look(walk_probe, walk_config):
    hf = walk_probe.file_secrets("/home/aiuser/.cache/huggingface/token", HF + "\n", True, walk_config)
    assert [(f["kind"], f["line"]) for f in hf] == [("Hugging Face token", 1)]
    assert HF not in json.dumps(hf)
    other = walk_probe.file_secrets("/home/aiuser/.cache/huggingface/token", "an-old-style-token-0123\n", True,
                                    walk_config)
    assert [f["kind"] for f in other] == ["credentials file (token)"]
    assert walk_probe.file_secrets("/opt/app/token", "an-old-style-token-0123\n", False, walk_config) == []
    netrc = "machine example.org login me password ${NETRC_PASSWORD}\n"
    assert walk_probe.file_secrets("/root/.netrc", netrc, True, walk_config) == []
    netrc = "machine example.org login me password hunter2hunter2\n"
    assert [f["kind"] for f in walk_probe.file_secrets("/root/.netrc", netrc, True, walk_config)] == [
        "credentials file (.netrc)"]


def test_probe_tells_each_accounts_password_state(walk_probe, tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\naiuser:x:1000:1000::/home/aiuser:/bin/bash\n"
                      "bob:x:1001:1001::/home/bob:/bin/sh\nlegacy::1002:1002::/:/bin/sh\n"
                      "ghost:x:1003:1003::/:/bin/sh\n")
    shadow = tmp_path / "shadow"
    shadow.write_text("root:*:19000:0:99999:7:::\naiuser::19000:0:99999:7:::\n"
                      "bob:$6$salt$notarealhash:19000:0:99999:7:::\n")
    out = walk_probe.shadow_accounts(str(passwd), str(shadow))
    states = {a["name"]: (a["state"], a["source"]) for a in out["accounts"]}
    assert states == {"root": ("locked", str(shadow)), "aiuser": ("empty", str(shadow)),
                      "bob": ("set", str(shadow)), "legacy": ("empty", str(passwd)),
                      "ghost": ("no shadow entry", str(passwd))}
    assert out["readable"] and "notarealhash" not in json.dumps(out)
    assert walk_probe.shadow_accounts(str(passwd), str(tmp_path / "absent"))["shadow_missing"] is True
    unreadable = walk_probe.shadow_accounts(str(passwd), str(tmp_path))  # a folder: OSError on reading
    assert unreadable["readable"] is False and "IsADirectoryError" in unreadable["error"]


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
