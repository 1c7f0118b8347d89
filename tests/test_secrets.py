"""No credentials in the image: not in its ENV, not in its build history (RUN lines, build
arguments), not in its files (cloud keys, Hugging Face, GitHub and PyPI tokens, private
keys, .netrc, credentials in pip.conf, private SSH host keys that sshd does not serve).
Findings name where; they never show a secret, only a short redacted prefix (of a host
key, only its type)."""
import docker.errors
import pytest

from imagecheck.check import fail
from imagecheck.image import filesystem_walk
from imagecheck.rules import secrets

pytestmark = [pytest.mark.facts, pytest.mark.filesystem_walk]

HINT = ("\n  hint: pass credentials at run time (docker run -e, a mounted file, BuildKit --secret), never "
        "in ENV, ARG or a COPYed file; rotate any credential that was pushed")


# Raw values never live in these functions' locals (pytest --showlocals would print them):
# the library returns findings that hold only a redacted prefix.


def test_environment_holds_no_secrets(image, evidence):
    found = secrets.environment_findings(image.config.get("Env"), image.spec.security.secret_allowlist)
    evidence("env.names", sorted(item.partition("=")[0] for item in image.config.get("Env") or []))
    evidence("env.secrets", [str(f) for f in found])
    assert not found, (f"{image.ref} carries credentials in its ENV (every container and `docker inspect` shows "
                       "them):\n  " + "\n  ".join(str(f) for f in found) + HINT)


def test_build_history_holds_no_secrets(image, evidence):
    try:
        found = secrets.history_findings(image.context.client.api.history(image.ref), image.config.get("Env"),
                                         image.spec.security.secret_allowlist)
    except docker.errors.APIError as error:
        fail(f"`docker history --no-trunc {image.ref}` failed: {error}")
    evidence("history.secrets", [str(f) for f in found])
    assert not found, (f"{image.ref} carries credentials in its build history (`docker history --no-trunc` "
                       "shows them to anyone who pulls it):\n  " + "\n  ".join(str(f) for f in found) + HINT)


def test_files_hold_no_secrets(image, evidence):
    scan = filesystem_walk.facts(image)
    allowlist = image.spec.security.secret_allowlist
    found = [s for s in scan["secrets"] if not secrets.allowed(s["path"], allowlist)]
    lines = [f"{s['path']}{':' + str(s['line']) if s['line'] else ''}: {s['kind']}"
             + (f" ({s['shown']})" if s["shown"] else "") for s in found]
    host_keys = scan["ssh_host_keys"]
    key_findings = secrets.host_key_findings(host_keys["files"], "ssh" in image.spec.ports.values(), allowlist)
    evidence("files.scanned", {"files": scan["files"], "contents_read": scan["content_files"]})
    evidence("files.secrets", lines)
    evidence("files.ssh_host_keys", {"in_files": [f"{k['path']} ({k['type']})" for k in host_keys["files"]],
                                     "sshd_configured": host_keys["configured"]})
    hints = (HINT if found else "") + (f"\n  hint: {secrets.HOST_KEY_HINT}" if key_findings else "")
    served = (f"\n  sshd's configuration serves: {'; '.join(host_keys['configured']) or 'no key'}; anyone who pulls "
              "the image holds the private host keys above, and a HostKey change would serve them" if key_findings
              else "")
    assert not (found or key_findings), (
        f"{image.ref} carries credentials in its files (expected none):\n  "
        + "\n  ".join(lines + [str(f) for f in key_findings]) + served + hints)
