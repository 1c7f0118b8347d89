"""The image can be extended: FROM it, pip install one package; the result still works as
the image did, as the image's own user (what imported in the image still imports, the new
package imports)."""
import dataclasses

import pytest

from imagecheck.image import derived as derived_image
from imagecheck.image.derived import MARKER_MODULE
from imagecheck.image.facts import import_failure
from imagecheck.image.under_test import ImageUnderTest


@pytest.mark.slow
@pytest.mark.derived_image  # built beside the facts probe (image/companions.py), once per run
def test_derived_image_still_imports(image, facts, evidence, progress):
    with progress.step("derived image: FROM it, pip install of one package, imports"):
        # the derived image exists on this engine only: never pulled, whatever the run's policy
        local = dataclasses.replace(image.context, pull_policy="never")
        derived = ImageUnderTest(derived_image.tag(image), image.spec, local)
        try:
            stack = derived.probe("python_stack", MARKER_MODULE).data
        finally:
            derived.close()
    imports = stack["imports"]
    evidence("derived.imports", {name: r["ok"] for name, r in imports.items()})
    # What already failed in the image is its own checks' finding; here: what extending it broke.
    broken = [f"{name}: {import_failure(r)}" for name, r in imports.items()
              if not r["ok"] and (name == MARKER_MODULE or facts.imports(name))]
    assert not broken, (f"after `pip install` of one package FROM {image.ref}, imports that worked in the "
                        "image fail (or the new package does not import):\n  " + "\n  ".join(broken))
