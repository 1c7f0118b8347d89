"""The image carries no known vulnerability above images.yaml's threshold
(security.cve.max_severity), except those its allowlist names. Needs trivy or grype on PATH."""
import pytest

from imagecheck.check import could_not_run
from imagecheck.image import cve_scan
from imagecheck.rules import cves


@pytest.mark.slow
def test_no_known_vulnerability_above_the_threshold(image, evidence):
    policy = image.spec.security.cve
    scanner = cve_scan.find_scanner()
    if scanner is None:
        could_not_run("no CVE scanner on PATH (trivy or grype); install one to run this check (until it runs, "
                      "a release run, --require-gpu, is blocked)", {"kind": "cve_scanner", "wanted": list(cve_scan.SCANNERS)})
    name, path = scanner
    found = cve_scan.scan(name, path, image.ref, timeout=image.spec.timeouts.probe)
    over = cves.over_threshold(found, policy.max_severity, policy.allowlist)
    counts = {s: sum(1 for v in found if v.severity == s) for s in cves.SEVERITIES if any(v.severity == s for v in found)}
    evidence("cve.scanner", name)
    evidence("cve.counts", counts)
    evidence("cve.over_threshold", [str(v) for v in over[:50]])
    assert not over, (f"{name} finds {len(over)} vulnerabilities above {policy.max_severity} in {image.ref} that "
                      "security.cve.allowlist does not name:\n  " + "\n  ".join(str(v) for v in over[:30])
                      + (f"\n  ... and {len(over) - 30} more" if len(over) > 30 else "")
                      + "\n  hint: rebuild on a current base image and upgrade the packages; allowlist only "
                        "what you have assessed")
