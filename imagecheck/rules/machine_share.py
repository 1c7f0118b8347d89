"""A figure taken in a container of the image against its twin taken on the same machine,
in the same run, outside the image (the host's own torch, the same GPUs): the share of the
machine's speed the image gets. One low attempt is measured again before it counts, and
every attempt is kept, so one flaky figure never blocks a release and the report shows why.
Pure: the figures come from the probes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

ATTEMPTS = 2  # a share below the floor is measured once more before it fails


@dataclass(frozen=True)
class Attempt:
    """One measurement of both: the container's figure and the host's twin."""

    container: float | None
    host: float | None

    @property
    def share(self) -> float | None:
        if self.container is None or not self.host:
            return None
        return self.container / self.host

    def as_evidence(self) -> dict:
        return {**asdict(self), "share": None if self.share is None else round(self.share, 3)}


def needs_another(attempts: list[Attempt], floor: float) -> bool:
    """Whether to measure again: the last share is below the floor and attempts are left."""
    last = attempts[-1].share if attempts else None
    return last is not None and last < floor and len(attempts) < ATTEMPTS


def best(attempts: list[Attempt]) -> Attempt | None:
    """The attempt whose share is highest (the one that judges the image)."""
    measured = [a for a in attempts if a.share is not None]
    return max(measured, key=lambda a: a.share) if measured else None


def shortfall(what: str, unit: str, attempts: list[Attempt], floor: float, where: str,
              hint: str) -> str | None:
    """Why the image falls short of the machine (every attempt below the floor), or None."""
    top = best(attempts)
    if top is None or top.share >= floor:
        return None
    tried = "; ".join(f"attempt {n}: {a.container:g} {unit} in the container, {a.host:g} {unit} on the host "
                      f"(share {a.share:.3f})" for n, a in enumerate(attempts, 1) if a.share is not None)
    return (f"{what} in {where} reaches {top.share:.2f} of the machine's own figure, below the floor of {floor:g}\n"
            f"  expected: at least {floor:g} x what the same work does on this host outside the image\n"
            f"  observed: {tried}\n"
            f"  hint: {hint}")
