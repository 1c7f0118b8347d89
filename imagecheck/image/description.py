"""What the sign-off records about an image and the host, beyond its checks.

- expectations(spec): what images.yaml promises and the sign-off policy;
- describe(image): reference, what was judged (the repository digest, else the image ID),
  ID, registry digests, size, creation date, labels, user,
  entrypoint and command (from the engine, credentials redacted: metadata()), and the
  versions seen inside (from the image's one `facts` probe). It is taken when the image's
  checks end, before its containers go (the plugin's image fixture), never by the report;
- describe_host(context): the host's GPUs, driver, the GPU access mode and Docker.

Everything returned is plain JSON (it travels from xdist workers to the controller).
"""
from __future__ import annotations

import importlib.metadata
import platform
import socket
from typing import Any

from ..config import ImageSpec
from ..errors import ImagecheckError
from ..rules import secrets
from ..rules.image_reference import judged_identity
from .run_context import RunContext
from .under_test import ImageUnderTest

PROMISED_KEYS = ("python", "torch", "torchvision", "torchaudio", "triton", "cuda", "cudnn", "nccl")


def expectations(spec: ImageSpec) -> dict[str, Any]:
    """What images.yaml promises and its sign-off policy, for the report."""
    return {"description": spec.description, "promised": {key: getattr(spec, key) for key in PROMISED_KEYS},
            "policy": {"required": list(spec.checks.required), "advisory": list(spec.checks.advisory),
                       "max_perf_drop": spec.regression.max_perf_drop}}


def metadata(attrs: dict) -> dict[str, Any]:
    """The engine's description of an image, fit for a report: its command, entrypoint and
    labels with every credential in them redacted (secrets.redact_text), as the checks
    show findings; a token baked into a label or a command line must not leak through the
    sign-off report that records it."""
    config = attrs.get("Config") or {}
    return {
        "id": attrs.get("Id"), "repo_digests": attrs.get("RepoDigests") or [], "size_bytes": attrs.get("Size"),
        "created": attrs.get("Created"), "architecture": attrs.get("Architecture"), "os": attrs.get("Os"),
        "user": config.get("User") or "", "entrypoint": _redacted_words(config.get("Entrypoint")),
        "cmd": _redacted_words(config.get("Cmd")),
        "labels": {name: secrets.redact_named(name, str(value)) for name, value in (config.get("Labels") or {}).items()},
    }


def _redacted_words(words: list[str] | str | None) -> list[str] | str | None:
    if words is None:
        return None
    if isinstance(words, str):
        return secrets.redact_text(words)
    return [secrets.redact_text(str(word)) for word in words]


def describe(image: ImageUnderTest) -> dict[str, Any]:
    """What the engine and the image's facts say about one image (errors are recorded)."""
    out: dict[str, Any] = {"ref": image.ref}
    try:
        attrs = image.docker_image.attrs
    except ImagecheckError as error:
        out["error"] = str(error)
        return out
    out["image"] = metadata(attrs)
    out["judged"] = judged_identity(image.reference, attrs.get("Id"), attrs.get("RepoDigests") or [])
    try:
        facts = image.facts()
    except ImagecheckError as error:
        out["facts_error"] = str(error)
        facts = None
    if facts is not None:
        out["versions"] = facts.versions()
        cuda = facts.cuda_runtime
        out["inside"] = {"cuda_available": cuda.get("available"), "devices": cuda.get("devices") or [],
                         "arch_list": facts.arch_list}
    out["session"] = {"containers_started": image.containers_started, "torch_imports": image.torch_imports}
    return out


def describe_host(context: RunContext) -> dict[str, Any]:
    """The host: name, OS, GPUs and driver, the GPU access mode, the Docker engine."""
    gpu = context.gpu
    out: dict[str, Any] = {
        "hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
        "pytest": importlib.metadata.version("pytest"),
        "gpus": [{"index": g.index, "name": g.name, "driver": g.driver, "memory_mib": g.memory_mib}
                 for g in gpu.host_gpus],
        "driver": gpu.driver_version,
        "gpu_access": {"mode": gpu.mode, "reason": gpu.reason, "granted": gpu.granted,
                       "indices": list(gpu.indices), "summary": gpu.describe()},
    }
    try:
        client = context.client
        version = client.version()
        info = client.info()
        out["docker"] = {"version": version.get("Version"), "api_version": version.get("ApiVersion"),
                         "os": info.get("OperatingSystem"), "kernel": info.get("KernelVersion"),
                         "storage_driver": info.get("Driver"), "runtimes": sorted(info.get("Runtimes") or {})}
    except Exception as error:  # the engine may be gone; the report still says so
        out["docker"] = {"error": str(error).splitlines()[0] if str(error) else type(error).__name__}
    return out
