"""The foundation's checks against the two images the project builds: the reference image
passes every one; the articles' recipe fails exactly the checks its torch downgrade
breaks, each saying why; and every image gets ONE probe container, however many checks."""
import json

import pytest

from helpers import REFERENCE, SEEDRECIPE, checks_of, run_inner

FOUNDATION = ("tests/test_imports.py", "tests/test_versions.py", "tests/test_release_pairing.py",
              "tests/test_pip_check.py", "tests/test_shared_libraries.py", "tests/test_derived_image.py")
CHECKS_PER_IMAGE = 16


@pytest.fixture(scope="module")
def both_images(tmp_path_factory, docker_client, fixture_image):
    fixture_image(REFERENCE)
    fixture_image(SEEDRECIPE)
    workdir = tmp_path_factory.mktemp("foundation")
    return run_inner(workdir, "--image", REFERENCE, "--image", SEEDRECIPE, "--signoff-report", str(workdir / "report"),
                     tests=FOUNDATION)


def of(names, ref):
    return checks_of(names, ref, (REFERENCE, SEEDRECIPE))


def test_reference_image_passes_every_foundation_check(both_images):
    assert len(of(both_images.outcomes, REFERENCE)) == CHECKS_PER_IMAGE
    not_passed = {n: o.message[:400] for n, o in both_images.outcomes.items()
                  if n in of(both_images.outcomes, REFERENCE) and o.outcome != "passed"}
    assert not_passed == {}


def test_seedrecipe_fails_exactly_what_the_downgrade_breaks(both_images):
    failed = of(both_images.names("failed"), SEEDRECIPE)
    assert failed == {f"test_version_is_as_promised[{SEEDRECIPE}-torch]",
                      f"test_version_is_as_promised[{SEEDRECIPE}-torchvision]",
                      f"test_version_is_as_promised[{SEEDRECIPE}-triton]",
                      f"test_torch_stack_is_a_real_release_pairing[{SEEDRECIPE}]",
                      f"test_module_imports[{SEEDRECIPE}-torchaudio]",
                      f"test_pip_check_is_clean[{SEEDRECIPE}]"}
    assert both_images.ret == 1
    # its compiled extension is not judged twice: torchaudio does not import at all
    assert both_images.outcomes[f"test_torchaudio_extension_loads[{SEEDRECIPE}]"].outcome == "skipped"
    # extending it breaks nothing that worked: the derived image holds
    assert both_images.outcomes[f"test_derived_image_still_imports[{SEEDRECIPE}]"].outcome == "passed"


@pytest.mark.parametrize("check, reasons", [
    ("test_version_is_as_promised[{}-torch]", ["is 2.2.0+cu121, images.yaml expects 2.6.0",
                                              "torchvision 0.17.0+cu121 requires torch 2.2.x exactly", "downgraded"]),
    ("test_version_is_as_promised[{}-torchvision]", ["is 0.17.0+cu121, images.yaml expects 0.21.0"]),
    ("test_torch_stack_is_a_real_release_pairing[{}]", [
        "torchvision 0.17.0+cu121 cannot serve the promised torch 2.6.0: it belongs to torch 2.2",
        "torchaudio 2.6.0 does not pair with torch 2.2.0+cu121"]),
    ("test_module_imports[{}-torchaudio]", ["`import torchaudio` fails", "undefined symbol"]),
    ("test_pip_check_is_clean[{}]", ["torchaudio 2.6.0", "torch==2.6.0", "2.2.0"]),
])
def test_seedrecipe_failures_say_why(both_images, check, reasons):
    message = both_images.message(check.format(SEEDRECIPE))
    for reason in reasons:
        assert reason in message, f"{reason!r} not in:\n{message[:1500]}"


def test_each_image_gets_one_probe_container_for_all_its_checks(both_images):
    """Counted by the run itself (the sign-off report's session record: every container the
    image's checks started), not from the engine's event log, which a busy engine overruns."""
    report = json.loads((both_images.workdir / "report" / "report.json").read_text())
    for image in report["images"]:
        started = image["session"]["containers_started"]
        assert started == 1, f"{image['ref']}: {started} containers for {CHECKS_PER_IMAGE} checks"


def test_an_image_that_cannot_be_extended_fails_the_derived_check(tmp_path, fixture_image):
    ref = fixture_image("imagecheck-fixture/no-python:latest")
    run = run_inner(tmp_path, "--image", ref, tests=("tests/test_derived_image.py",))
    name = f"test_derived_image_still_imports[{ref}]"
    assert run.outcomes[name].outcome == "failed"
    # Extending it means `python3 -m pip install`: the image's python is tried first, once, and
    # its absence is the one cause every check that needs python reports.
    assert f"no python3 on PATH in {ref}" in run.message(name), run.message(name)[:800]


def test_a_missing_bundled_library_fails_only_the_shared_library_check(tmp_path, fixture_image):
    ref = fixture_image("pytorch-cuda:v2.6-missing-library")
    run = run_inner(tmp_path, "--image", ref, tests=FOUNDATION)
    assert run.names("failed") == {f"test_every_shared_library_resolves[{ref}]"}
    message = run.message(f"test_every_shared_library_resolves[{ref}]")
    assert "torchvision/image.so: libpng16" in message and "not found" in message


def test_a_library_shadowed_by_the_search_path_fails_only_the_search_order_check(tmp_path, fixture_image):
    """Other files named libnccl.so.2 (by ENV LD_LIBRARY_PATH) and libcudnn.so.9 (by an
    ld.so.conf.d file and ldconfig) come before torch's: torch still imports and every
    library resolves (by RPATH), only the search-order check sees the conflict."""
    ref = fixture_image("pytorch-cuda:v2.6-shadowed-library")
    run = run_inner(tmp_path, "--image", ref, tests=FOUNDATION)
    name = f"test_no_other_file_comes_before_a_library_torch_ships[{ref}]"
    assert run.names("failed") == {name}, {n: run.message(n)[:400] for n in run.names("failed")}
    message = run.message(name)
    for phrase in ("libnccl.so.2: /usr/local/nccl/lib/libnccl.so.2 comes first (put there by ENV LD_LIBRARY_PATH), "
                   "not torch's /opt/venv/lib/python3.11/site-packages/nvidia/nccl/lib/libnccl.so.2",
                   "libcudnn.so.9: /usr/local/cudnn/lib/libcudnn.so.9 comes first (put there by "
                   "/etc/ld.so.conf.d/cudnn.conf (ld.so cache))",
                   "are not the first file of their name in the loader's search order",
                   "hint: remove the folder from ENV LD_LIBRARY_PATH"):
        assert phrase in message, f"{phrase!r} not in:\n{message[:2000]}"
