"""A derived image: the image under test plus one pip-installed package, as a user who
extends it would make it. Equivalent to this Dockerfile, built as one container and one
commit (a commit per Dockerfile step is slow on some storage drivers):

    FROM <image>
    USER root
    RUN python3 -m pip install --no-index --no-deps imagecheck_derived_marker-1.0-py3-none-any.whl
    USER <the image's user>

The package is a tiny wheel made here (no index, no network). The image keeps the
image's user, entrypoint and command (the engine fills what a commit leaves empty from the
builder container, so they are passed explicitly; a root image comes back as user "0"),
carries the run's labels, and is removed afterwards.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import zipfile
from typing import TYPE_CHECKING

import docker.errors

from ..errors import ImagecheckError, explain
from ..runtime.container import Container

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

MARKER_MODULE = "imagecheck_derived_marker"
MARKER_VERSION = "1.0"
WHEEL_NAME = f"{MARKER_MODULE}-{MARKER_VERSION}-py3-none-any.whl"
WHEEL_DIR = "/opt/imagecheck-derived"


def marker_wheel() -> bytes:
    """A valid pure-Python wheel holding one module."""
    files = {
        f"{MARKER_MODULE}/__init__.py": b"VALUE = 42\n",
        f"{MARKER_MODULE}-{MARKER_VERSION}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {MARKER_MODULE}\nVersion: {MARKER_VERSION}\n".encode(),
        f"{MARKER_MODULE}-{MARKER_VERSION}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: imagecheck\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record_name = f"{MARKER_MODULE}-{MARKER_VERSION}.dist-info/RECORD"
    rows = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    rows.append(f"{record_name},,")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr(record_name, "\n".join(rows) + "\n")
    return buffer.getvalue()


INSTALL = (f"python3 -m pip install --no-index --no-deps --disable-pip-version-check {WHEEL_DIR}/{WHEEL_NAME} "
           f"&& rm -rf {WHEEL_DIR}")


BUILT = "derived-image"


def start(image: "ImageUnderTest") -> None:
    """Begin building the derived image in the background (once per image and run)."""
    image.memo.start(BUILT, lambda: build(image, image.spec.timeouts.probe))


def tag(image: "ImageUnderTest") -> str:
    """The derived image's tag, built now if no one started it (its failure is kept)."""
    start(image)
    return image.memo.result(BUILT)


def build(image: "ImageUnderTest", timeout: float) -> str:
    """Make the derived image; its tag. It is removed when the image's checks end (close)."""
    image.require_python()  # pip is python: a python that cannot start has failed already, once
    begun = image.generation
    client = image.context.client
    identity = image.context.identity
    made = f"imagecheck-derived:{identity.run_id}-{hashlib.sha256(image.ref.encode()).hexdigest()[:8]}"
    original = image.config
    labels = identity.labels(image.ref, "derived")
    with Container(client, image.ref, labels=labels, user="0", entrypoint=["/bin/sh", "-c"],
                   command=[INSTALL], autostart=False, stay_up=False, network_mode="none",
                   **image.bounds()) as builder:
        builder.put_files(WHEEL_DIR, {WHEEL_NAME: marker_wheel()})
        builder.start()
        code = builder.wait(timeout)
        if code != 0:
            raise ImagecheckError(explain(
                f"a derived image (FROM {image.ref}, pip install one wheel as root) cannot be made",
                observed=f"exit code {code}:\n{builder.logs(20).strip()}",
                hint="users extend the image this way; it needs `python3 -m pip` and /bin/sh"))
        conf = {"User": original.get("User") or "0", "Entrypoint": original.get("Entrypoint") or [],
                "Cmd": original.get("Cmd") or [], "Labels": {**(original.get("Labels") or {}), **labels}}
        repository, _, version = made.partition(":")
        built = builder.commit(repository, version, conf)
    image.on_close(lambda: remove(client, built.id), begun)
    return made


def remove(client, image_id: str) -> None:
    with contextlib.suppress(docker.errors.APIError):
        client.images.remove(image_id, force=True)

