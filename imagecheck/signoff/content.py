"""What an image ships, in its report (ImageReport.content): its SBOM files and packages,
and its layers; against the baseline image, the package diff and each layer's growth.

- attach(): taken from the checks' evidence when the report is built: the SBOM check's
  files (the packages are read back from its CycloneDX file in the sign-off folder, whose
  sha256 must still be the one recorded) and the size check's layers;
- compared(): the package diff (rules/package_diff.py) and the layers' growth
  (rules/layers.py) against the baseline image, when both reports carry them;
- downgrades(): each downgraded package as a regression that informs (a version change
  does, as the versions seen inside do); one of the GPU stack says so in its change, and
  the verdict lists it first among its notes (verdict.py). To make a downgrade block,
  promise the version in images.yaml: the version check then fails.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ..rules.layers import EVIDENCE as LAYERS_EVIDENCE
from ..rules.layers import Layer, growth
from ..rules.package_diff import DOWNGRADED, SBOM_EVIDENCE, Package, diff, from_cyclonedx
from ..rules.sizes import human, signed
from .model import ImageReport, Regression, ReleaseContent, SbomFile

GPU_STACK_DOWNGRADE = "downgrade, GPU stack"


def _evidence(image: ImageReport, key: str):
    return next((check.evidence[key] for check in image.checks if isinstance(check.evidence.get(key), (dict, list))),
                None)


def _packages(folder: Path | None, files: list[SbomFile]) -> tuple[list[Package] | None, str]:
    """The packages of the CycloneDX file, and a note when it cannot be read back as recorded."""
    cyclonedx = next((f for f in files if f.format == "cyclonedx"), None)
    if cyclonedx is None or folder is None:
        return None, "the SBOM check recorded no CycloneDX file in this folder"
    path = folder / cyclonedx.file
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, f"the SBOM {cyclonedx.file} cannot be read back ({error.strerror or error}): no package list"
    digest = hashlib.sha256(data).hexdigest()
    if digest != cyclonedx.sha256:
        return None, (f"the SBOM {cyclonedx.file} changed after the check recorded it (sha256 {digest[:12]}…, "
                      f"recorded {cyclonedx.sha256[:12]}…): no package list")
    try:
        return from_cyclonedx(json.loads(data)), ""
    except ValueError as error:
        return None, f"the SBOM {cyclonedx.file} is not JSON ({error}): no package list"


def attach(image: ImageReport, folder: Path | None) -> ImageReport:
    """The report with what its checks recorded of the image's content (unchanged when
    neither the SBOM check nor the size check ran)."""
    sbom = _evidence(image, SBOM_EVIDENCE)
    layers = _evidence(image, LAYERS_EVIDENCE)
    if sbom is None and layers is None:
        return image
    content = ReleaseContent()
    if isinstance(sbom, dict):
        content.sbom = [SbomFile.from_json(f) for f in sbom.get("files") or [] if isinstance(f, dict)]
        content.sbom_tool = str(sbom.get("tool") or "")
        content.packages, content.note = _packages(folder, content.sbom)
    if isinstance(layers, list):
        content.layers = [Layer.from_json(layer) for layer in layers if isinstance(layer, dict)]
    return dataclasses.replace(image, content=content)


def compared(base: ImageReport, image: ImageReport) -> ImageReport:
    """The report with its package diff and layer growth against the baseline image."""
    mine, theirs = image.content, base.content
    if mine is None:
        return image
    changes = diff(theirs.packages, mine.packages) if theirs and theirs.packages is not None and \
        mine.packages is not None else None
    grown = growth(theirs.layers, mine.layers) if theirs and theirs.layers and mine.layers else None
    size = base.image.size_bytes if base.image is not None else None
    return dataclasses.replace(image, content=dataclasses.replace(mine, package_changes=changes, layer_growth=grown,
                                                                  baseline_size_bytes=size))


def downgrades(image: ImageReport, already: set[str]) -> list[Regression]:
    """Each downgraded package, GPU stack first, as a regression that informs; a package
    whose version the versions seen inside already compare (torch...) is left to them."""
    content = image.content
    found = []
    for change in (content.package_changes or []) if content else []:
        if change.change != DOWNGRADED or change.name.lower() in already:
            continue
        what = f"{GPU_STACK_DOWNGRADE} ({change.gpu_stack})" if change.gpu_stack else "downgrade"
        found.append(Regression("package", f"{change.name} ({change.kind})", change.baseline, change.current,
                                change=what, summary=f"{change.kind} package {change.name} {change.baseline} -> "
                                                     f"{change.current} ({what})"))
    return found


def layers_overview(image: ImageReport) -> tuple[int, dict, str]:
    """What the pages say above the layer table: the layers' total bytes, each layer's growth
    against the baseline by index, and ', +X against the baseline's Y' (or '')."""
    content = image.content
    total = sum(layer.size_bytes for layer in content.layers)
    grown = {g.index: g for g in content.layer_growth or [] if g.index is not None}
    against = ""
    if content.baseline_size_bytes is not None and image.image is not None and image.image.size_bytes is not None:
        against = (f", {signed(image.image.size_bytes - content.baseline_size_bytes)} against the baseline's "
                   f"{human(content.baseline_size_bytes)}")
    return total, grown, against
