"""The torch stack and the image's extra modules import, and their compiled parts load."""
import pytest

from imagecheck.observed import import_failure, import_result
from imagecheck.outcomes import not_applicable

pytestmark = pytest.mark.facts

STACK = ["torch", "torchvision", "torchaudio"]


@pytest.mark.parametrize("module", STACK)
def test_module_imports(image, facts, evidence, module):
    result = import_result(facts, module)
    evidence(f"{module}.import_seconds", result.get("seconds"))
    assert result["ok"], f"`import {module}` fails in {image.ref}: {import_failure(result)}"


def test_extra_modules_import(image, facts, evidence):
    wanted = image.spec.extra_modules
    if not wanted:
        not_applicable(f"images.yaml lists no extra modules for {image.ref}")
    results = {name: import_result(facts, name) for name in wanted}
    evidence("extra_modules", {name: r.get("version") if r["ok"] else "FAILED" for name, r in results.items()})
    failed = [f"{name}: {import_failure(r)}" for name, r in results.items() if not r["ok"]]
    assert not failed, (f"{len(failed)} of {len(wanted)} extra modules that images.yaml lists fail to "
                        f"import in {image.ref}:\n  " + "\n  ".join(failed))


def test_torchvision_cpp_ops_load(image, facts, evidence):
    ops = facts["stack"].get("torchvision_ops") or {"ok": False, "error": "torch does not import"}
    evidence("torchvision.nms", ops.get("kept", ops.get("error")))
    assert ops["ok"], (f"torchvision's C++ ops do not work in {image.ref}: torch.ops.torchvision.nms "
                       f"{'returned ' + str(ops['kept']) + ', expected ' + str(ops['expected']) if 'kept' in ops else 'failed: ' + import_failure(ops)}"
                       "\n  hint: torchvision was built for another torch (see the release pairing check)")


def test_torchaudio_extension_loads(image, facts, evidence):
    ops = facts["stack"].get("torchaudio_ops") or {"ok": False, "error": "torch does not import"}
    evidence("torchaudio.extension_loaded", ops.get("extension_loaded", ops.get("error")))
    assert ops["ok"], f"torchaudio's compiled extension does not load in {image.ref}: {import_failure(ops)}"
