"""The file lists of the image's layers, for the wasted-space checks (rules/waste.py), read
once per image the fastest way the engine allows:

1. its layer folders (an overlay storage driver: runtime/layer_store.layer_folders),
   mounted read-only into a container of the image, where the layer_files probe reads
   names and stat() only, as root (every folder readable): seconds for a 6 GB image;
2. else the `docker save` stream, read by its tar headers as it arrives, never written
   to disk (runtime/layer_store.read_saved): the engine still produces every byte.
The build step of each layer comes from the engine's history (image/layers.py), or from
the saved configuration.
"""
from __future__ import annotations

import base64
import json
import time
import zlib
from dataclasses import dataclass

from ..errors import ContainerStartError, ProbeError
from ..rules.layers import makes_a_layer, step_text
from ..rules.waste import LayerFiles
from ..runtime import layer_store
from . import layers as image_layers
from . import probes
from .under_test import ImageUnderTest

IN_CONTAINER = "/.imagecheck/layers"
FOLDERS = "the engine's layer folders, read in a container (names and stat only)"
SAVED = "the `docker save` stream, read by its tar headers (never written to disk)"


@dataclass
class LayerListing:
    """Every layer's files, how they were read (route), in how many seconds, and what could
    not be read (a folder root could not list)."""

    layers: list[LayerFiles]
    route: str
    seconds: float
    unreadable: list[str]
    fallback: str = ""  # why the fast route was not taken


def of(image: ImageUnderTest) -> LayerListing:
    """The layers' file lists, read once per image."""
    return image.shared("layer-files", lambda: _read(image))


def _read(image: ImageUnderTest) -> LayerListing:
    started = time.monotonic()
    attrs = image.docker_image.attrs
    folders = layer_store.layer_folders(attrs)
    fallback = "the storage driver keeps no layer folders" if folders is None else ""
    if folders is not None:
        try:
            layers, unreadable = _from_folders(image, folders)
            return LayerListing(layers, FOLDERS, round(time.monotonic() - started, 1), unreadable)
        except (ProbeError, ContainerStartError) as error:
            fallback = f"the layer folders could not be read ({str(error).splitlines()[0]})"
    layers = _from_save(image)
    return LayerListing(layers, SAVED, round(time.monotonic() - started, 1), [], fallback)


def _from_folders(image: ImageUnderTest, folders: list[str]) -> tuple[list[LayerFiles], list[str]]:
    steps = [layer.step for layer in image_layers.of(image)]
    volumes = {folder: {"bind": f"{IN_CONTAINER}/{index}", "mode": "ro"} for index, folder in enumerate(folders)}
    args = json.dumps({"folders": [f"{IN_CONTAINER}/{index}" for index in range(len(folders))]})
    with image.probe_container("layers", volumes=volumes) as container:
        result = probes.run(container, "layer_files", [args], timeout=image.spec.timeouts.probe, user="0")
    data = result.data
    try:
        raw = json.loads(zlib.decompress(base64.b64decode(data["layers"])))
    except (KeyError, ValueError, zlib.error) as error:
        raise ProbeError(f"probe layer_files sent layer lists this suite cannot read ({error})") from None
    layers = [LayerFiles.from_rows(index, steps[index] if index < len(steps) else "", layer["rows"],
                                   layer["whiteouts"], layer["opaque"]) for index, layer in enumerate(raw)]
    unreadable = list(data.get("unreadable") or [])
    return layers, unreadable


def _from_save(image: ImageUnderTest) -> list[LayerFiles]:
    saved = layer_store.read_saved(image.context.client, image.docker_image.id, timeout=image.spec.timeouts.probe,
                                   what=image.ref)
    history = saved.config.get("history") or []
    steps = [step_text(str(h.get("created_by") or ""), str(h.get("comment") or "")) for h in history
             if not h.get("empty_layer")]
    if len(steps) != len(saved.layers):  # a history that does not say which steps made layers
        steps = [s for s in (step_text(str(h.get("created_by") or ""), str(h.get("comment") or ""))
                             for h in history) if makes_a_layer(s)]
    return [LayerFiles.from_rows(index, steps[index] if index < len(steps) else "", layer.rows, layer.whiteouts,
                                 layer.opaque) for index, layer in enumerate(saved.layers)]
