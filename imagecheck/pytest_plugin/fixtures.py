"""The fixtures a check can use: image, facts, evidence, require_gpus, progress, services,
services_as_started, ddp_runs (`pytest --fixtures` lists them with these docstrings).

The image fixture is session-scoped and parametrized indirectly over the images under
test (hooks.pytest_generate_tests), so checks group by image and one container serves all
of an image's checks; the image's containers go when its checks end.
"""
from __future__ import annotations

from typing import Any, Callable

import docker.errors
import pytest
import requests.exceptions

from ..errors import DockerUnavailable, ImagecheckError
from ..image import description, preflight
from ..image import services as services_module
from ..image.ddp_runs import DistributedRuns
from ..image.facts import Facts
from ..image.under_test import ImageUnderTest
from ..runtime.lifecycle import sweep_leftovers
from . import progress as progress_module
from .evidence import Evidence
from .items import IMAGE_PARAM, image_ref
from .outcomes import could_not_run, fail, fail_for_the_host, skip_for
from .state import STATE
from .xdist import worker_id


@pytest.fixture(scope="session")
def _image_under_test(request: pytest.FixtureRequest):
    """The image under test (its reference is the indirect parameter); its containers go
    when its checks end, after its description is taken for the sign-off report."""
    state = request.config.stash[STATE]
    image = state.image(request.param)
    if state.swept is None:
        try:
            state.swept = sweep_leftovers(state.context.client, state.context.identity)
        except DockerUnavailable as error:
            pytest.exit(f"{error}\n  (no check can run without the engine; stopping)", returncode=1)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            pytest.exit(f"the Docker engine stopped answering while leftovers of earlier runs were removed: "
                        f"{type(error).__name__}: {str(error)[:300]}\n  (no check can run without the engine; "
                        "stopping)", returncode=1)
    try:
        yield image
    finally:
        try:
            if state.describe_images:
                state.descriptions[image.ref] = description.describe(image)
        finally:
            image.close()


assert _image_under_test.__name__ == IMAGE_PARAM  # the parameter name hooks and items read


@pytest.fixture(scope="session")
def image(_image_under_test: ImageUnderTest) -> ImageUnderTest:
    """The image under test: its reference, its promises (image.spec), its shared container
    and its facts (image.facts()). Tests that use it run once per image."""
    try:
        _image_under_test.docker_image
    except ImagecheckError as error:  # an absent image: every check errors with the hint
        fail(str(error))
    _image_under_test.begin()  # the facts probe and the companions, in the background
    return _image_under_test


class FactsOnFirstUse:
    """The image's Facts (image/facts.py), gathered on first use inside the check: a probe
    that cannot run fails the check (with the reason), not its setup."""

    def __init__(self, image: ImageUnderTest) -> None:
        self._image = image

    def __getattr__(self, name: str) -> Any:
        return getattr(self._image.facts(), name)


@pytest.fixture
def facts(image: ImageUnderTest) -> Facts:
    """Every read-only fact about the image (a typed view: facts.torch, facts.import_result(),
    facts.installed_version()...), gathered by one probe run per image and session."""
    return FactsOnFirstUse(image)  # type: ignore[return-value]


def _services(image: ImageUnderTest, *, ready: bool) -> services_module.Services:
    try:
        return services_module.for_checks(image, ready=ready)
    except services_module.ServicesUnavailable as error:
        skip_for(error)
    except ImagecheckError as error:
        fail(str(error))


@pytest.fixture
def services(image: ImageUnderTest) -> services_module.Services:
    """The image started with its own ENTRYPOINT and CMD, its listed ports published to free
    host ports (image/services.py), shared by the service checks of the image, every listed
    port answering. Skips when images.yaml lists no ports (does not apply) or the engine
    cannot publish them (cannot run here); fails with the reason when the services do not
    come up."""
    return _services(image, ready=True)


@pytest.fixture
def services_as_started(image: ImageUnderTest) -> services_module.Services:
    """The same shared services container as it came up, silent ports and all, for the
    checks that judge how each port answered (services.answers)."""
    return _services(image, ready=False)


@pytest.fixture
def evidence(record_property) -> Evidence:
    """Records what a check observed, for JUnit properties and the sign-off report,
    also when the check passes."""
    return Evidence(record_property)


@pytest.fixture
def progress(request: pytest.FixtureRequest) -> progress_module.Progress:
    """Progress lines for long steps, shown while output is captured (also under -n):
    progress("message"), or `with progress.step("torch.compile resnet50"):` (start, a
    heartbeat every 30 s, duration). Lines name the image under test."""
    return progress_module.Progress(request.config, image_ref(request.node) or "")


@pytest.fixture
def require_gpus(request: pytest.FixtureRequest, image: ImageUnderTest) -> Callable[[int], None]:
    """A function: require_gpus(n) skips (or fails under --require-gpu) when fewer than n
    GPUs are granted to the image's containers, or when the host cannot run the image's
    CUDA (a "host problem": old driver, no driver folder; the image is not blamed)."""
    state = request.config.stash[STATE]

    def require(count: int = 1) -> None:
        access = image.gpu
        if access.granted >= count:
            verdict = preflight.check(access, preflight.image_cuda(image))
            if verdict.ok:
                return
            request.node.user_properties.append(("host_problem", verdict.message()))
            reason, requirement = verdict.message(), {"kind": "host", "problems": list(verdict.problems)}
        else:
            reason = (f"needs {count} GPU(s), this host grants {access.granted} "
                      f"({access.describe().removeprefix('GPU access: ')})")
            requirement = {"kind": "gpus", "wanted": count, "granted": access.granted}
        (fail_for_the_host if state.fails_for_the_host else could_not_run)(reason, requirement)

    return require


@pytest.fixture
def ddp_runs(request: pytest.FixtureRequest, image: ImageUnderTest, require_gpus, progress,
             evidence) -> Callable[..., DistributedRuns]:
    """ddp_runs(nodes=1): the torchrun runs of this image on that many nodes (one per image
    and layout, shared by the checks of the distributed tier: image/ddp_runs.py)."""
    state = request.config.stash[STATE]

    def runs(nodes: int = 1) -> DistributedRuns:
        return DistributedRuns(image, require_gpus=require_gpus, progress=progress, evidence=evidence,
                               release=state.require_gpu, worker=worker_id(request.config) or "main", nodes=nodes)

    return runs
