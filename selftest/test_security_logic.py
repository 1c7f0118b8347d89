"""Pure logic of the security contract: credential patterns and redaction, the build
history parser, the allowlists, the filesystem probe's file scan and account states,
private SSH host keys (their type, sshd's HostKeys, which are findings), the loader's
search order for torch's libraries (library conflicts), the CVE policy and report parsers,
/proc/net addresses. No Docker."""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import struct
import sys

import pytest

from helpers import ROOT
from imagecheck.image import filesystem_walk as filesystem
from imagecheck.rules import cves, library_search, secrets
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

def _probe_module(name: str):
    """A probe module, imported from fixtures/probes (it imports _common from there)."""
    sys.path.insert(0, str(PROBES))
    try:
        spec = importlib.util.spec_from_file_location(f"imagecheck_{name}_probe", PROBES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(PROBES))
    return module


@pytest.fixture(scope="module")
def walk_probe():
    """The filesystem probe's module."""
    return _probe_module("filesystem")


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


# ---- private SSH host keys: the probe's part (type, sshd's HostKeys), the findings ---------

def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


PRIVATE_PART = b"\x01\x02\x03\x04" * 40  # stands for the private key material


def openssh_key(key_type: str) -> str:
    """A private key in OpenSSH's format, its public part of the given type (the private
    part is filler: the type must come from the public part alone)."""
    public = _ssh_string(key_type.encode()) + _ssh_string(b"\xaa" * 32)
    blob = (b"openssh-key-v1\0" + _ssh_string(b"none") + _ssh_string(b"none") + _ssh_string(b"")
            + struct.pack(">I", 1) + _ssh_string(public) + _ssh_string(PRIVATE_PART))
    body = base64.b64encode(blob).decode()
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.mark.parametrize("text, key_type", [
    (openssh_key("ssh-ed25519"), "ssh-ed25519"),
    (openssh_key("ecdsa-sha2-nistp256"), "ecdsa-sha2-nistp256"),
    (openssh_key("ssh-rsa"), "ssh-rsa"),
    (openssh_key("not a type; rm -rf /"), "unknown type"),  # text from the image is never passed on raw
    ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMIIE\n"
     "-----END RSA PRIVATE KEY-----\n", "ssh-rsa"),
    ("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n", "ecdsa"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----\n", "unknown type"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI root@host\n", None),  # a public key is no finding
])
def test_probe_reads_a_private_keys_type_and_nothing_else(walk_probe, text, key_type):
    assert walk_probe.private_key_type(text) == key_type


def test_probe_reads_sshds_host_keys_through_its_includes(walk_probe, tmp_path):
    conf_d = tmp_path / "sshd_config.d"
    conf_d.mkdir()
    (conf_d / "10-keys.conf").write_text("# fresh keys per container\nHostKey /run/keys/ssh_host_ed25519_key\n"
                                         "hostkey=/run/keys/ssh_host_rsa_key\n")
    (conf_d / "20-match.conf").write_text("Match User backup\n  HostKey /never/read\n")
    config = tmp_path / "sshd_config"
    config.write_text(f"Include {conf_d}/*.conf\nHostKey /etc/ssh/ssh_host_ecdsa_key\nPasswordAuthentication no\n")
    assert walk_probe.sshd_host_keys(str(config)) == {
        "/run/keys/ssh_host_ed25519_key": f"HostKey in {conf_d}/10-keys.conf",
        "/run/keys/ssh_host_rsa_key": f"HostKey in {conf_d}/10-keys.conf",
        "/etc/ssh/ssh_host_ecdsa_key": f"HostKey in {config}"}
    config.write_text("UsePAM yes\n")  # no HostKey: sshd's defaults in /etc/ssh
    assert sorted(walk_probe.sshd_host_keys(str(config))) == sorted(walk_probe.SSHD_DEFAULT_HOST_KEYS)
    assert walk_probe.sshd_host_keys(str(tmp_path / "absent")) == {}  # no sshd: no key it serves


def test_probe_finds_host_keys_by_name_and_by_sshds_configuration(walk_probe, tmp_path):
    named = tmp_path / "ssh_host_ed25519_key"
    named.write_text(openssh_key("ssh-ed25519"))
    served = tmp_path / "host.pem"
    served.write_text(openssh_key("ssh-rsa"))
    public = tmp_path / "ssh_host_rsa_key"
    public.write_text("ssh-rsa AAAAB3NzaC1yc2E root@build\n")  # misnamed, but holds no private key
    configured = {str(served): "HostKey in /etc/ssh/sshd_config"}
    found = [walk_probe.host_key(str(path), path.name, configured, 65536) for path in (named, served, public)]
    assert found == [{"path": str(named), "type": "ssh-ed25519", "configured": None},
                     {"path": str(served), "type": "ssh-rsa", "configured": "HostKey in /etc/ssh/sshd_config"},
                     None]
    assert walk_probe.host_key(str(tmp_path / "id_rsa"), "id_rsa", configured, 65536) is None  # not a host key
    body = openssh_key("ssh-ed25519").splitlines()[1]
    assert body not in json.dumps(found)


HOST_KEYS = [{"path": "/etc/ssh/ssh_host_rsa_key", "type": "ssh-rsa", "configured": None},
             {"path": "/etc/ssh/ssh_host_ed25519_key", "type": "ssh-ed25519",
              "configured": "HostKey in /etc/ssh/sshd_config.d/10-keys.conf"}]


def test_an_unserved_host_key_is_a_finding_and_a_served_one_the_ssh_checks():
    found = secrets.host_key_findings(HOST_KEYS, ssh_promised=True, allowlist=[])
    assert [str(f) for f in found] == ["/etc/ssh/ssh_host_rsa_key: private SSH host key, type ssh-rsa "
                                       "(not served: no HostKey of sshd's configuration names it)"]
    # no ssh port promised: no check compares the served keys, so a configured one is a finding too
    found = secrets.host_key_findings(HOST_KEYS, ssh_promised=False, allowlist=[])
    assert [f.where for f in found] == ["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ed25519_key"]
    assert "served by any sshd the image starts: HostKey in /etc/ssh/sshd_config.d/10-keys.conf" in str(found[1])
    assert secrets.host_key_findings(HOST_KEYS, ssh_promised=False, allowlist=["/etc/ssh/ssh_host_*"]) == []


# ---- the loader's search order for torch's libraries (library conflicts) ---------------------

@pytest.fixture(scope="module")
def search_probe():
    """The library search probe's module."""
    return _probe_module("library_search")


def elf(path, elf_class: int = 2, machine: int = 62, filler: bytes = b"") -> str:
    """A file with an ELF header (64-bit little-endian x86-64 unless told)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9) + b"\x03\x00"
                     + machine.to_bytes(2, "little") + bytes(20) + filler)
    return str(path)


def test_probe_reads_ld_library_path_and_the_ld_so_cache(search_probe):
    assert search_probe.library_path("/a:/b;;/c", cwd="/work") == [
        ("/a", "ENV LD_LIBRARY_PATH"), ("/b", "ENV LD_LIBRARY_PATH"), ("/work", "ENV LD_LIBRARY_PATH"),
        ("/c", "ENV LD_LIBRARY_PATH")]
    assert search_probe.library_path("") == []
    cache = ("3 libs found in cache `/etc/ld.so.cache'\n"
             "\tlibnccl.so.2 (libc6,x86-64) => /usr/local/nccl/lib/libnccl.so.2\n"
             "\tlibnccl.so.2 (libc6) => /usr/lib/i386-linux-gnu/libnccl.so.2\n"
             "\tlibz.so.1 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libz.so.1\n")
    assert search_probe.parse_cache(cache, "x86_64") == {"libnccl.so.2": ["/usr/local/nccl/lib/libnccl.so.2"],
                                                         "libz.so.1": ["/lib/x86_64-linux-gnu/libz.so.1"]}


def test_probe_follows_ld_so_conf_includes_in_order(search_probe, tmp_path):
    conf_d = tmp_path / "ld.so.conf.d"
    conf_d.mkdir()
    (conf_d / "00-cudnn.conf").write_text("/usr/local/cudnn/lib/\n")
    (conf_d / "libc.conf").write_text("# libc default configuration\n/usr/local/lib\n")
    conf = tmp_path / "ld.so.conf"
    conf.write_text("include ld.so.conf.d/*.conf\n/opt/extra/lib\n")
    assert search_probe.conf_folders(str(conf)) == [
        ("/usr/local/cudnn/lib", str(conf_d / "00-cudnn.conf")), ("/usr/local/lib", str(conf_d / "libc.conf")),
        ("/opt/extra/lib", str(conf))]


def test_probe_lists_files_of_a_librarys_name_in_the_loaders_order(search_probe, tmp_path):
    shipped = elf(tmp_path / "site/nvidia/nccl/lib/libnccl.so.2", filler=b"torch's own")
    env_copy = elf(tmp_path / "env/libnccl.so.2", filler=b"another NCCL")
    elf(tmp_path / "lib32/libnccl.so.2", elf_class=1)  # 32-bit: the loader passes over it
    link = tmp_path / "linked/libnccl.so.2"
    link.parent.mkdir()
    os.symlink(shipped, link)
    identical = tmp_path / "copied/libnccl.so.2"
    identical.parent.mkdir()
    identical.write_bytes((tmp_path / "site/nvidia/nccl/lib/libnccl.so.2").read_bytes())
    script = tmp_path / "default/libnccl.so.2"
    script.parent.mkdir()
    script.write_text("INPUT(-lnccl_static)\n")  # no ELF: dlopen stops on it
    search_path = [(str(tmp_path / folder), "ENV LD_LIBRARY_PATH") for folder in ("lib32", "linked", "env")]
    cache = {"libnccl.so.2": [str(identical)]}
    conf = [(str(tmp_path / "copied"), "/etc/ld.so.conf.d/nccl.conf")]
    found = search_probe.candidates("libnccl.so.2", [shipped], search_path, cache, conf, [str(tmp_path / "default")])
    assert found == [
        {"path": str(link), "via": "ENV LD_LIBRARY_PATH", "same": True},
        {"path": env_copy, "via": "ENV LD_LIBRARY_PATH", "same": False},
        {"path": str(identical), "via": "/etc/ld.so.conf.d/nccl.conf (ld.so cache)", "same": True},
        {"path": str(script), "via": "the loader's default folders", "same": False}]
    # no ldconfig in the image: the ld.so.conf folders stand in for the cache
    without_cache = search_probe.candidates("libnccl.so.2", [shipped], [], None, conf, [])
    assert [c["via"] for c in without_cache] == ["/etc/ld.so.conf.d/nccl.conf (ld.so.conf; no ldconfig to read "
                                                 "the cache)"]


def test_probe_finds_the_libraries_torch_and_its_wheels_ship(search_probe, tmp_path):
    torch_root = tmp_path / "site-packages/torch"
    elf(torch_root / "lib/libtorch_cuda.so")
    elf(torch_root / "lib/libgomp-a34b3233.so.1")
    elf(tmp_path / "site-packages/nvidia/nccl/lib/libnccl.so.2")
    (tmp_path / "site-packages/nvidia/nccl/lib/__init__.py").write_text("")
    elf(tmp_path / "site-packages/torchvision.libs/libpng16.so.16")  # torchvision's, not torch's
    folders = search_probe.shipped_folders(str(torch_root))
    assert sorted(search_probe.shipped_libraries(folders)) == ["libgomp-a34b3233.so.1", "libnccl.so.2",
                                                               "libtorch_cuda.so"]
    assert search_probe.shipped_folders(None) == []


def test_the_first_file_of_a_name_decides_a_conflict():
    libraries = {
        "libnccl.so.2": {"shipped": "/venv/nvidia/nccl/lib/libnccl.so.2", "candidates": [
            {"path": "/usr/local/nccl/lib/libnccl.so.2", "via": "ENV LD_LIBRARY_PATH", "same": False}]},
        "libcudnn.so.9": {"shipped": "/venv/nvidia/cudnn/lib/libcudnn.so.9", "candidates": [
            {"path": "/venv/nvidia/cudnn/lib/libcudnn.so.9", "via": "ENV LD_LIBRARY_PATH", "same": True},
            {"path": "/usr/lib/x86_64-linux-gnu/libcudnn.so.9", "via": "the loader's default folders", "same": False}]},
        "libcublas.so.12": {"shipped": "/venv/nvidia/cublas/lib/libcublas.so.12", "candidates": [
            {"path": "/usr/local/cuda/lib64/libcublas.so.12", "via": "/etc/ld.so.conf.d/cuda.conf (ld.so cache)",
             "same": False}]},
    }
    found = library_search.shadowed(libraries)
    assert [str(item) for item in found] == [
        "libcublas.so.12: /usr/local/cuda/lib64/libcublas.so.12 comes first (put there by "
        "/etc/ld.so.conf.d/cuda.conf (ld.so cache)), not torch's /venv/nvidia/cublas/lib/libcublas.so.12",
        "libnccl.so.2: /usr/local/nccl/lib/libnccl.so.2 comes first (put there by ENV LD_LIBRARY_PATH), "
        "not torch's /venv/nvidia/nccl/lib/libnccl.so.2"]
    hints = library_search.hints(found)
    assert len(hints) == 2 and "LD_LIBRARY_PATH" in hints[0] and "ld.so.conf.d" in hints[1]
    assert library_search.shadowed({}) == []


def test_the_probe_and_the_rules_name_ld_library_path_alike(search_probe):
    assert search_probe.ENV_VIA == library_search.ENV_VIA


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
