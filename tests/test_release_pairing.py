"""torch, torchvision, torchaudio and Python form a real release pairing, and the one
images.yaml promises."""
import pytest

from imagecheck.rules.pairings import pairing_problems, promise_problems

pytestmark = pytest.mark.facts


def test_torch_stack_is_a_real_release_pairing(image, facts, evidence):
    seen = {name: facts.installed_version(name) for name in ("torch", "torchvision", "torchaudio", "python", "numpy")}
    evidence("pairing", seen)
    problems = pairing_problems(seen["torch"], seen["torchvision"], seen["torchaudio"], seen["python"], seen["numpy"])
    problems += promise_problems(image.spec.torch, seen["torch"], seen["torchvision"], seen["torchaudio"])
    assert not problems, f"{image.ref} does not hold a real release pairing:\n  " + "\n  ".join(problems)
