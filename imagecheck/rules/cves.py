"""Known vulnerabilities (CVEs): what a scanner's report says, and images.yaml's policy over
it (security.cve): a vulnerability fails the check when its severity ranks above
max_severity, unless its id is on the allowlist. The scan itself is image/cve_scan.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import SEVERITIES  # lowest first; images.yaml's max_severity is one of them


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
