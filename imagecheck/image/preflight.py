"""Host preflight for GPU checks: is the host able to run the image's CUDA at all?

A host whose NVIDIA driver is older than the floor for the image's CUDA major, whose
driver folder lacks libcuda, or that lacks the GPUs asked for cannot judge the image:
every GPU check would fail for the host's sake. The judgment is rules/host_driver.py;
this module reads the host (device nodes, the driver folder) and the image's CUDA.
"""
from __future__ import annotations

import glob
import os

from ..errors import ImagecheckError
from ..rules.host_driver import Preflight, driver_problem
from ..rules.pairings import driver_floor
from ..runtime.gpu import GpuAccess


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
    try:
        observed = image.facts().torch_cuda
    except ImagecheckError:
        observed = None
    return observed or image.spec.cuda
