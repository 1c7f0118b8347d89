"""Installed versions equal what images.yaml promises."""
import pytest

from imagecheck.check import not_applicable
from imagecheck.rules.pairings import downgrade_hint
from imagecheck.rules.versions import matches

pytestmark = pytest.mark.facts

PACKAGES = ["python", "torch", "torchvision", "torchaudio", "triton"]


@pytest.mark.parametrize("package", PACKAGES)
def test_version_is_as_promised(image, facts, evidence, package):
    expected = getattr(image.spec, package)
    observed = evidence(f"{package}.version", facts.installed_version(package))
    if expected is None:
        not_applicable(f"images.yaml promises no {package} version for {image.ref}")
    assert observed is not None, f"{package} is not installed in {image.ref}; images.yaml expects {expected}"
    hint = downgrade_hint(observed, expected, facts.installed_version("torchvision")) if package == "torch" else None
    assert matches(expected, observed), (
        f"{package} in {image.ref} is {observed}, images.yaml expects {expected}" + (f"\n  hint: {hint}" if hint else ""))
