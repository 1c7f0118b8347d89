"""Typed errors a user can act on; each message says what, where, and a hint."""
from __future__ import annotations


class ImagecheckError(Exception):
    """A problem the user can act on; str() is the whole message."""


def explain(what: str, *, expected: str | None = None, observed: str | None = None,
            where: str | None = None, hint: str | None = None) -> str:
    """Compose a message: what went wrong, expected vs observed, where, and a hint."""
    parts = [what]
    if expected is not None:
        parts.append(f"expected: {expected}")
    if observed is not None:
        parts.append(f"observed: {observed}")
    if where is not None:
        parts.append(f"where: {where}")
    if hint is not None:
        parts.append(f"hint: {hint}")
    return "\n  ".join(parts)


class ConfigError(ImagecheckError):
    """images.yaml (or another input file) is malformed."""


class DockerUnavailable(ImagecheckError):
    """The Docker engine cannot be reached."""


class EngineLost(DockerUnavailable):
    """The Docker engine stopped answering during the run."""


class ImageNotFound(ImagecheckError):
    """The image is not present on the engine and the run may not pull it (--pull never)."""


class ContainerStartError(ImagecheckError):
    """A container could not be created or did not stay up."""


class CommandTimeout(ImagecheckError):
    """A command in a container ran past its time limit."""


class ProbeError(ImagecheckError):
    """A probe did not produce the one JSON object it promises."""


class NotPromised(ImagecheckError):
    """images.yaml promises nothing this check could judge: the check does not apply."""


class DistributedError(ImagecheckError):
    """A distributed run could not be set up (the limit is too small, a node did not start,
    its network could not be made)."""


class NoPython(ProbeError):
    """The image has no python3 on PATH, so no probe can run."""


class PythonWontStart(ProbeError):
    """The image's python3 fails or hangs at start, so no probe can run."""
