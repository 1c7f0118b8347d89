"""No credentials in the image: not in its ENV, not in its build history (RUN lines, build
arguments), not in its files (cloud keys, Hugging Face, GitHub and PyPI tokens, private
keys, .netrc, credentials in pip.conf). Findings name where; they never show a secret,
only a short redacted prefix."""
import docker.errors
import pytest

from imagecheck import filesystem, secrets
from imagecheck.errors import ImagecheckError

HINT = ("\n  hint: pass credentials at run time (docker run -e, a mounted file, BuildKit --secret), never "
        "in ENV, ARG or a COPYed file; rotate any credential that was pushed")


def test_environment_holds_no_secrets(image, evidence):
    env = image.config.get("Env") or []
    found = [finding for finding, _ in secrets.scan_environment(env, image.spec.security.secret_allowlist)]
    evidence("env.names", sorted(item.partition("=")[0] for item in env))
    evidence("env.secrets", [str(f) for f in found])
    assert not found, (f"{image.ref} carries credentials in its ENV (every container and `docker inspect` shows "
                       "them):\n  " + "\n  ".join(str(f) for f in found) + HINT)


def test_build_history_holds_no_secrets(image, evidence):
    try:
        history = image.context.client.api.history(image.ref)
    except docker.errors.APIError as error:
        pytest.fail(f"`docker history --no-trunc {image.ref}` failed: {error}", pytrace=False)
    allowlist = image.spec.security.secret_allowlist
    in_env = {value for _, value in secrets.scan_environment(image.config.get("Env"), allowlist)}
    found = secrets.scan_history(history, in_env, allowlist)
    evidence("history.steps", len(history))
    evidence("history.secrets", [str(f) for f in found])
    assert not found, (f"{image.ref} carries credentials in its build history (`docker history --no-trunc` "
                       "shows them to anyone who pulls it):\n  " + "\n  ".join(str(f) for f in found) + HINT)


def test_files_hold_no_secrets(image, evidence):
    try:
        scan = filesystem.facts(image)
    except ImagecheckError as error:
        pytest.fail(str(error), pytrace=False)
    allowlist = image.spec.security.secret_allowlist
    found = [s for s in scan["secrets"] if not secrets.allowed(s["path"], allowlist)]
    lines = [f"{s['path']}{':' + str(s['line']) if s['line'] else ''}: {s['kind']}"
             + (f" ({s['shown']})" if s["shown"] else "") for s in found]
    evidence("files.scanned", {"files": scan["files"], "contents_read": scan["content_files"]})
    evidence("files.secrets", lines)
    assert not found, f"{image.ref} carries credentials in its files:\n  " + "\n  ".join(lines) + HINT
