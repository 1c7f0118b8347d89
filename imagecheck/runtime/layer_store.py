"""An image's layers as the engine holds them, read two ways (no pytest, no images.yaml):

- layer_folders(attrs): the folders an overlay storage driver (overlay2, fuse-overlayfs)
  keeps each layer in, bottom first, from the image's GraphDriver data; the wasted-space
  check mounts them read-only into a container and reads only names and stat() (a few
  seconds for a 6 GB image);
- read_saved(client, image_id): the `docker save` stream, read as it arrives and never
  written to disk, each layer's tar by its headers alone (the file bytes are skipped),
  for any other storage driver: the engine must still produce every byte of every layer
  (about 85 s for the 6 GB reference on a 2-core machine).
Both give the same rows: [path, kind, size, mode, uid, gid, mtime], whiteouts, opaque.
"""
from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import docker
import docker.errors
import requests.exceptions

from ..errors import CommandTimeout, ImagecheckError, explain
from .engine import api_message

OVERLAY_DRIVERS = ("overlay2", "overlay", "fuse-overlayfs")
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20
SMALL = 4 << 20  # members read whole: JSON, and layers this small


class LayerReadError(ImagecheckError):
    """The image's layers could not be read."""


def layer_folders(attrs: dict[str, Any]) -> list[str] | None:
    """The folders of the image's layers, bottom first, when its storage driver keeps each
    layer in a folder of its own and they are as many as the image's layers; else None."""
    driver = attrs.get("GraphDriver") or {}
    data = driver.get("Data") or {}
    if driver.get("Name") not in OVERLAY_DRIVERS or not data.get("UpperDir"):
        return None
    lower = [folder for folder in (data.get("LowerDir") or "").split(":") if folder]
    folders = list(reversed(lower)) + [data["UpperDir"]]  # LowerDir lists the layer just below the top first
    layers = (attrs.get("RootFS") or {}).get("Layers") or []
    return folders if len(folders) == len(layers) else None


@dataclass
class SavedLayer:
    """One layer's tar as `docker save` sent it, by its headers."""

    rows: list[list] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)


@dataclass
class SavedImage:
    """What `docker save` holds of one image: its configuration (with the build history,
    empty_layer marking the steps that made no layer) and its layers, bottom first."""

    config: dict
    layers: list[SavedLayer]


class _ChunkReader(io.RawIOBase):
    """A file object over the engine's chunks, giving up after a deadline."""

    def __init__(self, chunks: Iterator[bytes], deadline: float, what: str) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._deadline = deadline
        self._what = what

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            if time.monotonic() > self._deadline:
                raise CommandTimeout(self._what)
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _layer_from_tar(stream: Any) -> SavedLayer:
    layer = SavedLayer()
    with tarfile.open(fileobj=stream, mode="r|*", bufsize=CHUNK) as tar:
        for member in tar:
            path = member.name[2:] if member.name.startswith("./") else member.name
            path = path.strip("/")
            folder, _, name = path.rpartition("/")
            if name == OPAQUE:
                layer.opaque.append(folder)
                continue
            if name.startswith(WHITEOUT):
                layer.whiteouts.append(f"{folder}/{name[len(WHITEOUT):]}" if folder else name[len(WHITEOUT):])
                continue
            kind = ("d" if member.isdir() else "h" if member.islnk() else "f" if member.isreg() else
                    "l" if member.issym() else "o")
            layer.rows.append([path, kind, member.size if kind == "f" else 0, member.mode & 0o7777, member.uid,
                               member.gid, int(member.mtime)])
    return layer


def read_saved(client: docker.DockerClient, image_id: str, *, timeout: float, what: str) -> SavedImage:
    """The image's configuration and layers, from `docker save` streamed (never on disk);
    CommandTimeout past timeout seconds, LayerReadError when the engine cannot save it."""
    deadline = time.monotonic() + timeout
    too_long = explain(f"reading {what} from `docker save` ran past its {timeout:.0f} s limit",
                       hint="raise timeouts.probe in images.yaml, or run on an engine with an overlay storage "
                            "driver (its layer folders are read in seconds)")
    try:
        chunks = client.api.get_image(image_id, chunk_size=CHUNK)
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise LayerReadError(explain(f"the engine could not save {what}", observed=api_message(error),
                                     hint="check that the image is still on the engine")) from None
    blobs: dict[str, SavedLayer] = {}
    texts: dict[str, bytes] = {}
    reader = io.BufferedReader(_ChunkReader(iter(chunks), deadline, too_long), CHUNK)
    try:
        with tarfile.open(fileobj=reader, mode="r|", bufsize=CHUNK) as outer:
            for member in outer:
                if member.isfile():
                    _take(member.name, member.size, outer.extractfile(member), blobs, texts)
    except (tarfile.TarError, requests.exceptions.RequestException, OSError) as error:
        raise LayerReadError(explain(f"the `docker save` stream of {what} could not be read",
                                     observed=f"{type(error).__name__}: {error}",
                                     hint="check the engine's log; the image may have been removed meanwhile")) from None
    return _assemble(blobs, texts, what)


def _take(name: str, size: int, handle: Any, blobs: dict[str, SavedLayer], texts: dict[str, bytes]) -> None:
    """Keep a member of the saved image: a small one whole (JSON, or a small layer read from
    memory), a big one as a layer read by its headers as it streams by."""
    if size > SMALL:
        blobs[name] = _layer_from_tar(handle)
        return
    data = handle.read()
    if data[:1] in (b"{", b"["):
        texts[name] = data
        return
    try:
        blobs[name] = _layer_from_tar(io.BytesIO(data))
    except tarfile.ReadError:
        texts[name] = data


def _assemble(blobs: dict[str, SavedLayer], texts: dict[str, bytes], what: str) -> SavedImage:
    try:
        manifest = json.loads(texts.get("manifest.json") or b"[]")[0]
        config_name = manifest["Config"]
        config = json.loads(texts.get(config_name) or b"{}")
        layers = [blobs[name] for name in manifest["Layers"]]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise LayerReadError(explain(f"the `docker save` stream of {what} holds no manifest this suite can read",
                                     observed=f"{type(error).__name__}: {error}",
                                     hint="the engine's save format is unknown to this version of imagecheck")) \
            from None
    return SavedImage(config, layers)
