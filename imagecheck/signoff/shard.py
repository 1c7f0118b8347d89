"""What a shard of a fleet sign-off says about itself, so a merge can tell which host ran
which check and refuse shards that did not judge the same thing: the host as the matrix
shows it (GPU model x count, driver, CUDA seen inside, Docker engine), and per image the
image ID, repository digests and a digest of its promises in images.yaml."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from typing import Any

from ..config import ImageSpec
from .model import HostSummary, ImageReport, ShardInfo

# what a host may set differently without promising anything else about the image
NOT_PROMISES = ("description", "run_by_default", "timeouts")


def promises_digest(spec: ImageSpec) -> str:
    """A digest of what images.yaml promises for an image (its entry, less the fields above)."""
    promises = {k: v for k, v in dataclasses.asdict(spec).items() if k not in NOT_PROMISES}
    text = json.dumps(promises, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _gpus(host: dict[str, Any]) -> str:
    names = Counter(str(g.get("name") or "GPU") for g in host.get("gpus") or [])
    return " + ".join(f"{name} x {count}" for name, count in names.items()) or "no GPU"


def _cuda(images: list[ImageReport]) -> str:
    """CUDA as the image saw it on this host: torch's CUDA version and whether it was usable."""
    for image in images:
        if image.versions is None and image.inside is None:
            continue
        version = (image.versions or {}).get("cuda") or "?"
        inside = image.inside or {}
        devices = len(inside.get("devices") or [])
        return (f"{version} available ({devices} device(s))" if inside.get("cuda_available")
                else f"{version} not available")
    return "–"


def host_summary(host: dict[str, Any], images: list[ImageReport]) -> HostSummary:
    """The host of a run as a matrix column."""
    docker = host.get("docker") or {}
    access = host.get("gpu_access") or {}
    engine = f"Docker {docker['version']}" if docker.get("version") else \
        f"Docker unreachable ({docker.get('error') or host.get('error') or 'not described'})"
    return HostSummary(hostname=str(host.get("hostname") or ""), gpus=_gpus(host),
                       gpu_count=len(host.get("gpus") or []),
                       granted=int(access.get("granted") or 0), driver=str(host.get("driver") or "–"),
                       cuda=_cuda(images), engine=engine)


def shard_info(name: str, host: dict[str, Any], images: list[ImageReport], suite_version: str,
               require_gpu: bool) -> ShardInfo:
    """What the shard of a run judged, and where."""
    judged = {image.ref: {"judged": image.judged, "id": image.image.id if image.image else None,
                          "repo_digests": list(image.image.repo_digests) if image.image else [],
                          "promises_digest": image.promises_digest} for image in images}
    return ShardInfo(name=name, host=host_summary(host, images), suite_version=suite_version,
                     require_gpu=require_gpu, images=judged)
