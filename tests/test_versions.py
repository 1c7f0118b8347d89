"""Installed versions equal what images.yaml promises."""
import pytest

from imagecheck.compat import downgrade_hint
from imagecheck.observed import installed_version
from imagecheck.versions import matches
from imagecheck.outcomes import not_applicable

pytestmark = pytest.mark.facts

PACKAGES = ["python", "torch", "torchvision", "torchaudio", "triton"]


@pytest.mark.parametrize("package", PACKAGES)
def test_version_is_as_promised(image, facts, evidence, package):
    expected = getattr(image.spec, package)
    observed = evidence(f"{package}.version", installed_version(facts, package))
    if expected is None:
        not_applicable(f"images.yaml promises no {package} version for {image.ref}")
    assert observed is not None, f"{package} is not installed in {image.ref}; images.yaml expects {expected}"
    hint = downgrade_hint(observed, expected, installed_version(facts, "torchvision")) if package == "torch" else None
    assert matches(expected, observed), (
        f"{package} in {image.ref} is {observed}, images.yaml expects {expected}" + (f"\n  hint: {hint}" if hint else ""))
