"""An image's size judged against images.yaml's `size`: the most it may weigh (`max_gb`), and
how much more than the baseline image it may weigh (`max_growth`, a share). Each problem
names the layers that weigh (or grew) the most, with the build step that made them."""
from __future__ import annotations

from .layers import Layer, growth, largest_first
from .sizes import GB, human, number, share, signed

SHOWN = 4  # layers named in a message


def _heaviest(layers: list[Layer]) -> str:
    if not layers:
        return "the engine gave no layers"
    return "; ".join(f"layer {layer.index + 1} `{_short(layer.step)}` {human(layer.size_bytes)}"
                     for layer in largest_first(layers)[:SHOWN])


def _short(step: str, limit: int = 80) -> str:
    return step if len(step) <= limit else step[: limit - 1] + "…"


def over_budget(ref: str, size: int, max_gb: float | None, layers: list[Layer]) -> str | None:
    """The message when the image weighs more than size.max_gb (None: within it, or no budget)."""
    if max_gb is None:
        return None
    limit = max_gb * GB
    if size <= limit:
        return None
    return (f"{ref} weighs {human(size)}, {human(size - limit)} more than its budget\n"
            f"  expected: at most {human(limit)} (images.yaml size.max_gb: {number(max_gb)})\n"
            f"  observed: {human(size)} ({size} bytes, as `docker images` counts them); the largest layers: "
            f"{_heaviest(layers)}\n"
            f"  where: the image {ref} on the engine\n"
            "  hint: see the wasted-space checks (bytes that later layers hide, caches left behind), move build "
            "tools into a builder stage, or raise size.max_gb if the image must weigh this much")


def over_growth(ref: str, size: int, layers: list[Layer], baseline_ref: str, baseline_size: int,
                baseline_layers: list[Layer] | None, max_growth: float) -> str | None:
    """The message when the image grew more than size.max_growth against the baseline image."""
    allowed = baseline_size * max_growth
    grown = size - baseline_size
    if grown <= allowed:
        return None
    if baseline_layers:
        changes = [g for g in growth(baseline_layers, layers) if g.growth > 0][:SHOWN]
        where = "; ".join(f"{g.status} layer `{_short(g.step)}` {signed(g.growth)}" for g in changes)
    else:
        where = "the baseline report lists no layers (its size check did not run); the largest layers now: " + \
            _heaviest(layers)
    return (f"{ref} grew {signed(grown)} ({share(grown, baseline_size)}) against the baseline {baseline_ref}, more "
            f"than images.yaml allows\n"
            f"  expected: at most {max_growth:.0%} more than {human(baseline_size)}, {human(baseline_size + allowed)} "
            f"(images.yaml size.max_growth: {max_growth:g})\n"
            f"  observed: {human(baseline_size)} -> {human(size)}; {where}\n"
            f"  where: {ref} against {baseline_ref} of the baseline report\n"
            "  hint: the layers that grew are listed in the report (Layers); remove what they added for nothing "
            "(caches, build tools), or raise size.max_growth for a release that must grow")
