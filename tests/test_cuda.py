"""CUDA in the image: the versions its torch is built with (checked on any host, from the
facts probe) and, with GPU access, what the GPU really does for it."""
import pytest

from imagecheck.check import fail, not_applicable
from imagecheck.image import preflight, probes
from imagecheck.rules.cuda_stack import arch_covers, wheel_checks
from imagecheck.rules.versions import matches

HARD_CODED_HINT = ("remove CUDA_VISIBLE_DEVICES from the image (ENV or entrypoint): the GPUs a container "
                   "gets are chosen at `docker run` (--gpus, NVIDIA_VISIBLE_DEVICES), and a hard-coded value "
                   "hides GPUs it was granted")


def _torch(image, facts) -> dict:
    if not facts.torch_readable:
        fail(f"torch does not import in {image.ref}, so its CUDA build cannot be read: "
             f"{(facts.torch or {}).get('error', 'see test_imports')}")
    return facts.torch


def _uuid(value) -> str | None:
    """A GPU UUID as 32 hex digits (nvidia-smi writes GPU-xxxxxxxx-..., torch without GPU-)."""
    digits = str(value or "").lower().removeprefix("gpu-").replace("-", "")
    return digits if len(digits) == 32 and all(c in "0123456789abcdef" for c in digits) else None


def _cuda_device(image) -> dict:
    """The cuda_device probe's result in the image's shared container (once per image; a
    failure is the same for every check)."""
    return image.probe_result("cuda_device", "cuda_device").data


# ---- the build: any host ---------------------------------------------------------------

@pytest.mark.facts
def test_torch_is_built_for_the_promised_cuda(image, facts, evidence):
    cuda = evidence("torch.version.cuda", _torch(image, facts).get("cuda"))
    if image.spec.cuda is None:
        not_applicable(f"images.yaml promises no CUDA version for {image.ref}")
    assert cuda is not None, (f"torch in {image.ref} is a CPU-only build (torch.version.cuda is None), "
                              f"images.yaml expects CUDA {image.spec.cuda}")
    assert matches(image.spec.cuda, cuda), f"torch in {image.ref} reports CUDA {cuda}, images.yaml expects {image.spec.cuda}"


@pytest.mark.facts
def test_cudnn_runtime_matches_its_compile_version(image, facts, evidence):
    torch = _torch(image, facts)
    runtime, compiled = torch.get("cudnn_runtime"), torch.get("cudnn_compiled")
    evidence("cudnn", {"runtime": runtime, "compiled": compiled})
    if torch.get("cuda") is None:
        not_applicable(f"torch in {image.ref} is a CPU-only build: no cuDNN")
    assert runtime and compiled, (f"cuDNN versions cannot be read from torch in {image.ref}: "
                                  f"{torch.get('cudnn_error', 'torch._C._cudnn reports nothing')}")
    assert runtime == compiled, (f"torch in {image.ref} was compiled against cuDNN {compiled} but loads cuDNN "
                                 f"{runtime} at run time\n  hint: another cuDNN shadows the one torch ships "
                                 "(LD_LIBRARY_PATH, a system libcudnn, or a different nvidia-cudnn wheel)")
    if image.spec.cudnn is not None:
        assert matches(image.spec.cudnn, runtime), (
            f"torch in {image.ref} loads cuDNN {runtime}, images.yaml expects {image.spec.cudnn}")


@pytest.mark.facts
def test_nccl_version_is_as_promised(image, facts, evidence):
    torch = _torch(image, facts)
    nccl = evidence("nccl.version", torch.get("nccl"))
    if image.spec.nccl is None:
        not_applicable(f"images.yaml promises no NCCL version for {image.ref}")
    assert nccl is not None, (f"torch in {image.ref} reports no NCCL ({torch.get('nccl_error', 'not built with it')}); "
                              f"images.yaml expects {image.spec.nccl}")
    assert matches(image.spec.nccl, nccl), f"torch in {image.ref} reports NCCL {nccl}, images.yaml expects {image.spec.nccl}"


@pytest.mark.facts
def test_cuda_libraries_agree_with_the_pip_wheels(image, facts, evidence):
    torch = _torch(image, facts)
    if torch.get("cuda") is None:
        not_applicable(f"torch in {image.ref} is a CPU-only build: no CUDA libraries")
    checks = wheel_checks(facts.distributions, torch)
    evidence("cuda_wheels", [c.describe() for c in checks])
    present = [c for c in checks if c.wheel is not None]
    if not present:
        not_applicable(f"no pip nvidia-* wheels in {image.ref}: its torch bundles or links its CUDA libraries "
                    "another way, so there is nothing to agree with")
    wrong = [c.describe() for c in present if not c.agrees]
    assert not wrong, (f"what torch loads in {image.ref} disagrees with the pip wheels installed beside it:\n  "
                       + "\n  ".join(wrong) + "\n  hint: a later pip step replaced a wheel torch pins; "
                       "`pip check` and `pip show torch` name the versions torch requires")


@pytest.mark.facts
def test_cuda_visible_devices_is_not_hard_coded(image, facts, evidence):
    env = dict(item.split("=", 1) for item in (image.config.get("Env") or []) if "=" in item)
    in_config = env.get("CUDA_VISIBLE_DEVICES")
    at_run_time = (_torch(image, facts).get("cuda_runtime") or {}).get("visible_devices_env")
    evidence("CUDA_VISIBLE_DEVICES", {"image_env": in_config, "in_container": at_run_time})
    assert in_config is None, (f"{image.ref} hard-codes CUDA_VISIBLE_DEVICES={in_config} in its environment "
                               f"(docker image Config.Env)\n  hint: {HARD_CODED_HINT}")
    assert at_run_time is None, (f"CUDA_VISIBLE_DEVICES={at_run_time} is set in a container of {image.ref} "
                                 f"although the suite never sets it\n  hint: {HARD_CODED_HINT}")


# ---- the GPU: hosts that grant one -------------------------------------------------------

@pytest.mark.gpu
def test_host_driver_runs_the_image_cuda(image, evidence, require_gpus):
    """The one check that judges the host preflight (the other GPU checks skip on a host
    problem, through require_gpus): it fails, naming the host, when the host cannot run the
    image's CUDA."""
    verdict = preflight.check(image.gpu, preflight.image_cuda(image))
    evidence("preflight", verdict.evidence())
    if not image.gpu.granted:
        require_gpus(1)  # no GPU granted: skips (fails under --require-gpu), saying so
    assert verdict.ok, verdict.message()


@pytest.mark.gpu
def test_cuda_is_available(image, facts, evidence, require_gpus):
    require_gpus(1)
    runtime = _torch(image, facts).get("cuda_runtime") or {}
    evidence("cuda.available", runtime.get("available"))
    assert runtime.get("available"), (
        f"torch.cuda.is_available() is False in {image.ref} although the container was granted "
        f"{image.gpu.granted} GPU(s) ({image.gpu.describe()})"
        + (f"; torch says: {runtime['error']}" if runtime.get("error") else "")
        + (f"\n  CUDA_VISIBLE_DEVICES={runtime['visible_devices_env']} is set in the container: "
           f"it hides the granted GPUs" if runtime.get("visible_devices_env") is not None else ""))


@pytest.mark.gpu
def test_device_count_equals_the_gpus_granted(image, facts, evidence, require_gpus):
    require_gpus(1)
    runtime = _torch(image, facts).get("cuda_runtime") or {}
    count = evidence("cuda.device_count", runtime.get("device_count"))
    evidence("cuda.devices", runtime.get("devices"))
    assert count == image.gpu.granted, (
        f"torch sees {count} GPU(s) in {image.ref}, the container was granted {image.gpu.granted} "
        f"({image.gpu.describe()})"
        + (f"\n  CUDA_VISIBLE_DEVICES={runtime['visible_devices_env']} is set in the container: {HARD_CODED_HINT}"
           if runtime.get("visible_devices_env") is not None else ""))


@pytest.mark.gpu
def test_a_one_gpu_grant_shows_exactly_that_gpu(image, evidence, require_gpus):
    require_gpus(1)
    index = image.gpu.indices[-1]
    subset = image.gpu.subset((index,))
    host = next((g for g in image.gpu.host_gpus if g.index == index), None)
    if subset.indices == image.gpu.indices:  # a one-GPU grant already: the shared container is that run
        seen = _cuda_device(image)
    else:
        with image.probe_container("gpu-subset", gpu=subset) as container:
            seen = probes.run(container, "cuda_device", timeout=image.spec.timeouts.probe).data
    evidence("gpu_subset", {"granted_host_index": index, "host_uuid": host.uuid if host else None,
                            "same_container_as_the_other_checks": subset.indices == image.gpu.indices,
                            "seen": seen.get("devices")})
    assert seen.get("device_count") == 1, (
        f"a container of {image.ref} granted only host GPU {index} sees {seen.get('device_count')} GPU(s)"
        + (f"\n  CUDA_VISIBLE_DEVICES={seen['visible_devices_env']} is set in it: {HARD_CODED_HINT}"
           if seen.get("visible_devices_env") is not None else ""))
    inside = _uuid(seen["devices"][0].get("uuid"))
    if host is not None and _uuid(host.uuid) and inside:
        assert inside == _uuid(host.uuid), (
            f"a container of {image.ref} granted host GPU {index} ({host.uuid}) sees {seen['devices'][0]['uuid']}")


@pytest.mark.gpu
def test_matmul_and_convolution_run_on_the_gpu(image, evidence, require_gpus):
    require_gpus(1)
    kernels = _cuda_device(image).get("kernels") or {}
    evidence("gpu.kernels", kernels)
    assert kernels.get("ok"), f"a matmul or convolution on the GPU fails in {image.ref}: {kernels.get('error')}"
    for name, limit in (("matmul", 1e-3), ("conv", 1e-2)):
        result = kernels[name]
        assert result["device"].startswith("cuda"), f"the {name} in {image.ref} ran on {result['device']}, not the GPU"
        assert result["relative_error"] <= limit, (
            f"the GPU {name} in {image.ref} differs from the CPU's by {result['relative_error']:.2e} (relative), "
            f"allowed {limit:.0e} (TF32 {'on' if result['tf32'] else 'off'})")


@pytest.mark.gpu
def test_arch_list_covers_the_device(image, facts, evidence, require_gpus):
    require_gpus(1)
    torch = _torch(image, facts)
    arch_list = torch.get("arch_list") or []
    devices = (torch.get("cuda_runtime") or {}).get("devices") or []
    evidence("cuda.arch_list", arch_list)
    evidence("cuda.capabilities", sorted({d["capability"] for d in devices}))
    assert devices, f"torch in {image.ref} sees no GPU, so its arch list cannot be compared (see test_cuda_is_available)"
    for device in devices:
        covered = arch_covers(arch_list, device["capability"])
        assert covered, (f"torch in {image.ref} is built for {', '.join(arch_list) or 'no GPU architecture'}, "
                         f"which does not cover {device['name']} (compute capability {device['capability']})\n  "
                         "hint: use a torch build whose CUDA version supports this GPU (Blackwell needs CUDA 12.8+)")
    if image.spec.gpu.compute_capability_min:
        low = min(devices, key=lambda d: tuple(int(p) for p in d["capability"].split(".")))
        assert arch_covers(arch_list, image.spec.gpu.compute_capability_min), (
            f"images.yaml says {image.ref} supports compute capability {image.spec.gpu.compute_capability_min} "
            f"and up, but its torch is built for {', '.join(arch_list)} (this host: {low['capability']})")


@pytest.mark.gpu
def test_nvidia_smi_runs_inside(image, evidence, require_gpus):
    require_gpus(1)
    smi = _cuda_device(image).get("nvidia_smi") or {}
    evidence("nvidia_smi", smi.get("rows") or smi.get("error"))
    assert smi.get("ok"), (f"nvidia-smi does not run in a container of {image.ref}: "
                           f"{smi.get('error') or smi.get('stderr') or 'exit code ' + str(smi.get('exit_code'))}"
                           f"\n  hint: in --gpu-mode devices the driver folder ({image.gpu.driver_dir}) is mounted "
                           "and its bin/ added to PATH; with the NVIDIA Container Toolkit, the 'utility' capability "
                           "(NVIDIA_DRIVER_CAPABILITIES) provides it")
    assert len(smi["rows"]) == image.gpu.granted, (
        f"nvidia-smi in {image.ref} lists {len(smi['rows'])} GPU(s), the container was granted {image.gpu.granted}")


@pytest.mark.gpu
def test_memory_observability_calls_work(image, evidence, require_gpus):
    require_gpus(1)
    memory = _cuda_device(image).get("memory") or {}
    evidence("cuda.memory", memory)
    assert memory.get("ok"), (f"memory_allocated/memory_reserved/_record_memory_history fail in {image.ref}: "
                              f"{memory.get('error')}")
    block = 256 * 2**20
    assert memory["allocated_delta"] >= block, (
        f"torch.cuda.memory_allocated() grew by {memory['allocated_delta']} bytes in {image.ref} after a "
        f"{block}-byte allocation")
    assert memory["reserved"] >= block, f"torch.cuda.memory_reserved() is {memory['reserved']} after a {block}-byte allocation"
    assert memory["trace_allocs"] >= 1, (
        f"torch.cuda.memory._record_memory_history recorded no allocation in {image.ref} "
        f"({memory['trace_entries']} trace entries)")
