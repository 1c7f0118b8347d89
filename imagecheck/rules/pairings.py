"""Release pairings of torch, torchvision, torchaudio and Python, and checks over them.

Data from PyTorch's release compatibility matrix, the torchvision README table and wheel
metadata on PyPI. The checks judge the torch, torchvision, torchaudio and Python pairing;
the CUDA builds, cuDNN, triton and NCCL columns say what each release shipped, for a
reader of a failure (the promised versions of those are judged against images.yaml).
"""
from __future__ import annotations

from dataclasses import dataclass

from .versions import components, major_minor


@dataclass(frozen=True)
class Release:
    """One torch minor release and what ships with it."""

    torch: str
    torchvision: str
    torchaudio: tuple[str, ...]          # minors that serve this torch
    python: tuple[str, str]              # lowest and highest supported minor
    cuda_builds: tuple[str, ...]         # PyPI default first
    cudnn: tuple[str, ...]               # cuDNN versions shipped, per CUDA build
    nccl: tuple[str, ...]
    triton: str | None
    numpy2: bool                         # wheels work with NumPy >= 2


RELEASES: tuple[Release, ...] = (
    Release("2.1", "0.16", ("2.1",), ("3.8", "3.11"), ("12.1", "11.8"), ("8.9.2.26", "8.7.0.84"), ("2.18.1",), "2.1.0", False),
    Release("2.2", "0.17", ("2.2",), ("3.8", "3.11"), ("12.1", "11.8"), ("8.9.2.26", "8.7.0.84"), ("2.19.3",), "2.2.0", False),
    Release("2.3", "0.18", ("2.3",), ("3.8", "3.11"), ("12.1", "11.8"), ("8.9.2.26", "8.7.0.84"), ("2.20.5",), "2.3", True),
    Release("2.4", "0.19", ("2.4",), ("3.8", "3.12"), ("12.1", "11.8", "12.4"), ("9.1.0.70",), ("2.20.5",), "3.0.0", True),
    Release("2.5", "0.20", ("2.5",), ("3.9", "3.12"), ("12.4", "11.8", "12.1"), ("9.1.0.70",), ("2.21.5",), "3.1.0", True),
    Release("2.6", "0.21", ("2.6",), ("3.9", "3.13"), ("12.4", "11.8", "12.6"), ("9.1.0.70", "9.5.1.17"), ("2.21.5",), "3.2.0", True),
    Release("2.7", "0.22", ("2.7",), ("3.9", "3.13"), ("12.6", "11.8", "12.8"), ("9.5.1.17", "9.7.1.26"), ("2.26.2",), "3.3", True),
    Release("2.8", "0.23", ("2.8",), ("3.9", "3.13"), ("12.8", "12.6", "12.9"), ("9.10.2.21",), ("2.27.3",), "3.4.0", True),
    Release("2.9", "0.24", ("2.9",), ("3.10", "3.14"), ("12.8", "12.6", "13.0"), ("9.10.2.21", "9.13.0.50"), ("2.27.5",), "3.5.0", True),
    Release("2.10", "0.25", ("2.10",), ("3.10", "3.14"), ("12.8", "12.6", "13.0"), ("9.10.2.21", "9.15.1.9"), ("2.27.5", "2.28.9"), "3.6.0", True),
    Release("2.11", "0.26", ("2.11",), ("3.10", "3.14"), ("12.8", "12.6", "13.0"), ("9.1",), ("2.28.9",), None, True),
    Release("2.12", "0.27", ("2.11",), ("3.10", "3.14"), ("13.0", "12.6", "13.2"), ("9.20.0.48",), ("2.29",), "3.7", True),
    Release("2.13", "0.28", ("2.11",), ("3.10", "3.15"), ("13.0", "12.6", "13.2"), ("9.20.0.48",), ("2.29",), None, True),
)

# The first CUDA major a driver branch supports, per NVIDIA's compatibility notes.
DRIVER_FLOORS: dict[int, tuple[int, ...]] = {11: (450, 80, 2), 12: (525,), 13: (580,)}


def release_for_torch(torch_version: str) -> Release | None:
    """The release row of a torch version, or None when it is not in the table."""
    want = major_minor(torch_version)
    return next((r for r in RELEASES if r.torch == want), None)


def release_for_torchvision(torchvision_version: str) -> Release | None:
    """The release row whose torchvision minor this is, or None."""
    want = major_minor(torchvision_version)
    return next((r for r in RELEASES if r.torchvision == want), None)


def _python_in_range(python: str, low: str, high: str) -> bool:
    return components(low) <= components(python)[:2] <= components(high)


def pairing_problems(torch: str | None, torchvision: str | None, torchaudio: str | None,
                     python: str | None, numpy: str | None = None) -> list[str]:
    """Every way the observed combination departs from a real release pairing."""
    if torch is None:
        return ["torch is not installed or does not import, so no pairing can be checked"]
    release = release_for_torch(torch)
    if release is None:
        known = ", ".join(r.torch for r in RELEASES)
        return [f"torch {torch} is not in the release table (known minors: {known}); "
                "add its row to RELEASES in imagecheck/rules/pairings.py"]
    problems = _companion_problems(release, torchvision, torchaudio, f"does not pair with torch {torch}")
    if python is not None and not _python_in_range(python, *release.python):
        problems.append(f"Python {python} is outside torch {release.torch}'s supported range "
                        f"{release.python[0]}-{release.python[1]}")
    if numpy is not None and not release.numpy2 and components(numpy)[:1] >= (2,):
        problems.append(f"NumPy {numpy} is 2.x, but torch {release.torch} wheels need NumPy < 2")
    return problems


def driver_floor(cuda_version: str) -> tuple[int, ...] | None:
    """The lowest host driver that runs this CUDA major, or None when unknown."""
    major = components(cuda_version)[:1]
    return DRIVER_FLOORS.get(major[0]) if major else None


def driver_satisfies(driver_version: str, cuda_version: str) -> bool | None:
    """True/False when the host driver is new enough for the CUDA major; None if unknown."""
    floor = driver_floor(cuda_version)
    if floor is None:
        return None
    have = components(driver_version)
    return have[: len(floor)] >= floor


def promise_problems(promised_torch: str | None, torch: str | None, torchvision: str | None,
                     torchaudio: str | None) -> list[str]:
    """Ways the installed torchvision/torchaudio cannot serve the torch images.yaml promises;
    nothing when the installed torch is of the promised minor (pairing_problems covers that)."""
    release = release_for_torch(promised_torch) if promised_torch else None
    if release is None or (torch is not None and major_minor(torch) == release.torch):
        return []
    return _companion_problems(release, torchvision, torchaudio, f"cannot serve the promised torch {promised_torch}")


def _companion_problems(release: Release, torchvision: str | None, torchaudio: str | None,
                        verdict: str) -> list[str]:
    """torchvision and torchaudio against one release row: 'torchvision X <verdict>: ...'."""
    problems = []
    if torchvision is not None and major_minor(torchvision) != release.torchvision:
        owner = release_for_torchvision(torchvision)
        belongs = f"it belongs to torch {owner.torch}, " if owner else ""
        problems.append(f"torchvision {torchvision} {verdict}: {belongs}torch {release.torch} "
                        f"needs torchvision {release.torchvision}")
    if torchaudio is not None and major_minor(torchaudio) not in release.torchaudio:
        problems.append(f"torchaudio {torchaudio} {verdict}: torch {release.torch} "
                        f"needs torchaudio {' or '.join(release.torchaudio)}")
    return problems


def downgrade_hint(torch_observed: str, torch_expected: str, torchvision_observed: str | None) -> str | None:
    """Why torch may be older than promised: a torchvision that pins an older torch."""
    if components(torch_observed) >= components(torch_expected) or torchvision_observed is None:
        return None
    owner = release_for_torchvision(torchvision_observed)
    if owner is not None and owner.torch == major_minor(torch_observed):
        return (f"torchvision {torchvision_observed} requires torch {owner.torch}.x exactly: a pip step that "
                f"installed it downgraded torch from the promised {torch_expected}")
    return None
