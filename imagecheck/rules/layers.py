"""An image's layers as its history tells them (the build step that made each, its size)
and how each grew against the baseline image's layers.

The engine's history lists every build step, newest first; the steps that only set
metadata (ENV, LABEL, CMD...) make no layer. from_history() pairs the steps that made a
layer with the image's layer digests (RootFS.Layers), oldest first. growth() pairs a
layer with the baseline's: the same digest (unchanged), else the same build step, else
it is new (and a baseline layer nobody took is removed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

# the instructions that only change the image's configuration (no layer)
METADATA_ONLY = ("ARG", "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
                 "SHELL", "STOPSIGNAL", "USER", "VOLUME")
STEP_LIMIT = 400  # characters of a build step kept in the report
EVIDENCE = "image.layers"  # the size check's evidence: the layers, oldest first (signoff/content.py reads it)


@dataclass(frozen=True)
class Layer:
    """One layer: its place (0: the bottom one), its size, the step that made it, its digest."""

    index: int
    size_bytes: int
    step: str
    created: str = ""
    diff_id: str | None = None

    def to_json(self) -> dict:
        return {"index": self.index, "size_bytes": self.size_bytes, "step": self.step, "created": self.created,
                "diff_id": self.diff_id}

    @classmethod
    def from_json(cls, data: dict) -> "Layer":
        return cls(int(data.get("index") or 0), int(data.get("size_bytes") or 0), str(data.get("step") or ""),
                   str(data.get("created") or ""), data.get("diff_id"))


@dataclass(frozen=True)
class LayerGrowth:
    """A layer against the baseline's: unchanged, grew, shrank, new, or removed."""

    status: str
    step: str
    size_bytes: int          # now (0: removed)
    baseline_bytes: int      # in the baseline (0: new)
    index: int | None = None  # its place now (None: removed)

    @property
    def growth(self) -> int:
        return self.size_bytes - self.baseline_bytes

    def to_json(self) -> dict:
        return {"status": self.status, "step": self.step, "size_bytes": self.size_bytes,
                "baseline_bytes": self.baseline_bytes, "growth_bytes": self.growth, "index": self.index}

    @classmethod
    def from_json(cls, data: dict) -> "LayerGrowth":
        return cls(str(data.get("status") or ""), str(data.get("step") or ""), int(data.get("size_bytes") or 0),
                   int(data.get("baseline_bytes") or 0), data.get("index"))


def step_text(created_by: str, comment: str = "") -> str:
    """A history entry's command as a Dockerfile reads: '/bin/sh -c #(nop)  ENV A=1' -> 'ENV A=1',
    '|1 WHEELS=... /bin/sh -c pip install' -> 'RUN pip install'; an import names itself."""
    text = " ".join((created_by or "").split())
    if not text:
        return comment.strip() or "(no build step recorded)"
    text = re.sub(r"\s*# buildkit$", "", text)
    text = re.sub(r"^\|\d+ (\S+=\S* )*", "", text)  # the build arguments the classic builder lists first
    nop = re.match(r"^/bin/sh -c #\(nop\)\s*(.*)$", text)
    if nop:
        return nop.group(1)
    shell = re.match(r"^(?:RUN )?/bin/(?:ba)?sh -c (.*)$", text)
    if shell:
        return f"RUN {shell.group(1)}"
    return text


def makes_a_layer(step: str) -> bool:
    """Whether a build step makes a layer (RUN, COPY, ADD, WORKDIR, an import), not only metadata."""
    return step.split(" ", 1)[0].upper() not in METADATA_ONLY


def from_history(history: Iterable[dict[str, Any]], diff_ids: list[str]) -> list[Layer]:
    """The layers, oldest first, from the engine's history (newest first: CreatedBy, Size,
    Created, Comment) and the image's layer digests. A step is paired with a digest when
    the steps that make layers are as many as the digests; else the digests are left out."""
    steps = []
    for entry in reversed(list(history)):
        step = step_text(str(entry.get("CreatedBy") or ""), str(entry.get("Comment") or ""))
        created = entry.get("Created")
        created_text = str(created) if created is not None else ""
        steps.append((step, int(entry.get("Size") or 0), created_text))
    layered = [s for s in steps if s[1] > 0 or makes_a_layer(s[0])]
    if len(layered) != len(diff_ids):
        layered = [s for s in steps if s[1] > 0]
    paired = len(layered) == len(diff_ids)
    return [Layer(index, size, _short(step), created, diff_ids[index] if paired else None)
            for index, (step, size, created) in enumerate(layered)]


def _short(step: str) -> str:
    return step if len(step) <= STEP_LIMIT else step[: STEP_LIMIT - 1] + "…"


def largest_first(layers: Iterable[Layer]) -> list[Layer]:
    return sorted(layers, key=lambda layer: (-layer.size_bytes, layer.index))


def growth(baseline: list[Layer], current: list[Layer]) -> list[LayerGrowth]:
    """Each layer against the baseline's (largest growth first), then the removed ones."""
    unmatched = list(baseline)
    out = []
    for layer in current:
        twin = next((b for b in unmatched if layer.diff_id and b.diff_id == layer.diff_id), None) or \
            next((b for b in unmatched if b.step == layer.step), None)
        if twin is None:
            out.append(LayerGrowth("new", layer.step, layer.size_bytes, 0, layer.index))
            continue
        unmatched.remove(twin)
        if layer.diff_id and twin.diff_id == layer.diff_id or layer.size_bytes == twin.size_bytes:
            status = "unchanged"
        else:
            status = "grew" if layer.size_bytes > twin.size_bytes else "shrank"
        out.append(LayerGrowth(status, layer.step, layer.size_bytes, twin.size_bytes, layer.index))
    out.sort(key=lambda g: (-abs(g.growth), g.index if g.index is not None else 0))
    out += [LayerGrowth("removed", b.step, 0, b.size_bytes, None) for b in unmatched]
    return out

