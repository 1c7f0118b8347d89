"""The torch stack and the image's extra modules import, and their compiled parts load."""
import pytest

from imagecheck.check import not_applicable
from imagecheck.image.facts import import_failure

pytestmark = pytest.mark.facts

STACK = ["torch", "torchvision", "torchaudio"]


@pytest.mark.parametrize("module", STACK)
def test_module_imports(image, facts, evidence, module):
    result = facts.import_result(module)
    evidence(f"{module}.import_seconds", result.get("seconds"))
    assert result["ok"], f"`import {module}` fails in {image.ref}: {import_failure(result)}"


def test_extra_modules_import(image, facts, evidence):
    wanted = image.spec.extra_modules
    if not wanted:
        not_applicable(f"images.yaml lists no extra modules for {image.ref}")
    results = {name: facts.import_result(name) for name in wanted}
    evidence("extra_modules", {name: r.get("version") if r["ok"] else "FAILED" for name, r in results.items()})
    failed = [f"{name}: {import_failure(r)}" for name, r in results.items() if not r["ok"]]
    assert not failed, (f"{len(failed)} of {len(wanted)} extra modules that images.yaml lists fail to "
                        f"import in {image.ref}:\n  " + "\n  ".join(failed))


def _requires_import(facts, module: str) -> None:
    """A module's compiled parts are judged only when it imports; test_module_imports
    reports an import that fails."""
    if not facts.imports(module):
        not_applicable(f"{module} does not import (test_module_imports reports why)")


def test_torchvision_cpp_ops_load(image, facts, evidence):
    _requires_import(facts, "torchvision")
    ops = facts.torchvision_ops
    evidence("torchvision.nms", ops.get("kept", ops.get("error")))
    assert ops["ok"], (f"torchvision's C++ ops do not work in {image.ref}: torch.ops.torchvision.nms "
                       f"{'returned ' + str(ops['kept']) + ', expected ' + str(ops['expected']) if 'kept' in ops else 'failed: ' + import_failure(ops)}"
                       "\n  hint: torchvision was built for another torch (see the release pairing check)")


def test_torchaudio_extension_loads(image, facts, evidence):
    _requires_import(facts, "torchaudio")
    ops = facts.torchaudio_ops
    evidence("torchaudio.extension_loaded", ops.get("extension_loaded", ops.get("error")))
    assert ops["ok"], f"torchaudio's compiled extension does not load in {image.ref}: {import_failure(ops)}"
