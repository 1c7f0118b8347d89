"""The image run under a uid it does not know (`docker run --user 12345:0`, as OpenShift
and many clusters run containers): the arbitrary_uid probe through the image's own
entrypoint, once per image, started in the background beside the facts probe."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import entrypoint, probes
from ..runtime.target import ExecResult

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

USER = "12345:0"
RUN = "arbitrary-uid-run"


def start(image: "ImageUnderTest") -> None:
    """Begin the run under USER in the background (once per image and run)."""
    # The probe prints this argument reversed: the marker shows it started (an entrypoint
    # that only echoes its arguments does not pass for one that runs them).
    command = ["python3", "-B", f"{probes.IN_CONTAINER_DIR}/arbitrary_uid.py", entrypoint.STARTED_MARKER[::-1]]
    image.memo.start(RUN, lambda: entrypoint.run(image, "arbitrary-uid", command, user=USER, with_probes=True,
                                                 timeout=image.spec.timeouts.compile))


def result(image: "ImageUnderTest") -> ExecResult:
    """How the run ended (started now if no one started it); its failure is kept."""
    start(image)
    return image.memo.result(RUN)
