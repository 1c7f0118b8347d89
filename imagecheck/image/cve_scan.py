"""Scan an image for known vulnerabilities with the scanner on this host's PATH: trivy
first, else grype. The policy over the result is rules/cves.py."""
from __future__ import annotations

import json
import shutil
import subprocess

from ..errors import ImagecheckError, explain
from ..rules.cves import Vulnerability, parse_grype, parse_trivy

SCANNERS = ("trivy", "grype")


class ScannerError(ImagecheckError):
    """The scanner is installed but could not scan the image."""


def find_scanner() -> tuple[str, str] | None:
    """(name, path) of the first scanner on PATH, or None."""
    for name in SCANNERS:
        path = shutil.which(name)
        if path:
            return name, path
    return None


def scan(name: str, path: str, ref: str, timeout: float) -> list[Vulnerability]:
    """Run the scanner on the local image; its vulnerabilities."""
    if name == "trivy":
        command = [path, "image", "--quiet", "--format", "json", ref]
    else:
        command = [path, f"docker:{ref}", "--output", "json", "--quiet"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ScannerError(explain(f"{name} did not finish scanning {ref} within {timeout:.0f} s",
                                   hint="raise timeouts.probe in images.yaml, or check the scanner's database "
                                        "download")) from None
    except OSError as error:
        raise ScannerError(explain(f"the scanner {path} does not run", observed=str(error)[:300],
                                   hint=f"reinstall {name}, or take it off PATH")) from None
    if proc.returncode != 0:
        raise ScannerError(explain(f"`{' '.join(command)}` failed (exit {proc.returncode})",
                                   observed=(proc.stderr or proc.stdout).strip()[-600:],
                                   hint="the scanner needs its vulnerability database (network, or an offline copy)"))
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise ScannerError(f"{name} printed no JSON report for {ref}: {proc.stdout[:300]!r}") from None
    return parse_trivy(report) if name == "trivy" else parse_grype(report)
