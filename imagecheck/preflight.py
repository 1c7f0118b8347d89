"""Host preflight for GPU checks: is the host able to run the image's CUDA at all?

A host whose NVIDIA driver is older than the floor for the image's CUDA major (12.x needs
>= 525, 13.x >= 580), whose driver folder lacks libcuda, or that lacks the GPUs asked
for cannot judge the image: every GPU check would fail for the host's sake. Such a
finding is a "host problem"; checks report it as such and never blame the image.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from .compat import driver_floor, driver_satisfies
from .runtime.gpu import GpuAccess
from .versions import components

HOST_PROBLEM = "host problem"


@dataclass(frozen=True)
class Preflight:
    """What the host offers the image's CUDA, and what (if anything) is wrong with the host."""

    driver: str | None
    cuda: str | None
    floor: str | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        """One line per problem, each starting with 'host problem', ending with the verdict."""
        lines = [f"{HOST_PROBLEM}: {p}" for p in self.problems]
        return "\n  ".join(lines + ["the image is not at fault: fix the host, then run the GPU checks again"])

    def evidence(self) -> dict:
        return {"host_driver": self.driver, "image_cuda": self.cuda, "driver_floor": self.floor,
                "host_problems": list(self.problems)}


def driver_problem(driver: str | None, cuda: str | None) -> str | None:
    """Why this driver cannot run this CUDA major, or None when it can (or nothing is known)."""
    if not driver or not cuda:
        return None
    verdict = driver_satisfies(driver, cuda)
    if verdict is None or verdict:
        return None
    floor = ".".join(str(p) for p in driver_floor(cuda) or ())
    major = components(cuda)[0]
    return (f"the host's NVIDIA driver {driver} is older than {floor}, the first that runs CUDA {major}.x "
            f"(the image's torch is built for CUDA {cuda}); update the host driver to >= {floor}")


def access_problems(access: GpuAccess) -> list[str]:
    """What keeps the chosen GPU access from working on this host (devices mode only: the
    toolkit checks its own setup when the container starts)."""
    if access.mode != "devices":
        return []
    problems = []
    missing = [f"/dev/nvidia{i}" for i in access.indices if not os.path.exists(f"/dev/nvidia{i}")]
    if missing:
        problems.append(f"GPU(s) asked for with --gpus are not on this host: {', '.join(missing)} do not exist")
    if not os.path.exists("/dev/nvidiactl"):
        problems.append("/dev/nvidiactl does not exist: the NVIDIA kernel driver is not loaded")
    if not any(glob.glob(os.path.join(access.driver_dir, sub, "libcuda.so*")) for sub in ("lib64", "lib")):
        problems.append(f"the driver folder {access.driver_dir} has no lib64/libcuda.so*: containers would get "
                        "no CUDA driver; pass --gpu-driver-dir with the folder that holds the driver's "
                        "user-space libraries (lib64/) and tools (bin/)")
    return problems


def check(access: GpuAccess, image_cuda: str | None) -> Preflight:
    """The host's verdict for an image whose torch is built for `image_cuda`."""
    floor = driver_floor(image_cuda) if image_cuda else None
    problems = access_problems(access)
    problem = driver_problem(access.driver_version, image_cuda)
    if problem:
        problems.append(problem)
    return Preflight(access.driver_version, image_cuda, ".".join(str(p) for p in floor) if floor else None,
                     tuple(problems))


def image_cuda(image) -> str | None:
    """The CUDA version the image's torch is built for (torch.version.cuda from the facts
    probe), else the one images.yaml promises."""
    from .errors import ImagecheckError
    try:
        observed = ((image.facts().get("stack") or {}).get("torch") or {}).get("cuda")
    except ImagecheckError:
        observed = None
    return observed or image.spec.cuda
