"""ONNX export of a torchvision model at the opset images.yaml promises (for TensorRT)."""
import pytest

from imagecheck.check import not_applicable
from imagecheck.image import onnx_run


@pytest.mark.onnx  # the export begins beside the facts probe (image/companions.py), once per image
def test_torchvision_model_exports_to_onnx_at_the_promised_opset(image, evidence):
    promise = image.spec.onnx
    if promise.opset is None:
        not_applicable(f"images.yaml promises no ONNX export for {image.ref} (onnx.opset is not set)")
    result = onnx_run.result(image)
    evidence("onnx", {k: result.get(k) for k in ("opsets", "bytes", "export_seconds", "exporter", "checker",
                                                 "onnxruntime", "error")})
    assert result.get("ok"), (
        f"torch.onnx.export of {promise.model} at opset {promise.opset} fails in {image.ref} "
        f"({result.get('stage')}): {result.get('error')}\n    " + "\n    ".join(result.get("traceback_tail") or []))
    opset = result["opsets"].get("")
    assert opset == promise.opset, (f"the exported {promise.model} in {image.ref} declares ONNX opset {opset}, "
                                    f"images.yaml promises {promise.opset}")
