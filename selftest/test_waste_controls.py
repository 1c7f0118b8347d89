"""The wasted-space checks against real images: the reference carries nothing for nothing;
its controls each fail exactly their own check among the suite's fact and size checks (a
later `chmod -R` over site-packages: the dead-bytes check; a pip install that left its
download in pip's cache: the cache check), each message naming the layer, the build step,
the biggest paths and the fix; the layers are read from the engine (no Docker internals
asserted beyond which way they were read)."""
import pytest

from helpers import REFERENCE, checks_of, junit_cases, run_inner

CHMOD = "pytorch-cuda:v2.6-chmod-site-packages"
PIP_CACHE = "pytorch-cuda:v2.6-pip-cache"
IMAGES = (REFERENCE, CHMOD, PIP_CACHE)
# the checks that read facts, and the size and wasted-space checks
FACT_AND_SIZE = ("tests/test_imports.py", "tests/test_versions.py", "tests/test_release_pairing.py",
                 "tests/test_pip_check.py", "tests/test_shared_libraries.py", "tests/test_users.py",
                 "tests/test_filesystem.py", "tests/test_image_size.py", "tests/test_wasted_space.py")
DEAD = "test_no_layer_carries_dead_bytes"
CACHE = "test_no_package_cache_is_left_behind"


@pytest.fixture(scope="module")
def controls(tmp_path_factory, fixture_image):
    for ref in IMAGES:
        fixture_image(ref)
    images = [arg for ref in IMAGES for arg in ("--image", ref)]
    return run_inner(tmp_path_factory.mktemp("waste-controls"), *images, tests=FACT_AND_SIZE, timeout=1800)


def failed(run, ref):
    return checks_of(run.names("failed") | run.names("error"), ref, IMAGES)


def test_the_reference_carries_nothing_for_nothing(controls):
    assert failed(controls, REFERENCE) == set(), {n: controls.message(n)[:600] for n in failed(controls, REFERENCE)}
    for check in (DEAD, CACHE):
        assert controls.outcomes[f"{check}[{REFERENCE}]"].outcome == "passed"


def test_a_recursive_chmod_over_site_packages_fails_only_the_dead_bytes_check(controls):
    assert failed(controls, CHMOD) == {f"{DEAD}[{CHMOD}]"}, {n: controls.message(n)[:400] for n in failed(controls, CHMOD)}
    message = controls.message(f"{DEAD}[{CHMOD}]")
    for phrase in (f"{CHMOD} carries ", "GB of bytes that later layers made dead",
                   "expected: at most 16.0 MB (images.yaml size.max_waste_mb: 16)",
                   "- layer 6 (`RUN chmod -R g+w /opt/venv/lib/python3.11/site-packages`) re-permissioned ",
                   "that layer 4 (`RUN python3 -m venv", "under /opt/venv/lib/python3.11/site-packages: ",
                   "torch/lib/libtorch_cuda.so (", "where: layer 6 (`RUN chmod -R g+w",
                   "hint: set owner and mode where the files are written"):
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_a_pip_cache_fails_only_the_cache_check(controls):
    assert failed(controls, PIP_CACHE) == {f"{CACHE}[{PIP_CACHE}]"}, \
        {n: controls.message(n)[:400] for n in failed(controls, PIP_CACHE)}
    message = controls.message(f"{CACHE}[{PIP_CACHE}]")
    for phrase in (f"{PIP_CACHE} carries 3.1 MB of package managers' caches",
                   "expected: at most 1.0 MB (images.yaml size.max_cache_mb: 1)",
                   "- layer 7 (`RUN python3 /tmp/install_from_index.py && rm /tmp/install_from_index.py`) left 3.1 MB "
                   "of pip cache in 2 file(s) under /root/.cache/pip/http",
                   "hint: pip install --no-cache-dir"):
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_the_layers_are_read_once_per_image_and_say_how(controls):
    cases = {case.name: case for case in junit_cases(next(controls.workdir.glob("junit-*.xml")))}
    for ref in IMAGES:
        dead, cache = cases[f"{DEAD}[{ref}]"].properties, cases[f"{CACHE}[{ref}]"].properties
        assert dead["waste.read_from"] == cache["waste.read_from"]
        assert dead["waste.read_from"].startswith(("the engine's layer folders", "the `docker save` stream"))
        assert isinstance(dead["waste.dead_bytes"], int) and isinstance(cache["waste.cache_bytes"], int)
    assert cases[f"{DEAD}[{REFERENCE}]"].properties["waste.dead_bytes"] < 16_000_000
