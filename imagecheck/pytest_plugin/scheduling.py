"""xdist scheduling: with `-n N`, every image's checks run on ONE worker, N images at once.

An image's checks share one container and one facts probe, both per process; spread
over workers, each worker would start its own. xdist's `--dist loadgroup` with an
`xdist_group` mark per image is the documented way, but on pytest 9 xdist's worker can
no longer rename node ids with the group suffix, so loadgroup falls back to plain load.
ImageScheduling is xdist's LoadScopeScheduling with the image as the scope: a test's
scope is the image in its parameter id (the longest image reference of the run found
there at a parameter boundary), else its module, as loadscope does.
"""
from __future__ import annotations

from typing import Any

from xdist.scheduler.loadscope import LoadScopeScheduling


def image_of(nodeid: str, refs: list[str]) -> str | None:
    """The image reference in a node id's parameters: '...[pytorch-cuda:v2.6-torch]' ->
    'pytorch-cuda:v2.6' (the longest ref that is a whole '-'-separated part of the id)."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    ident = nodeid[nodeid.index("[") + 1:-1]
    found = None
    for ref in refs:
        start = ident.find(ref)
        while start != -1:
            end = start + len(ref)
            if (start == 0 or ident[start - 1] == "-") and (end == len(ident) or ident[end] == "-"):
                if found is None or len(ref) > len(found):
                    found = ref
                break
            start = ident.find(ref, start + 1)
    return found


class ImageScheduling(LoadScopeScheduling):
    """LoadScopeScheduling whose scope is the image under test."""

    def __init__(self, config: Any, log: Any, refs: list[str]) -> None:
        super().__init__(config, log)
        self.refs = list(refs)

    def _split_scope(self, nodeid: str) -> str:
        ref = image_of(nodeid, self.refs)
        return f"image:{ref}" if ref is not None else super()._split_scope(nodeid)
