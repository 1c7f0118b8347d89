"""Whether the host's NVIDIA driver can run the image's CUDA: the driver floors per CUDA
major (12.x needs >= 525, 13.x >= 580) and the host preflight's verdict. A finding here
is a "host problem": the image is never blamed for it."""
from __future__ import annotations

from dataclasses import dataclass

from .pairings import driver_floor, driver_satisfies
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
