"""An image's report put together from what a run (or a merge) gathered, then judged:
images.yaml's promises, the image's description (taken by the image fixture, never by
the report), its check records and figures, the regressions against the baseline, and
the verdict. Plain data in, model objects out."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from ..config import ImageSpec
from ..image.description import expectations
from . import baseline as baseline_module
from . import content, verdict
from .model import LISTING_ORDER, CheckRecord, ImageInfo, ImageReport, Policy, SignOff
from .records import perf_figures
from .shard import promises_digest


def image_report(ref: str, spec: ImageSpec, listed: bool, described: dict[str, Any] | None,
                 checks: list[CheckRecord]) -> tuple[ImageReport, list[str]]:
    """The image's report before its verdict, and what assembling it noticed (notes)."""
    promised = expectations(spec)
    described = dict(described or {})
    described.pop("ref", None)
    info = described.pop("image", None)
    judged = described.pop("judged", None)  # the description's (image/description.py), else the model's own
    own = ("facts_error", "versions", "inside", "session", "error")
    mine = sorted(checks, key=lambda c: LISTING_ORDER.get(c.outcome, 5))
    figures, malformed = perf_figures(mine)
    image = ImageReport(
        ref=ref, listed=listed, description=promised["description"], promised=promised["promised"],
        policy=Policy.from_json(promised["policy"]), image=ImageInfo.from_json(info) if info else None,
        **{k: v for k, v in described.items() if k in own},
        extra={k: v for k, v in described.items() if k not in own},
        checks=mine, perf=figures, judged=judged, promises_digest=promises_digest(spec))
    notes = []
    if malformed:
        notes.append("evidence keys under perf. that do not follow rules/perf.py's naming "
                     "(perf.<subject>.<measure>_<unit>, a number): " + ", ".join(malformed))
    if not described and info is None and mine:
        notes.append("no metadata reached the report for this image (its worker died?)")
    return image, notes


def judge_with_baseline(image: ImageReport, *, baseline: SignOff | None, mode: str,
                        release_option: str = "--require-gpu", incomplete: Iterable[str] = (),
                        notes: Iterable[str] = ()) -> ImageReport:
    """The image compared with its baseline image (when there is a baseline), then judged."""
    notes = list(notes)
    if baseline is not None:
        base = baseline_module.match(baseline, image.ref)
        if base is None:
            notes.append("the baseline report has no image to compare this one with")
        else:
            image = content.compared(base, image)  # the package diff and layer growth, read by compare()
            image = dataclasses.replace(image, baseline_ref=base.ref,
                                        regressions=baseline_module.compare(base, image, image.policy.max_perf_drop))
    return verdict.judge(image, mode=mode, release_option=release_option, incomplete=incomplete, notes=notes)
