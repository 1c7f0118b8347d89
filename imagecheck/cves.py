"""Known vulnerabilities (CVEs) in an image, from the scanner on this host's PATH: trivy
first, else grype. The policy is images.yaml's security.cve: a vulnerability fails the
check when its severity ranks above max_severity, unless its id is on the allowlist.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

from .config import SEVERITIES  # lowest first; images.yaml's max_severity is one of them
from .errors import ImagecheckError, explain

SCANNERS = ("trivy", "grype")


class ScannerError(ImagecheckError):
    """The scanner is installed but could not scan the image."""


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerability in one package of the image."""

    id: str
    severity: str
    package: str
    installed: str
    fixed: str | None

    def __str__(self) -> str:
        fix = f", fixed in {self.fixed}" if self.fixed else ", no fix released"
        return f"{self.id} ({self.severity}) in {self.package} {self.installed}{fix}"


def rank(severity: str) -> int:
    severity = (severity or "UNKNOWN").upper()
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


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
    if proc.returncode != 0:
        raise ScannerError(explain(f"`{' '.join(command)}` failed (exit {proc.returncode})",
                                   observed=(proc.stderr or proc.stdout).strip()[-600:],
                                   hint="the scanner needs its vulnerability database (network, or an offline copy)"))
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise ScannerError(f"{name} printed no JSON report for {ref}: {proc.stdout[:300]!r}") from None
    return parse_trivy(report) if name == "trivy" else parse_grype(report)


def parse_trivy(report: dict) -> list[Vulnerability]:
    found = []
    for result in report.get("Results") or []:
        for v in result.get("Vulnerabilities") or []:
            found.append(Vulnerability(v.get("VulnerabilityID", "?"), (v.get("Severity") or "UNKNOWN").upper(),
                                       v.get("PkgName", "?"), v.get("InstalledVersion", "?"),
                                       v.get("FixedVersion") or None))
    return found


def parse_grype(report: dict) -> list[Vulnerability]:
    found = []
    for match in report.get("matches") or []:
        v = match.get("vulnerability") or {}
        artifact = match.get("artifact") or {}
        fixed = ", ".join((v.get("fix") or {}).get("versions") or []) or None
        found.append(Vulnerability(v.get("id", "?"), (v.get("severity") or "UNKNOWN").upper(),
                                   artifact.get("name", "?"), artifact.get("version", "?"), fixed))
    return found


def over_threshold(found: list[Vulnerability], max_severity: str, allowlist: list[str]) -> list[Vulnerability]:
    """The vulnerabilities above max_severity that the allowlist does not name, most severe first."""
    limit = rank(max_severity)
    allowed = {a.upper() for a in allowlist}
    over = {v for v in found if rank(v.severity) > limit and v.id.upper() not in allowed}
    return sorted(over, key=lambda v: (-rank(v.severity), v.id, v.package))
