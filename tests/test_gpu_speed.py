"""The GPU runs at the machine's speed in the image: a bf16 matmul and a copy from pinned host
memory to the GPU (what a DataLoader with pin_memory relies on) reach images.yaml's share
(gpu.min_host_share) of the same work on the host itself, on the same GPU, in the same run.
A low share is measured again, both sides, before it fails; every attempt is evidence."""
import json

import pytest

from imagecheck.check import could_not_run, explain, fail, record_perf
from imagecheck.image.host_figure import host_gpu_rates
from imagecheck.rules import machine_share
from imagecheck.rules.machine_share import Attempt

pytestmark = [pytest.mark.gpu, pytest.mark.slow, pytest.mark.measures]

ARGS = json.dumps({"matmul_size": 8192, "matmul_runs": 10, "copy_bytes": 1 << 30, "copy_runs": 10, "warmup": 3})
# figure -> (the probe's key, its unit as perf keys write it, as messages write it, what was timed)
FIGURES = {"matmul": ("matmul_bf16_tflops", "tflops", "TFLOP/s", "an 8192 x 8192 x 8192 bf16 matmul"),
           "h2d": ("h2d_pinned_gbps", "gbps", "GB/s", "a 1 GiB copy from pinned host memory to the GPU")}


def _rates(image, attempt: int) -> tuple[dict, dict | None, str | None]:
    """(the container's rates, the host's twin or None, why not) of one attempt, each made once."""
    index = image.gpu.indices[0]

    def measure() -> tuple[dict, dict | None, str | None]:
        image.quiet()  # the image's background work ends before anything is timed
        mine = image.probe("gpu_rates", ARGS, timeout=image.spec.timeouts.probe).data
        if not mine.get("ok"):
            fail(f"the GPU rates cannot be measured in {image.ref}: {mine.get('error')}")
        host = host_gpu_rates(index, ARGS, image.spec.timeouts.probe)
        return mine, host.rates, host.why_not

    return image.shared(("gpu-rates", attempt), measure)


def _judge(image, evidence, figure: str, hint: str) -> None:
    key, perf_unit, unit, what = FIGURES[figure]
    if image.gpu.shared:
        could_not_run("the GPU is shared with another xdist worker: no figure taken on it is the machine's",
                      {"kind": "exclusive_gpus"})
    floor = image.spec.gpu.min_host_share
    attempts: list[Attempt] = []
    why_not = None
    while not attempts or machine_share.needs_another(attempts, floor):
        mine, host, why_not = _rates(image, len(attempts) + 1)
        attempts.append(Attempt(mine.get(key), (host or {}).get(key)))
    evidence(f"gpu.{figure}.attempts", [a.as_evidence() for a in attempts])
    if all(a.container is None for a in attempts):  # the probe ran but gave no figure: the image's fault
        fail(explain(f"the {what} in {image.ref} gave no figure", expected=f"{key} in {unit}",
                     observed=f"the probe's result holds {', '.join(sorted(mine)) or 'nothing'}",
                     where="the gpu_rates probe in the container",
                     hint="the probe and this check disagree on the figure's name: report it"))
    top = machine_share.best(attempts)
    if attempts[0].container is not None:
        record_perf(evidence, f"gpu.{figure}", "rate", attempts[0].container, perf_unit)
    if top is None:
        could_not_run(f"the host's own {what} could not be measured: {why_not}", {"kind": "host_twin", "why": why_not})
    record_perf(evidence, f"gpu.{figure}", "host_share", round(top.share, 3), "x")
    problem = machine_share.shortfall(what, unit, attempts, floor, image.ref, hint)
    assert problem is None, problem


def test_bf16_matmul_runs_at_the_machines_speed(image, evidence, require_gpus):
    require_gpus(1)
    _judge(image, evidence, "matmul",
           "the image's torch or its cuBLAS is slower than the host's on the same GPU: a CUDA or cuBLAS older than "
           "the GPU's, or a CUBLAS_WORKSPACE_CONFIG / NVIDIA_TF32_OVERRIDE / CUDA_LAUNCH_BLOCKING in its environment")


def test_pinned_copy_to_the_gpu_runs_at_the_machines_speed(image, evidence, require_gpus):
    require_gpus(1)
    _judge(image, evidence, "h2d",
           "pinned memory in the container is slower than on the host: the container's memory limit or cgroup "
           "(images.yaml limits.memory), or CUDA_LAUNCH_BLOCKING / a small /dev/shm in the image's run options")
