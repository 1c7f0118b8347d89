"""Data on mounts, as the articles run the image: a dataset folder of the host mounted
read-only at /data and a checkpoint folder mounted writable at /workspace/checkpoints.

The folders are temporary folders of the host: the dataset holds a few files made here;
the checkpoint folder is made writable by the image's user (chown to its uid when the
suite runs as root, else mode 0777). Everything the container wrote is removed afterwards
from inside, as root, so files owned by another uid do not stay behind on the host.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets as random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import docker.errors
import requests.exceptions

from ..errors import ImagecheckError
from ..runtime.container import Container
from ..runtime.engine import engine_is_local
from .under_test import ImageUnderTest

DATA_MOUNT = "/data"
CHECKPOINT_MOUNT = "/workspace/checkpoints"
DATA_FILES = {"README.txt": b"imagecheck dataset fixture\n", "train/class-a/sample-0.bin": os.urandom(4096)}
# What the container must read back from each dataset file (the probe compares digests).
DATA_DIGESTS = {name: hashlib.sha256(data).hexdigest() for name, data in DATA_FILES.items()}


class MountsUnavailable(ImagecheckError):
    """Host folders cannot be mounted into this engine's containers (it is not on this host)."""

    requirement = {"kind": "local_engine"}  # what this host lacks, for the sign-off


@dataclass
class MountedFolders:
    """A container with the two mounts, and the host folders behind them."""

    container: Container
    data: Path
    checkpoints: Path
    checkpoint_owner: str


@contextlib.contextmanager
def mounted_folders(image: ImageUnderTest, uid: int | None, gid: int | None) -> Iterator[MountedFolders]:
    """An idle container of the image (its default user) with the dataset and checkpoint mounts."""
    if not engine_is_local():
        raise MountsUnavailable(f"DOCKER_HOST is {os.environ.get('DOCKER_HOST')}: host folders of this machine "
                                "cannot be mounted into that engine's containers")
    data = Path(tempfile.mkdtemp(prefix="imagecheck-data-"))
    checkpoints = Path(tempfile.mkdtemp(prefix="imagecheck-checkpoints-"))
    container = None
    try:
        for name, content in DATA_FILES.items():
            path = data / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        for folder, dirs, files in os.walk(data):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        if os.geteuid() == 0 and uid is not None:
            os.chown(checkpoints, uid, gid if gid is not None else uid)
            os.chmod(checkpoints, 0o755)
            owner = f"chown {uid}:{gid if gid is not None else uid}, mode 0755"
        else:
            os.chmod(checkpoints, 0o777)
            owner = "mode 0777 (the suite does not run as root, so it cannot chown)"
        volumes = {str(data): {"bind": DATA_MOUNT, "mode": "ro"},
                   str(checkpoints): {"bind": CHECKPOINT_MOUNT, "mode": "rw"}}
        container = image.idle_container("mounts", gpu=image.no_gpu, network_mode="none", volumes=volumes)
        container.__enter__()
        yield MountedFolders(container, data, checkpoints, owner)
    finally:
        try:
            if container is not None and container.id:
                # files the container's users wrote (the host user may not remove them)
                with contextlib.suppress(ImagecheckError, docker.errors.DockerException,
                                         requests.exceptions.RequestException):
                    container.exec(["/bin/sh", "-c", f"find {CHECKPOINT_MOUNT} -mindepth 1 -delete"],
                                   timeout=image.spec.timeouts.command, user="0")
                container.remove()
        finally:  # the host folders go even when the engine failed to remove the container
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(checkpoints, ignore_errors=True)


def checkpoint_text() -> tuple[str, str]:
    """A checkpoint file name and content unique to this run."""
    token = random.token_hex(8)
    return f"imagecheck-{token}.ckpt", f"imagecheck checkpoint {token}\n"
