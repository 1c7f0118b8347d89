"""The ONNX export of an image, begun beside the facts probe (the ONNX check's companion,
once per image): the onnx_export probe, torch.onnx.export of images.yaml's onnx.model at
its onnx.opset, in the shared container. Its duration is evidence measured beside other
work, never judged."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

KEY = "onnx"  # image.start_probe's key: the memo keeps it as ("probe", KEY)


def start(image: "ImageUnderTest") -> None:
    """Begin the export in the background (once per image), unless images.yaml promises none."""
    promise = image.spec.onnx
    if promise.opset is not None:
        image.start_probe(KEY, "onnx_export", json.dumps({"model": promise.model, "opset": promise.opset}))


def result(image: "ImageUnderTest") -> dict:
    """The probe's data (started now if no one started it); its failure is kept."""
    start(image)
    return image.probe_result(KEY).data
