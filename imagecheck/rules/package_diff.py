"""The Debian and Python packages of an image (read from its CycloneDX SBOM) and what
changed against the baseline's: added, removed, upgraded, downgraded (or changed, when
the versions cannot be ordered), the GPU stack first.

The GPU stack, in this order: torch, torchvision, torchaudio, triton, the nvidia-* wheels,
CUDA, cuDNN, NCCL (wheels or Debian packages), Python, glibc. A downgrade is a regression
(baseline.py); one of the GPU stack is flagged on its own line of the verdict's notes.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Iterable

from .package_versions import compare

KINDS = ("deb", "python")
SBOM_EVIDENCE = "sbom"  # the SBOM check's evidence: files, tool, package counts (image/sbom.py)
ADDED, REMOVED, UPGRADED, DOWNGRADED, CHANGED = "added", "removed", "upgraded", "downgraded", "changed"
# what needs a reader's eyes first, after the GPU stack
CHANGE_ORDER = {DOWNGRADED: 0, REMOVED: 1, CHANGED: 2, UPGRADED: 3, ADDED: 4}
# (what it is, patterns KIND:NAME), in the order the report lists them
GPU_STACK: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("torch", ("python:torch",)),
    ("torchvision", ("python:torchvision",)),
    ("torchaudio", ("python:torchaudio",)),
    ("triton", ("python:triton", "python:pytorch-triton")),
    ("nvidia wheels", ("python:nvidia-*",)),
    ("CUDA", ("python:cuda-python", "deb:cuda-*", "deb:libcublas*", "deb:libcufft*", "deb:libcurand*",
              "deb:libcusolver*", "deb:libcusparse*", "deb:libnvjitlink*", "deb:libnpp*", "deb:libnvjpeg*",
              "deb:libcupti*", "deb:libnvrtc*")),
    ("cuDNN", ("deb:libcudnn*", "deb:cudnn*")),
    ("NCCL", ("deb:libnccl*", "deb:nccl*")),
    ("Python", ("deb:python3", "deb:python3.*", "deb:libpython3*")),
    ("glibc", ("deb:libc6", "deb:libc6-*", "deb:libc-bin")),
)


@dataclass(frozen=True)
class Package:
    """One package as the SBOM lists it: its kind (deb, python), name, version, license."""

    kind: str
    name: str
    version: str
    license: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, normalized(self.kind, self.name)

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "version": self.version, "license": self.license}

    @classmethod
    def from_json(cls, data: dict) -> "Package":
        return cls(str(data.get("kind", "")), str(data.get("name", "")), str(data.get("version", "")),
                   str(data.get("license") or ""))


@dataclass(frozen=True)
class PackageChange:
    """A package that differs from the baseline's: versions before and after (None: absent)."""

    change: str
    kind: str
    name: str
    baseline: str | None
    current: str | None
    license: str = ""
    gpu_stack: str | None = None  # what part of the GPU stack it is ('torch', 'nvidia wheels', 'glibc')

    def summary(self) -> str:
        """'torch 2.6.0 -> 2.2.0 (downgraded)', 'onnx 1.17.0 (removed)'."""
        if self.change == ADDED:
            return f"{self.name} {self.current} ({self.kind}, added)"
        if self.change == REMOVED:
            return f"{self.name} {self.baseline} ({self.kind}, removed)"
        return f"{self.name} {self.baseline} -> {self.current} ({self.kind}, {self.change})"

    def to_json(self) -> dict:
        return {"change": self.change, "kind": self.kind, "name": self.name, "baseline": self.baseline,
                "current": self.current, "license": self.license, "gpu_stack": self.gpu_stack}

    @classmethod
    def from_json(cls, data: dict) -> "PackageChange":
        return cls(str(data.get("change", CHANGED)), str(data.get("kind", "")), str(data.get("name", "")),
                   data.get("baseline"), data.get("current"), str(data.get("license") or ""), data.get("gpu_stack"))


def normalized(kind: str, name: str) -> str:
    """A name as its manager compares names (Python: PEP 503, Debian: lower case)."""
    return re.sub(r"[-_.]+", "-", name).lower() if kind == "python" else name.lower()


def gpu_stack_part(kind: str, name: str) -> tuple[int, str] | None:
    """(rank, what) when the package belongs to the GPU stack ('torch', 'nvidia wheels',
    'CUDA', 'glibc'...), else None."""
    plain = f"{kind}:{normalized(kind, name)}"
    for rank, (what, patterns) in enumerate(GPU_STACK):
        if any(fnmatch.fnmatchcase(plain, pattern) for pattern in patterns):
            return rank, what
    return None


def _license(component: dict) -> str:
    names = []
    for entry in component.get("licenses") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("expression"):
            names.append(str(entry["expression"]))
        licence = entry.get("license") or {}
        if isinstance(licence, dict) and (licence.get("id") or licence.get("name")):
            names.append(str(licence.get("id") or licence.get("name")))
    return ", ".join(dict.fromkeys(names))


def from_cyclonedx(document: Any) -> list[Package]:
    """The Debian and Python packages of a CycloneDX JSON document made by syft (each
    component's `syft:package:type` property), one entry per kind, name and version."""
    found: dict[tuple[str, str, str], Package] = {}
    components = document.get("components") if isinstance(document, dict) else None
    for component in components or []:
        if not isinstance(component, dict):
            continue
        properties = {p.get("name"): p.get("value") for p in component.get("properties") or []
                      if isinstance(p, dict)}
        kind = properties.get("syft:package:type")
        name, version = component.get("name"), component.get("version")
        if kind not in KINDS or not name or version is None:
            continue
        package = Package(kind, str(name), str(version), _license(component))
        key = (kind, normalized(kind, package.name), package.version)
        if key not in found or not found[key].license:
            found[key] = package
    return sorted(found.values(), key=lambda p: (p.kind, normalized(p.kind, p.name), p.version))


def counts(packages: Iterable[Package]) -> dict[str, int]:
    """How many packages of each kind: {'deb': 184, 'python': 122}."""
    out = {kind: 0 for kind in KINDS}
    for package in packages:
        out[package.kind] = out.get(package.kind, 0) + 1
    return out


def _grouped(packages: Iterable[Package]) -> dict[tuple[str, str], list[Package]]:
    groups: dict[tuple[str, str], list[Package]] = {}
    for package in packages:
        groups.setdefault(package.key, []).append(package)
    return groups


def _versions(packages: list[Package]) -> str | None:
    return ", ".join(sorted({p.version for p in packages})) if packages else None


def _newest(kind: str, versions: list[str]) -> str:
    best = versions[0]
    for version in versions[1:]:
        if compare(kind, best, version) == 1:
            best = version
    return best


def diff(baseline: Iterable[Package], current: Iterable[Package]) -> list[PackageChange]:
    """Every package added, removed, upgraded, downgraded or changed, the GPU stack first
    (in GPU_STACK's order), then downgrades, removals, changes, upgrades and additions."""
    old, new = _grouped(baseline), _grouped(current)
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, []), new.get(key, [])
        if {p.version for p in before} == {p.version for p in after}:
            continue
        kind = key[0]
        name = (after or before)[0].name
        licence = next((p.license for p in after + before if p.license), "")
        if not before:
            change = ADDED
        elif not after:
            change = REMOVED
        else:
            order = compare(kind, _newest(kind, [p.version for p in before]), _newest(kind, [p.version for p in after]))
            change = {1: UPGRADED, -1: DOWNGRADED}.get(order, CHANGED)
        part = gpu_stack_part(kind, name)
        changes.append(PackageChange(change, kind, name, _versions(before), _versions(after), licence,
                                     part[1] if part else None))
    return sorted(changes, key=_listing_key)


def _listing_key(change: PackageChange) -> tuple:
    part = gpu_stack_part(change.kind, change.name)
    return (0, part[0], CHANGE_ORDER.get(change.change, 5), change.name) if part else \
        (1, CHANGE_ORDER.get(change.change, 5), change.kind, normalized(change.kind, change.name))


def tally(changes: Iterable[PackageChange]) -> dict[str, int]:
    """How many packages each kind of change touched: {'added': 1, 'downgraded': 2, ...}."""
    out = {change: 0 for change in CHANGE_ORDER}
    for change in changes:
        out[change.change] = out.get(change.change, 0) + 1
    return out
