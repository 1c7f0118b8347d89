"""The image weighs no more than its size budget (images.yaml `size.max_gb`) and grew no more
than allowed against the baseline image (`size.max_growth`, with --baseline). Its layers,
with the build step that made each, are evidence for the report's Layers section."""
import pytest

from imagecheck.check import ImagecheckError, fail, not_applicable
from imagecheck.image import layers as image_layers
from imagecheck.rules import size_budget
from imagecheck.rules.layers import EVIDENCE as LAYERS_EVIDENCE
from imagecheck.signoff import baseline as baseline_module


@pytest.fixture
def baseline_image(request, image):
    """The baseline report's image to compare with (--baseline), or None without one."""
    path = request.config.getoption("--baseline")
    if not path:
        return None
    try:
        return baseline_module.match(baseline_module.load(path), image.ref)
    except ImagecheckError as error:
        fail(str(error))


def test_image_size_is_within_budget(image, evidence, baseline_image):
    size = int(image.docker_image.attrs.get("Size") or 0)
    layers = image_layers.of(image)
    evidence("size.bytes", size)
    evidence(LAYERS_EVIDENCE, [layer.to_json() for layer in layers])
    budget = image.spec.size
    baseline_size = baseline_image.image.size_bytes if baseline_image and baseline_image.image else None
    if budget.max_gb is None and baseline_size is None:
        not_applicable("images.yaml sets no size.max_gb for this image and no --baseline report "
                       "holds an image to compare its size with")
    problems = [size_budget.over_budget(image.ref, size, budget.max_gb, layers)]
    if baseline_size is not None:
        evidence("size.baseline_bytes", baseline_size)
        evidence("size.growth", round(size / baseline_size - 1, 4) if baseline_size else None)
        content = baseline_image.content
        baseline_layers = content.layers if content is not None else None
        problems.append(size_budget.over_growth(image.ref, size, layers, baseline_image.ref, baseline_size,
                                                baseline_layers, budget.max_growth))
    problems = [p for p in problems if p]
    if problems:
        fail("\n".join(problems))
