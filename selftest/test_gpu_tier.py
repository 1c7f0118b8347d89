"""The GPU tier's checks (tests/test_cuda.py, test_compile.py, test_dataloader.py,
test_onnx.py) on this CPU-only host, with real Docker and the fixture images:

- the reference passes every check that can run without a GPU (the CUDA build, NCCL and
  cuDNN versions against images.yaml and the nvidia-* wheels, torch.compile on CPU, the
  DataLoader under both /dev/shm sizes, ONNX export) and skips each GPU check with a reason;
- under --require-gpu every GPU check fails instead, saying why;
- each negative control fails its own check and no other: no-compiler the CPU compile
  check (saying the image has no compiler), cuda-visible-devices the environment check.
  What a hard-coded CUDA_VISIBLE_DEVICES does to a container that is granted a GPU (it
  sees none) can only be shown on a GPU host: docs/gpu.md records that run.
- a host that cannot run the image's CUDA (here: a GPU asked for that the host lacks, a
  driver folder without libcuda) fails the preflight check, naming the host, and only it:
  the other GPU checks skip with the same host problem;
- each image needs one container besides its probe container: the DataLoader under
  Docker's default /dev/shm (every other probe of the tier runs in the probe container).

The pure logic behind the checks (driver floors, arch coverage, wheel agreement, the
toolchain message, the /dev/shm verdict) is tested on its own at the end.
"""
import json

import pytest

from helpers import REFERENCE, checks_of, run_inner

from imagecheck.image import preflight
from imagecheck.rules import shm
from imagecheck.config import DataLoaderSpec, RunOptions
from imagecheck.rules.cuda_stack import arch_covers, wheel_checks
from imagecheck.runtime.gpu import GpuAccess
from imagecheck.rules.toolchain import explain_missing

NO_COMPILER = "pytorch-cuda:v2.6-no-compiler"
HARD_CODED = "pytorch-cuda:v2.6-cuda-visible-devices"
REFS = (REFERENCE, NO_COMPILER, HARD_CODED)
GPU_TIER = ("tests/test_cuda.py", "tests/test_compile.py", "tests/test_dataloader.py", "tests/test_onnx.py")
FOUNDATION = ("tests/test_imports.py", "tests/test_versions.py", "tests/test_release_pairing.py",
              "tests/test_pip_check.py", "tests/test_shared_libraries.py")
GPU_CHECKS = {"test_host_driver_runs_the_image_cuda", "test_cuda_is_available",
              "test_device_count_equals_the_gpus_granted", "test_a_one_gpu_grant_shows_exactly_that_gpu",
              "test_matmul_and_convolution_run_on_the_gpu", "test_arch_list_covers_the_device",
              "test_nvidia_smi_runs_inside", "test_memory_observability_calls_work",
              "test_compiled_models_match_eager_on_cuda"}
NO_GPU_REASON = "needs 1 GPU(s), this host grants 0"


def of(names, ref):
    return checks_of(names, ref, REFS)


def base(name):
    return name.split("[", 1)[0]


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory, docker_client, fixture_image):
    for ref in REFS:
        fixture_image(ref)
    args = [a for ref in REFS for a in ("--image", ref)]
    workdir = tmp_path_factory.mktemp("gpu-tier")
    return run_inner(workdir, *args, "--signoff-report", str(workdir / "report"),
                                tests=GPU_TIER + FOUNDATION)


@pytest.fixture(scope="module")
def require_gpu_run(tmp_path_factory, docker_client, fixture_image):
    fixture_image(REFERENCE)
    return run_inner(tmp_path_factory.mktemp("require-gpu"), "--image", REFERENCE, "--require-gpu",
                                "-m", "gpu", tests=GPU_TIER)


# ---- on this CPU-only host ----------------------------------------------------------------

def test_this_host_grants_no_gpu(cpu_run):
    assert "GPU access: none" in cpu_run.stdout, cpu_run.stdout[:2000]


def test_reference_passes_what_runs_without_a_gpu_and_skips_the_rest(cpu_run):
    mine = {n: o for n, o in cpu_run.outcomes.items() if n in of(cpu_run.outcomes, REFERENCE)}
    assert {base(n) for n in mine} >= GPU_CHECKS | {"test_compiled_models_match_eager_on_cpu"}
    not_passed = {n: o.message[:300] for n, o in mine.items() if o.outcome != "passed" and base(n) not in GPU_CHECKS}
    assert not_passed == {}
    gpu = {n: o for n, o in mine.items() if base(n) in GPU_CHECKS}
    assert {o.outcome for o in gpu.values()} == {"skipped"}
    assert all(NO_GPU_REASON in o.message for o in gpu.values()), {n: o.message[:200] for n, o in gpu.items()}


def test_every_image_skips_its_gpu_checks_with_a_reason(cpu_run):
    for ref in REFS:
        gpu = {n: o for n, o in cpu_run.outcomes.items() if n in of(cpu_run.outcomes, ref) and base(n) in GPU_CHECKS}
        assert len(gpu) == len(GPU_CHECKS), ref
        assert all(o.outcome == "skipped" and NO_GPU_REASON in o.message for o in gpu.values()), ref


def test_compile_runs_on_cpu_for_the_reference(cpu_run):
    name = f"test_compiled_models_match_eager_on_cpu[{REFERENCE}]"
    assert cpu_run.outcomes[name].outcome == "passed", cpu_run.message(name)[:1500]


def test_no_compiler_image_fails_only_the_compile_check(cpu_run):
    failed = of(cpu_run.names("failed") | cpu_run.names("error"), NO_COMPILER)
    assert failed == {f"test_compiled_models_match_eager_on_cpu[{NO_COMPILER}]"}
    message = cpu_run.message(f"test_compiled_models_match_eager_on_cpu[{NO_COMPILER}]")
    for reason in ("torch.compile cannot build kernels on CPU", "the image has no C++ compiler",
                   "nor a C compiler", "install g++"):
        assert reason in message, f"{reason!r} not in:\n{message[:1500]}"


def test_hard_coded_cuda_visible_devices_fails_only_the_environment_check(cpu_run):
    failed = of(cpu_run.names("failed") | cpu_run.names("error"), HARD_CODED)
    assert failed == {f"test_cuda_visible_devices_is_not_hard_coded[{HARD_CODED}]"}
    message = cpu_run.message(f"test_cuda_visible_devices_is_not_hard_coded[{HARD_CODED}]")
    assert "hard-codes CUDA_VISIBLE_DEVICES=1" in message and "--gpus" in message, message[:1500]


def test_only_docker_default_shm_needs_a_container_besides_the_probe_container(cpu_run):
    # the documented-options DataLoader run, compile, ONNX and the CUDA facts all use the probe container
    report = json.loads((cpu_run.workdir / "report" / "report.json").read_text())
    started = {image["ref"]: image["session"]["containers_started"] for image in report["images"]}
    assert started == {ref: 2 for ref in REFS}, started


def test_require_gpu_turns_every_gpu_skip_into_a_failure(require_gpu_run):
    outcomes = require_gpu_run.outcomes
    assert {base(n) for n in outcomes} == GPU_CHECKS
    assert {o.outcome for o in outcomes.values()} == {"failed"}
    assert all(NO_GPU_REASON in o.message and "--require-gpu" in o.message for o in outcomes.values())
    assert require_gpu_run.ret == 1


def test_a_host_problem_fails_the_preflight_check_and_skips_the_other_gpu_checks(tmp_path, fixture_image):
    fixture_image(REFERENCE)
    driver = tmp_path / "driver-without-libcuda"
    driver.mkdir()
    preflight_check, other = "test_host_driver_runs_the_image_cuda", "test_matmul_and_convolution_run_on_the_gpu"
    run = run_inner(tmp_path, "--image", REFERENCE, "--gpu-mode", "devices", "--gpus", "0,1",
                               "--gpu-driver-dir", str(driver), "-k", f"{preflight_check} or {other}",
                               tests=("tests/test_cuda.py",))
    assert {base(n): o.outcome for n, o in run.outcomes.items()} == {preflight_check: "failed", other: "skipped"}, \
        run.stdout[-3000:]
    for name in run.outcomes:
        message = run.message(name)
        assert "host problem: GPU(s) asked for with --gpus are not on this host: /dev/nvidia0, /dev/nvidia1" in message, message
        assert f"{driver} has no lib64/libcuda.so" in message and "the image is not at fault" in message


# ---- the logic behind the checks -------------------------------------------------------------

def _access(driver, mode="toolkit"):
    return GpuAccess(mode, "test", (0,), "/nonexistent-driver-dir", (), driver)


@pytest.mark.parametrize("driver, cuda, ok", [
    ("580.159.04", "13.0", True), ("575.57.08", "13.0", False), ("525.60.13", "12.4", True),
    ("470.82.01", "12.4", False), ("470.82.01", "11.8", True), ("450.80.02", "11.8", True),
    ("450.57", "11.8", False), (None, "12.4", True)])
def test_driver_floor_decides_host_problems(driver, cuda, ok):
    verdict = preflight.check(_access(driver), cuda)
    assert verdict.ok is ok
    if not ok:
        assert verdict.message().startswith("host problem: the host's NVIDIA driver")
        assert "the image is not at fault" in verdict.message()


def test_devices_mode_without_a_driver_folder_is_a_host_problem():
    verdict = preflight.check(_access("580.159.04", mode="devices"), "13.0")
    assert not verdict.ok
    assert any("/nonexistent-driver-dir has no lib64/libcuda.so" in p for p in verdict.problems)


@pytest.mark.parametrize("arch_list, capability, covered", [
    (["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"], "9.0", "sm_90"),
    (["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"], "8.9", "sm_86"),
    (["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"], "10.0", None),
    (["sm_75", "sm_80", "sm_90", "sm_100", "sm_120"], "12.0", "sm_120"),
    (["sm_90a"], "9.0", "sm_90a"), (["sm_90a"], "10.0", None), (["sm_80", "compute_90"], "12.0", "compute_90"),
    ([], "9.0", None)])
def test_arch_coverage(arch_list, capability, covered):
    assert arch_covers(arch_list, capability) == covered


def test_wheel_agreement():
    torch = {"cuda": "12.4", "cudnn_runtime": "9.1.0", "nccl": "2.21.5"}
    good = {"nvidia-cuda-runtime-cu12": "12.4.127", "nvidia-cudnn-cu12": "9.1.0.70", "nvidia-nccl-cu12": "2.21.5"}
    assert all(c.agrees for c in wheel_checks(good, torch))
    bad = wheel_checks({**good, "nvidia-nccl-cu12": "2.20.5"}, torch)
    assert [c.library for c in bad if not c.agrees] == ["NCCL"]
    assert "DISAGREES" in bad[2].describe()
    cuda13 = {"nvidia-cuda-runtime": "13.0.96", "nvidia-cudnn-cu13": "9.19.0.56", "nvidia-nccl-cu13": "2.28.9"}
    assert all(c.agrees for c in wheel_checks(cuda13, {"cuda": "13.0", "cudnn_runtime": "9.19.0", "nccl": "2.28.9"}))
    assert all(c.wheel is None for c in wheel_checks({}, torch))


def test_toolchain_messages_say_exactly_what_is_missing():
    assert explain_missing("img", {"c_compiler": "/usr/bin/cc", "cxx_compiler": "/usr/bin/g++", "python_h": True},
                           "cuda") is None
    cpu = explain_missing("img", {"c_compiler": None, "cxx_compiler": None, "python_h": True}, "cpu")
    assert "no C++ compiler" in cpu and "nor a C compiler" in cpu
    headers = explain_missing("img", {"c_compiler": "/usr/bin/cc", "cxx_compiler": None, "python_h": False,
                                      "include_dir": "/usr/include/python3.12"}, "cuda")
    assert "no Python headers (Python.h is not in /usr/include/python3.12)" in headers
    assert "C compiler" not in headers


def test_shm_verdicts_name_the_option_the_image_needs():
    spec = DataLoaderSpec()
    ok, bus = {"ok": True}, {"ok": False, "error": "RuntimeError: DataLoader worker (pid 9) is killed by signal: Bus error"}
    assert shm.in_flight_mib(spec) == 256
    documented = shm.judge("img", spec, RunOptions(shm_size="8g"), ok, bus, None)
    assert documented.ok and "needs --shm-size 8g, which images.yaml documents" in documented.finding
    undocumented = shm.judge("img", spec, RunOptions(), bus, None, ok)
    assert not undocumented.ok and "works with --shm-size 1g" in undocumented.finding
    assert "run_options: {shm_size: 1g}" in undocumented.finding
    assert shm.judge("img", spec, RunOptions(), ok, None, None).ok
    too_small = shm.judge("img", spec, RunOptions(shm_size="128m"), bus, None, ok)
    assert not too_small.ok and "documented --shm-size 128m" in too_small.finding
