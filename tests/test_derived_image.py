"""The image can be extended: FROM it, pip install one package; the result still works."""
import pytest

from imagecheck import probes
from imagecheck.derived import MARKER_MODULE, derived_image
from imagecheck.errors import ImagecheckError
from imagecheck.observed import import_failure
from imagecheck.runtime.docker import Container


@pytest.mark.slow
def test_derived_image_still_imports(image, evidence, progress):
    timeout = image.spec.timeouts.probe
    try:
        with progress.step("derived image: FROM it, pip install of one package, imports"), \
                derived_image(image, timeout) as tag:
            labels = image.context.identity.labels(tag, "derived")
            with Container(image.context.client, tag, labels=labels, entrypoint=["sleep"],
                           command=["infinity"], init=True) as container:
                probes.install(container)
                stack = probes.run(container, "python_stack", [MARKER_MODULE], timeout=timeout).data
                user = container.reload()["Config"].get("User") or ""
    except ImagecheckError as error:
        pytest.fail(str(error), pytrace=False)
    imports = stack["imports"]
    evidence("derived.imports", {name: r["ok"] for name, r in imports.items()})
    failed = [f"{name}: {import_failure(r)}" for name, r in imports.items() if not r["ok"]]
    assert not failed, f"after `pip install` of one package FROM {image.ref}, imports fail:\n  " + "\n  ".join(failed)
    expected_user = image.config.get("User") or ""
    assert user == expected_user, (f"the derived image runs as {user or 'root'!r}, "
                                   f"{image.ref} runs as {expected_user or 'root'!r}")
