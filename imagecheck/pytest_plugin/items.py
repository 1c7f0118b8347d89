"""Which image a collected check belongs to: the image reference its session-scoped image
parameter carries (`_image_under_test`, parametrized indirectly by the plugin)."""
from __future__ import annotations

from typing import Any

IMAGE_PARAM = "_image_under_test"


def image_ref(item: Any) -> str | None:
    """The image reference a test item runs against, or None for a check of no image."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(IMAGE_PARAM) if callspec is not None else None
