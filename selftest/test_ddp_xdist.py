"""With `pytest -n 2` and two images, each image's distributed checks run on one worker
(its torchrun run happens once, there) and the two images run on different workers at
the same time. Each worker's share of the GPUs (disjoint with at least as many GPUs as
workers, shared and marked so with fewer) is tested as logic only in test_ddp_logic.py
(this host has none); the runs' evidence records the GPUs each node got."""
import pytest

from ddp_runs import ON_GPUS_ONLY, SINGLE, junit_cases, names, run_evidence
from helpers import REFERENCE, run_inner

OTHER = "pytorch-cuda:v2.6-cuda-visible-devices"  # any second image whose torchrun works on CPU


@pytest.fixture(scope="module")
def xdist_run(tmp_path_factory, fixture_image):
    for ref in (REFERENCE, OTHER):
        fixture_image(ref)
    return run_inner(tmp_path_factory.mktemp("ddp-xdist"), "-n", "2", "--image", REFERENCE,
                                "--image", OTHER, tests=("tests/test_ddp.py",), timeout=1200)


def test_both_images_pass_the_single_node_checks_under_xdist(xdist_run):
    on_cpu = SINGLE - ON_GPUS_ONLY
    expected = names(REFERENCE, on_cpu) | names(OTHER, on_cpu)
    assert xdist_run.names("passed") == expected, xdist_run.stdout[-4000:]
    assert xdist_run.names("skipped") == names(REFERENCE, SINGLE & ON_GPUS_ONLY) | names(OTHER, SINGLE & ON_GPUS_ONLY)


def test_each_image_runs_on_one_worker_and_the_images_on_different_workers(xdist_run):
    cases = junit_cases(xdist_run.workdir)
    workers = {}
    for ref in (REFERENCE, OTHER):
        seen = {cases[n]["properties"]["ddp.run"]["worker"] for n in names(ref, SINGLE)}
        assert len(seen) == 1 and seen != {"main"}, f"{ref}'s checks ran on workers {seen}"
        workers[ref] = seen.pop()
    assert workers[REFERENCE] != workers[OTHER], workers
    runs = run_evidence(cases)
    assert len(runs) == 2, f"expected one torchrun run per image, found {len(runs)}"
