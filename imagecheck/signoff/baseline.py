"""Regressions against an earlier sign-off report (`--baseline report.json`).

Which baseline image an image is compared with: the one with the same reference; else,
when the baseline report holds exactly one image, that one (comparing a candidate tag
with the released one: `--image repo:candidate --baseline released/report.json`).

What counts as a regression:
- a version seen inside that changed (python, torch, torchvision, torchaudio, triton,
  numpy, CUDA, cuDNN, NCCL), marked upgrade, downgrade or changed;
- a check that passed in the baseline and now fails or errors (newly failing);
- a check that ran in the baseline and is now skipped (newly skipped);
- checks of the baseline that did not run now;
- a Debian or Python package downgraded (the package diff of the two SBOMs: content.py),
  the GPU stack first, named as such; the others (added, removed, upgraded) are listed
  in the report's package diff, not here;
- a performance figure (rules/perf.py keys) that got worse by more than the image's
  images.yaml `regression.max_perf_drop` (a fraction: 0.2 = 20 %); this one blocks the
  sign-off, the others inform (a failing check blocks on its own).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ImagecheckError, explain
from ..rules import perf
from ..rules.versions import components
from . import content
from .model import FAILING, SCHEMA, ImageReport, Regression, SignOff

VERSION_KEYS = ("python", "torch", "torchvision", "torchaudio", "triton", "numpy", "cuda", "cudnn", "nccl")


class BaselineError(ImagecheckError):
    """The baseline file cannot be used."""


def load(path: str | Path) -> SignOff:
    """Read a report.json written by --signoff-report, --shard or a merge; BaselineError says
    why it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise BaselineError(f"--baseline {path}: cannot read it ({error.strerror or error}); "
                            "hint: pass the report.json of an earlier --signoff-report run") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        why = f"{error.msg}, line {error.lineno}" if isinstance(error, json.JSONDecodeError) else "not text"
        raise BaselineError(f"--baseline {path}: not JSON ({why}); "
                            "hint: pass report.json, not report.html or report.md") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("images"), list):
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BaselineError(f"--baseline {path}: expected a sign-off report (schema {SCHEMA}), found {found!r}; "
                            "hint: pass the report.json of an earlier --signoff-report run")
    try:
        return SignOff.from_json(data)
    except (TypeError, ValueError, AttributeError) as error:
        raise BaselineError(explain(f"--baseline {path}: a sign-off report this version cannot read",
                                    expected=f"report.json of schema {SCHEMA} as imagecheck writes it",
                                    observed=f"{type(error).__name__}: {error}", where=str(path),
                                    hint="pass the report.json of an earlier --signoff-report run, unedited")) from None


def match(baseline: SignOff, ref: str) -> ImageReport | None:
    """The baseline's image to compare `ref` with (same reference, else the only one)."""
    images = baseline.images
    for candidate in images:
        if candidate.ref == ref:
            return candidate
    return images[0] if len(images) == 1 else None


def _direction(old: str, new: str) -> str:
    a, b = components(str(old)), components(str(new))
    if a and b and a != b:
        return "upgrade" if b > a else "downgrade"
    return "changed"


def compare(old: ImageReport, new: ImageReport, max_perf_drop: float) -> list[Regression]:
    """The regressions of image report `new` against baseline image report `old` (their
    effect on the verdict is judged with it: verdict.judge)."""
    found: list[Regression] = []
    old_versions, new_versions = old.versions or {}, new.versions or {}
    for key in VERSION_KEYS:
        before, after = old_versions.get(key), new_versions.get(key)
        if before is not None and str(before) != str(after):
            change = _direction(before, after) if after is not None else "no longer seen"
            found.append(Regression("version", key, before, after, change=change,
                                    summary=f"{key} {before} -> {after or 'not seen'} ({change})"))
    old_checks = {c.check: c for c in old.checks}
    new_checks = {c.check: c for c in new.checks}
    for name, check in new_checks.items():
        before = old_checks.get(name)
        if before is None:
            continue
        if before.outcome == "passed" and check.outcome in FAILING:
            found.append(Regression("newly_failing", name, before.outcome, check.outcome,
                                    summary=f"{name} passed in the baseline, now {check.outcome}"))
        elif before.outcome != "skipped" and check.outcome == "skipped":
            found.append(Regression("newly_skipped", name, before.outcome, "skipped",
                                    summary=f"{name} {before.outcome} in the baseline, now skipped: "
                                            f"{(check.message or '').strip()[:160]}"))
    gone = [name for name in old_checks if name not in new_checks]
    if gone:
        shown = ", ".join(gone[:6]) + (f" and {len(gone) - 6} more" if len(gone) > 6 else "")
        found.append(Regression("not_run", shown, len(gone), 0,
                                summary=f"{len(gone)} check(s) of the baseline did not run: {shown}"))
    for key, figure in new.perf.items():
        parsed = perf.parse(key)
        if parsed is None or key not in old.perf:
            continue
        before, after = perf.as_number(old.perf[key].value), perf.as_number(figure.value)
        if before is None or after is None:
            continue
        worse = perf.drop(before, after, parsed.direction)
        if worse > max_perf_drop:
            found.append(Regression("perf", key, before, after, blocks=True, drop=round(worse, 4),
                                    threshold=max_perf_drop,
                                    summary=f"{key} {before:g} -> {after:g} {parsed.unit_label} "
                                            f"({worse:.0%} worse, images.yaml allows {max_perf_drop:.0%})"))
    found += content.downgrades(new, {r.name for r in found if r.kind == "version"})
    return found
