"""The image has a software bill of materials, and it is complete: syft's SBOM (CycloneDX
and SPDX JSON, kept in the sign-off folder and linked from the report with its sha256)
lists every Python distribution the image's python reports, at the version it reports."""
from pathlib import Path

import pytest

from imagecheck.check import fail, skip_for
from imagecheck.image import sbom as sbom_module
from imagecheck.runtime.syft import SyftUnavailable
from imagecheck.rules.package_diff import SBOM_EVIDENCE, normalized


@pytest.fixture
def sbom_folder(request, tmp_path_factory) -> Path:
    """The sign-off folder (--signoff-report or --shard), else a folder of this run's own."""
    chosen = request.config.getoption("--signoff-report") or request.config.getoption("--shard")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("sbom")


@pytest.mark.sbom  # syft makes it beside the facts probe (image/companions.py), once per image
def test_sbom_lists_every_python_distribution(image, facts, evidence, progress, sbom_folder):
    with progress.step("SBOM with syft (CycloneDX and SPDX)"):
        try:
            sbom = sbom_module.make(image, sbom_folder)
        except SyftUnavailable as error:  # the host lacks the tool: could not run here
            skip_for(error)
    evidence(SBOM_EVIDENCE, sbom.evidence())
    listed: dict[str, set[str]] = {}
    for package in sbom.packages:
        if package.kind == "python":
            listed.setdefault(normalized("python", package.name), set()).add(package.version)
    reported = facts.distributions
    missing = [f"{name} {version}" for name, version in sorted(reported.items())
               if version not in listed.get(normalized("python", name), set())]
    evidence("sbom.python_distributions_reported", len(reported))
    if missing:
        shown = ", ".join(missing[:12]) + (f" and {len(missing) - 12} more" if len(missing) > 12 else "")
        fail(f"the SBOM of {image.ref} misses {len(missing)} of the {len(reported)} Python distributions its python "
             f"reports\n  expected: each distribution importlib.metadata lists, at its version\n"
             f"  observed: missing {shown}\n  where: {sbom.files[0]['file']} ({sbom.tool})\n"
             "  hint: a package installed without its metadata (*.dist-info, *.egg-info) is invisible to "
             "scanners; install it with pip, or keep its metadata in the image")
