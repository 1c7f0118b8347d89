"""The image's layers as the engine's history tells them: the build step that made each
and its size (rules/layers.py pairs them with the layer digests), once per image."""
from __future__ import annotations

import docker.errors
import requests.exceptions

from ..errors import ImagecheckError, explain
from ..rules.layers import Layer, from_history
from .under_test import ImageUnderTest


class HistoryUnavailable(ImagecheckError):
    """The engine would not give the image's history."""


def of(image: ImageUnderTest) -> list[Layer]:
    """The image's layers, oldest first (one history call per image)."""
    return image.shared("layers", lambda: _read(image))


def _read(image: ImageUnderTest) -> list[Layer]:
    docker_image = image.docker_image
    try:
        history = docker_image.history()
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise HistoryUnavailable(explain(f"the engine gave no build history for {image.ref}",
                                         observed=f"{type(error).__name__}: {str(error)[:300]}",
                                         hint="check that the image is still on the engine")) from None
    return from_history(history, list((docker_image.attrs.get("RootFS") or {}).get("Layers") or []))
