"""The matrix of a merged sign-off: per image, one row per check, one column per shard's
host, each cell what that shard made of the check, so a reader sees where each check ran."""
from __future__ import annotations

from dataclasses import dataclass

from ..pytest_plugin.outcomes import COULD_NOT_RUN, FAILED, NOT_APPLICABLE_STATUS, PASSED
from .model import ImageReport, ShardInfo, ShardResult
from .requirement import describe

WORDS = {PASSED: "passed", FAILED: "failed", NOT_APPLICABLE_STATUS: "does not apply", COULD_NOT_RUN: "could not run"}
NOT_SELECTED = "not selected"


@dataclass(frozen=True)
class Cell:
    """One shard's result for one check: status (None: the shard did not select it) and words."""

    status: str | None
    text: str


@dataclass(frozen=True)
class Row:
    check: str
    status: str
    required: bool
    cells: tuple[Cell, ...]


def cell(result: ShardResult | None) -> Cell:
    if result is None:
        return Cell(None, NOT_SELECTED)
    words = WORDS.get(result.status, result.status)
    if result.status == COULD_NOT_RUN:
        return Cell(result.status, f"{words}: {describe(result.requirement, result.message)}")
    return Cell(result.status, words)


def rows(image: ImageReport, shards: list[ShardInfo]) -> list[Row]:
    """The image's checks by host, in the order the image lists them."""
    out = []
    for check in image.checks:
        by_shard = {result.shard: result for result in check.shards or []}
        out.append(Row(check.check, check.status, check.required,
                       tuple(cell(by_shard.get(shard.name)) for shard in shards)))
    return out
