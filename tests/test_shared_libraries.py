"""Every shared library in torch's, torchvision's and torchaudio's packages resolves, and
no other file of the same name comes before a library torch ships in the loader's search
order (a library loaded by name would get that other file)."""
import pytest

from imagecheck.check import fail
from imagecheck.rules import library_search

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


def test_no_other_file_comes_before_a_library_torch_ships(image, facts, evidence):
    section = facts.shared_libraries.get("search_order") or {"error": "the facts probe has no search_order section"}
    if "error" in section:
        fail(f"the loader's search order could not be read in {image.ref}: {section['error']}")
    if not section["checked"]:
        fail(f"no library found in torch's lib/ folder or the nvidia-* wheels of {image.ref}, so none could be "
             "checked\n  hint: torch must import from a wheel install (site-packages/torch/lib)")
    found = library_search.shadowed(section["libraries"])
    evidence("shared_libraries.search_order", library_search.search_order(section))
    evidence("shared_libraries.checked_by_name", section["checked"])
    evidence("shared_libraries.first_by_name", {
        name: f"{entry['candidates'][0]['path']} ({entry['candidates'][0]['via']})"
        for name, entry in sorted(section["libraries"].items())})
    assert not found, (
        f"{len(found)} of the {section['checked']} libraries torch ships in {image.ref} are not the first file of "
        "their name in the loader's search order; expected torch's own, observed another file first, which a "
        "library loaded by name (dlopen of its soname) gets:\n  " + "\n  ".join(str(item) for item in found)
        + "".join(f"\n  hint: {hint}" for hint in library_search.hints(found)))
