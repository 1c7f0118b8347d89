"""The verdict on one image: SIGNED OFF or BLOCKED, with the reasons first, and the effect
of each regression against the baseline: judged together, in judge(), once per image.

Which checks count (images.yaml, per image, `checks:`):
- every check is REQUIRED unless images.yaml lists it under `checks.advisory` (decided
  when its record is built: records.py);
- a check named under `checks.required` must also have RUN: if it did not (deselected,
  not collected), the image is blocked, so a sign-off cannot silently lose a check;
- a name is a test function (`test_cuda_is_available`, every parameter of it) or one
  parameter of it without the image (`test_version_is_as_promised[triton]`).

What blocks:
- a required check that failed or errored;
- a required check that could not run here (no GPU granted, no scanner), in a release
  run (--require-gpu; a merge with --release: no shard could run it); a check that does
  not apply to the image (outcomes.not_applicable) never blocks; a shard never blocks on
  a check its host could not run (the merge decides);
- a required check named in `checks.required` that did not run;
- no check at all ran for the image, or the run was cut short (interrupted, crashed
  worker, collection errors);
- a performance figure that dropped against the baseline by more than
  images.yaml `regression.max_perf_drop`.
Advisory failures are listed as notes, and skips that do not block under their own key
(skips); neither blocks. A package of the GPU stack downgraded against the baseline
(content.py) informs, as a version change does, but leads the notes: promise the version
in images.yaml to make it block.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Iterable

from ..pytest_plugin.outcomes import COULD_NOT_RUN, NOT_APPLICABLE_STATUS
from .content import GPU_STACK_DOWNGRADE
from .model import BLOCKED, FAILING, SIGNED_OFF, CheckRecord, ImageReport, Regression

__all__ = ["BLOCKED", "SIGNED_OFF", "DEVELOPMENT", "RELEASE", "SHARD", "judge", "first_line"]

DEVELOPMENT, RELEASE, SHARD = "development", "release", "shard"
# Failures are listed root causes first: what is installed, then whether it imports and
# links, then CUDA, then the rest in the order they ran.
LEAD_MODULES = ("test_versions", "test_release_pairing", "test_imports", "test_pip_check",
                "test_shared_libraries", "test_cuda")


def _lead(check: CheckRecord) -> int:
    module = (check.module or check.nodeid or "").rsplit("/", 1)[-1].split(".py")[0].split(".")[-1]
    return LEAD_MODULES.index(module) if module in LEAD_MODULES else len(LEAD_MODULES)


def first_line(text: str | None, limit: int = 240) -> str:
    """The message's first line; when it ends with ':' (a list follows), also the first item."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:
        line += f" {lines[1]}" + (f" (+{len(lines) - 2} more)" if len(lines) > 2 else "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _grouped(checks: list[CheckRecord], what: str) -> list[str]:
    """One line per distinct message: 'test_a, test_b failed: message'."""
    groups: "OrderedDict[str, list[str]]" = OrderedDict()
    for check in checks:
        groups.setdefault(first_line(check.message), []).append(check.check)
    lines = []
    for message, names in groups.items():
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        verb = what if len(names) == 1 else what.replace("check ", "checks ", 1).replace(" was ", " were ")
        lines.append(f"{verb.format(names=shown)}" + (f": {message}" if message else ""))
    return lines


def _effect(regression: Regression, required: set[str]) -> str:
    if regression.blocks:
        return "blocks"
    if regression.kind == "newly_failing" and regression.name in required:
        return "blocks (a required check fails)"
    return "informs"


def judge(image: ImageReport, *, mode: str = DEVELOPMENT, release_option: str = "--require-gpu",
          incomplete: Iterable[str] = (), notes: Iterable[str] = ()) -> ImageReport:
    """The image with its verdict, reasons, notes, skips and each regression's effect.

    mode: DEVELOPMENT (a required check that could not run is a note), RELEASE (it blocks;
    release_option names what made the run a release) or SHARD (it is left to the merge).
    incomplete: why the run was cut short (each one blocks); notes: what assembling the
    report noticed (malformed figures, no metadata), appended to the verdict's own notes.
    """
    checks, policy = image.checks, image.policy
    reasons: list[str] = list(incomplete)
    found: list[str] = []
    skips: list[str] = []
    mandatory = [c for c in checks if c.required]
    failed = sorted((c for c in mandatory if c.outcome in FAILING), key=_lead)
    inapplicable = [c for c in mandatory if c.status == NOT_APPLICABLE_STATUS]
    could_not_run = [c for c in mandatory if c.status == COULD_NOT_RUN]
    if not checks:
        reasons.append("no check ran for this image")
    reasons += _grouped(failed, "required check {names} failed")
    if could_not_run and mode == RELEASE:
        reasons += _grouped(could_not_run, f"required check {{names}} was skipped in a release run ({release_option})")
    elif could_not_run and mode == SHARD:
        found.append(f"shard: {len(could_not_run)} required check(s) could not run on this host; the merge of "
                     "the shards decides (a release merge blocks on a check no shard could run)")
        skips = _grouped(could_not_run, "could not run here: {names}")
    elif could_not_run:
        found.append(f"development run: {len(could_not_run)} required check(s) skipped; a release sign-off "
                     f"runs with {release_option}, where a skipped required check blocks")
        skips = _grouped(could_not_run, "skipped: {names}")
    if inapplicable:
        found.append(f"{len(inapplicable)} check(s) do not apply to this image: "
                     + ", ".join(c.check for c in inapplicable))
    ran = {c.check for c in checks} | {c.function for c in checks}
    missing = [name for name in policy.required if name not in ran]
    if missing:
        reasons.append("required by images.yaml but did not run: " + ", ".join(missing))
    for regression in image.regressions:
        if regression.blocks:
            reasons.append(f"regression: {regression.summary}")
    found += _grouped([c for c in checks if not c.required and c.outcome in FAILING], "advisory check {names} failed")
    unknown = [name for name in policy.advisory if name not in ran]
    if unknown:
        found.append("images.yaml lists as advisory checks that did not run: " + ", ".join(unknown))
    required = {c.check for c in mandatory}
    regressions = [dataclasses.replace(r, effect=_effect(r, required)) for r in image.regressions]
    found = [f"GPU stack downgraded against the baseline: {r.summary}; it informs (a version change does): "
             "promise the version in images.yaml to make it block"
             for r in image.regressions if (r.change or "").startswith(GPU_STACK_DOWNGRADE)] + found
    return dataclasses.replace(image, verdict=BLOCKED if reasons else SIGNED_OFF, reasons=reasons,
                               notes=found + list(notes), skips=skips, regressions=regressions)
