"""Every shared library in torch's, torchvision's and torchaudio's packages resolves."""
import pytest

from imagecheck.check import fail

pytestmark = pytest.mark.facts


def test_every_shared_library_resolves(image, facts, evidence):
    libs = facts.shared_libraries
    if "error" in libs:
        fail(f"the shared library scan failed in {image.ref}: {libs['error']}")
    if libs["tool"] is None:
        fail(f"{image.ref} has neither ldd nor the dynamic loader, so no library can be checked")
    evidence("shared_libraries.scanned", libs["scanned"])
    evidence("shared_libraries.from_driver", sorted({m for ms in libs["driver_provided"].values() for m in ms}))
    evidence("shared_libraries.optional_missing", sorted({m for ms in libs["optional_missing"].values() for m in ms}))
    assert libs["scanned"] > 0, f"no shared library found in torch, torchvision or torchaudio of {image.ref}"
    unresolved = libs["unresolved"]
    lines = [f"{path}: {', '.join(missing)} not found" for path, missing in sorted(unresolved.items())]
    assert not unresolved, (f"{len(unresolved)} of {libs['scanned']} shared libraries in {image.ref} have "
                            "dependencies that do not resolve:\n  " + "\n  ".join(lines[:30]))
