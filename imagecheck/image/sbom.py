"""The image's SBOM, made by syft (runtime/syft.py) once per image and kept:

- in the sign-off folder (`sbom/<image>.cdx.json`, CycloneDX JSON, and `.spdx.json`, SPDX
  JSON, both from one scan), each with its sha256, for the report to link;
- in a cache keyed by the image ID, the image reference and syft's version
  (`~/.cache/imagecheck/sbom/`, or under XDG_CACHE_HOME), so the same image costs one
  scan however many runs judge it, and its SBOM keeps the same digest.
The scan starts beside the facts probe when the run selects the SBOM check (a companion:
image/companions.py), so its minutes overlap the other checks.
The Debian and Python packages come from the CycloneDX file (rules/package_diff.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ImagecheckError, explain
from ..rules.package_diff import Package, counts, from_cyclonedx
from ..runtime import syft

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

FOLDER = "sbom"
SUFFIXES = {"cyclonedx": "cdx.json", "spdx": "spdx.json"}


class SbomUnreadable(ImagecheckError):
    """syft wrote an SBOM this suite cannot read."""


@dataclass
class Sbom:
    """The image's SBOM files (in the sign-off folder), its packages, and how it was made."""

    files: list[dict]          # {"format", "file" (relative to the folder), "sha256", "bytes"}
    packages: list[Package]
    tool: str
    seconds: float
    cached: bool
    folder: Path = field(default_factory=Path)

    def evidence(self) -> dict:
        """What the check records (signoff/content.py reads the packages back from the file)."""
        return {"files": self.files, "tool": self.tool, "packages": counts(self.packages),
                "seconds": self.seconds, "cached": self.cached}


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imagecheck" / "sbom"


def file_stem(ref: str) -> str:
    """A file name for the image: 'pytorch-cuda:v2.6' -> 'pytorch-cuda_v2.6'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", ref).strip("_") or "image"


def make(image: "ImageUnderTest", folder: Path) -> Sbom:
    """The image's SBOM in folder/sbom/, made once per image (and per image ID, ever)."""
    return image.shared("sbom", lambda: _make(image, folder))


SCAN = "sbom-scan"


@dataclass
class _Scan:
    """The scan's files (in the cache, or in a scratch folder of this run when the cache
    cannot be written), the tool, and whether the cache already held them."""

    folder: Path
    tool: str
    cached: bool
    seconds: float
    scratch: Path | None


def start(image: "ImageUnderTest") -> None:
    """Begin the scan in the background (once per image): the SBOM check's companion."""
    image.memo.start(SCAN, lambda: _scan_once(image))


def _scan_once(image: "ImageUnderTest") -> _Scan:
    started = time.monotonic()
    program = syft.binary()
    tool = f"syft {syft.version(program)}"
    image_id = image.docker_image.id
    key = hashlib.sha256(f"{tool}\0{image_id}\0{image.ref}".encode()).hexdigest()[:32]
    scratch = None
    try:
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
    except OSError:  # no cache here: a folder of this scan's own, removed once copied
        root = scratch = Path(tempfile.mkdtemp(prefix="imagecheck-sbom-"))
    cached_folder = root / key
    cached = all((cached_folder / f"{name}.json").is_file() for name in SUFFIXES)
    if not cached:
        try:
            _scan(program, image_id, image.ref, cached_folder, image.spec.timeouts.probe)
        except BaseException:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
    return _Scan(cached_folder, tool, cached, time.monotonic() - started, scratch)


def _make(image: "ImageUnderTest", folder: Path) -> Sbom:
    started = time.monotonic()
    start(image)  # begun beside the facts probe when the run selected this check; else now
    scan = image.memo.result(SCAN)
    try:
        files = _copy_into(scan.folder, folder / FOLDER, image.ref)
    finally:
        if scan.scratch is not None:
            shutil.rmtree(scan.scratch, ignore_errors=True)
    packages = read_packages(folder / files[0]["file"])
    return Sbom(files, packages, scan.tool, round(max(scan.seconds, time.monotonic() - started), 1), scan.cached,
                folder)


def _copy_into(source: Path, target: Path, ref: str) -> list[dict]:
    """Copy the SBOM files into the sign-off folder; each one's name, digest and size."""
    target.mkdir(parents=True, exist_ok=True)
    files = []
    for name, suffix in SUFFIXES.items():
        path = target / f"{file_stem(ref)}.{suffix}"
        shutil.copyfile(source / f"{name}.json", path)
        data = path.read_bytes()
        files.append({"format": name, "file": f"{FOLDER}/{path.name}", "sha256": hashlib.sha256(data).hexdigest(),
                      "bytes": len(data)})
    return files


def _scan(program: str, image_id: str, ref: str, destination: Path, timeout: float) -> None:
    """Scan into a fresh folder beside destination, then move it there whole (a reader
    never sees half an SBOM)."""
    work = Path(tempfile.mkdtemp(prefix=".scan-", dir=destination.parent))
    try:
        syft.scan(program, image_id, {name: work / f"{name}.json" for name in SUFFIXES}, name=ref, timeout=timeout)
        shutil.rmtree(destination, ignore_errors=True)
        os.replace(work, destination)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_packages(path: Path) -> list[Package]:
    """The Debian and Python packages of a CycloneDX file; SbomUnreadable when it is not one."""
    try:
        return from_cyclonedx(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise SbomUnreadable(explain(f"the SBOM {path.name} cannot be read back", observed=str(error)[:300],
                                     hint="syft wrote no CycloneDX JSON; run again, or report the syft version"))\
            from None
