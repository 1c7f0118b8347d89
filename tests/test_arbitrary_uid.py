"""The image works under a uid it does not know (`docker run --user 12345:0`), as
OpenShift and many clusters run containers."""
import pytest

from imagecheck.check import ImagecheckError, fail
from imagecheck.image import arbitrary_uid, probes

ARBITRARY_USER = arbitrary_uid.USER


@pytest.mark.slow
@pytest.mark.arbitrary_uid  # the run starts beside the facts probe (image/companions.py)
def test_torch_works_under_an_arbitrary_uid(image, evidence):
    try:
        run = arbitrary_uid.result(image)
    except ImagecheckError as error:
        fail(f"under --user {ARBITRARY_USER}: {error}")
    data = probes.parse(run.stdout)
    if data is None:
        fail(f"under --user {ARBITRARY_USER}, the probe printed no result in {image.ref} "
                    f"(exit code {run.exit_code}); last lines:\n{run.tail()}")
    steps = {name: data[name] for name in ("getuser", "imports", "compile") if name in data}
    evidence("arbitrary_uid", {"uid": data["uid"], "home": data["home"], "tempdir": data.get("tempdir"),
                               **{name: step["ok"] for name, step in steps.items()}})
    failed = [f"{name}: {_failure(step)}" for name, step in steps.items() if not step["ok"]]
    if "compile" not in steps:
        failed.append("compile: not tried, the imports failed")
    assert not failed, (
        f"{image.ref} does not work under --user {ARBITRARY_USER} (HOME={data['home']}, "
        f"temporary folder {data.get('tempdir') or data.get('tempdir_error')}):\n  " + "\n  ".join(failed)
        + "\n  hint: a uid missing from /etc/passwd needs USER and HOME set by the entrypoint (getpass, "
          "torch's caches) and a writable /tmp")


def _failure(step: dict) -> str:
    """The error's first line and where it was raised (the last frame)."""
    lines = [line.strip() for line in (step.get("error") or "?").splitlines() if line.strip()]
    first = lines[0] + (f" {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else "")
    frames = [line.strip() for line in step.get("traceback_tail") or [] if line.strip().startswith("File ")]
    return first + (f"\n      at {frames[-1]}" if frames else "")
