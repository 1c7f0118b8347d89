"""The CUDA side of an image's torch: what its build covers and whether the libraries it
reports agree with the pip nvidia-* wheels installed beside it. Pure logic over the
facts probe's JSON."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .versions import components


def _capability(value: str) -> tuple[int, int]:
    major, _, minor = value.partition(".")
    return int(major), int(minor or 0)


def arch_covers(arch_list: list[str], capability: str) -> str | None:
    """The best entry of torch.cuda.get_arch_list() that runs on a device of this compute
    capability, or None.

    A cubin for sm_XY runs on devices of the same major X with minor >= Y, and so does a
    family-specific one (sm_100f); an arch-specific cubin (sm_90a) runs only on its own
    capability; PTX (compute_XY) is compiled by the driver for any device of capability >= XY.
    """
    want = _capability(capability)
    fits = []
    for entry in arch_list:
        match = re.fullmatch(r"(sm|compute)_(\d+?)(\d)([af]?)", entry.strip())
        if not match:
            continue
        kind, major, minor, suffix = match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)
        if (kind == "compute" and (major, minor) <= want
                or kind == "sm" and suffix == "a" and (major, minor) == want
                or kind == "sm" and suffix != "a" and major == want[0] and minor <= want[1]):
            fits.append(((kind == "sm", major, minor), entry))
    return max(fits)[1] if fits else None  # machine code for the closest capability first, PTX last


@dataclass(frozen=True)
class WheelCheck:
    """One library torch reports, against the pip wheel that ships it."""

    library: str
    torch_reports: str | None
    wheel: str | None
    wheel_version: str | None
    agrees: bool | None  # None: no such wheel installed

    def describe(self) -> str:
        if self.wheel is None:
            return f"{self.library}: torch reports {self.torch_reports}; no pip wheel ships it"
        verdict = "agrees" if self.agrees else "DISAGREES"
        return (f"{self.library}: torch reports {self.torch_reports}, the pip wheel {self.wheel} is "
                f"{self.wheel_version} ({verdict})")


_WHEELS = {
    # library: (wheel name pattern, how many leading components must agree)
    "CUDA runtime": (r"nvidia-cuda-runtime(-cu\d+)?", 2),
    "cuDNN": (r"nvidia-cudnn-cu\d+", 3),
    "NCCL": (r"nvidia-nccl-cu\d+", 3),
}


def wheel_checks(distributions: dict[str, str], torch_facts: dict) -> list[WheelCheck]:
    """torch.version.cuda, the cuDNN runtime and NCCL versions against the nvidia-* wheels."""
    reported = {"CUDA runtime": torch_facts.get("cuda"), "cuDNN": torch_facts.get("cudnn_runtime"),
                "NCCL": torch_facts.get("nccl")}
    checks = []
    for library, (pattern, depth) in _WHEELS.items():
        names = sorted(n for n in distributions if re.fullmatch(pattern, n))
        observed = reported[library]
        if not names:
            checks.append(WheelCheck(library, observed, None, None, None))
            continue
        name = names[-1]
        version = distributions[name]
        agrees = observed is not None and components(observed)[:depth] == components(version)[:depth]
        checks.append(WheelCheck(library, observed, name, version, agrees))
    return checks
