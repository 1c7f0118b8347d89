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
- a performance figure (imagecheck.perf keys) that got worse by more than the image's
  images.yaml `regression.max_perf_drop` (a fraction: 0.2 = 20 %); this one blocks the
  sign-off, the others inform (a failing check blocks on its own).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ImagecheckError
from ..rules import perf
from ..rules.versions import components

SCHEMA = "imagecheck.signoff/1"
VERSION_KEYS = ("python", "torch", "torchvision", "torchaudio", "triton", "numpy", "cuda", "cudnn", "nccl")


class BaselineError(ImagecheckError):
    """The baseline file cannot be used."""


def load(path: str | Path) -> dict:
    """Read a report.json written by --signoff-report; BaselineError says why it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise BaselineError(f"--baseline {path}: cannot read it ({error.strerror or error}); "
                            "hint: pass the report.json of an earlier --signoff-report run") from None
    except json.JSONDecodeError as error:
        raise BaselineError(f"--baseline {path}: not JSON ({error.msg}, line {error.lineno}); "
                            "hint: pass report.json, not report.html or report.md") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("images"), list):
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BaselineError(f"--baseline {path}: expected a sign-off report (schema {SCHEMA}), found {found!r}; "
                            "hint: pass the report.json of an earlier --signoff-report run")
    return data


def match(baseline: dict, ref: str) -> dict | None:
    """The baseline's image to compare `ref` with (same reference, else the only one)."""
    images = baseline.get("images") or []
    for candidate in images:
        if candidate.get("ref") == ref:
            return candidate
    return images[0] if len(images) == 1 else None


def _direction(old: str, new: str) -> str:
    a, b = components(str(old)), components(str(new))
    if a and b and a != b:
        return "upgrade" if b > a else "downgrade"
    return "changed"


def compare(old: dict, new: dict, max_perf_drop: float) -> list[dict]:
    """The regressions of image report `new` against baseline image report `old`."""
    found: list[dict] = []
    old_versions, new_versions = old.get("versions") or {}, new.get("versions") or {}
    for key in VERSION_KEYS:
        before, after = old_versions.get(key), new_versions.get(key)
        if before is not None and str(before) != str(after):
            change = _direction(before, after) if after is not None else "no longer seen"
            found.append({"kind": "version", "name": key, "baseline": before, "current": after, "change": change,
                          "blocks": False, "summary": f"{key} {before} -> {after or 'not seen'} ({change})"})
    old_checks = {c["check"]: c for c in old.get("checks") or []}
    new_checks = {c["check"]: c for c in new.get("checks") or []}
    for name, check in new_checks.items():
        before = old_checks.get(name)
        if before is None:
            continue
        if before["outcome"] == "passed" and check["outcome"] in ("failed", "error"):
            found.append({"kind": "newly_failing", "name": name, "baseline": before["outcome"],
                          "current": check["outcome"], "blocks": False,
                          "summary": f"{name} passed in the baseline, now {check['outcome']}"})
        elif before["outcome"] != "skipped" and check["outcome"] == "skipped":
            found.append({"kind": "newly_skipped", "name": name, "baseline": before["outcome"],
                          "current": "skipped", "blocks": False,
                          "summary": f"{name} {before['outcome']} in the baseline, now skipped: "
                                     f"{(check.get('message') or '').strip()[:160]}"})
    gone = [name for name in old_checks if name not in new_checks]
    if gone:
        shown = ", ".join(gone[:6]) + (f" and {len(gone) - 6} more" if len(gone) > 6 else "")
        found.append({"kind": "not_run", "name": shown, "baseline": len(gone), "current": 0, "blocks": False,
                      "summary": f"{len(gone)} check(s) of the baseline did not run: {shown}"})
    old_perf, new_perf = old.get("perf") or {}, new.get("perf") or {}
    for key, figure in new_perf.items():
        parsed = perf.parse(key)
        if parsed is None or key not in old_perf:
            continue
        before, after = perf.as_number(old_perf[key].get("value")), perf.as_number(figure.get("value"))
        if before is None or after is None:
            continue
        worse = perf.drop(before, after, parsed.direction)
        if worse > max_perf_drop:
            found.append({"kind": "perf", "name": key, "baseline": before, "current": after,
                          "drop": round(worse, 4), "threshold": max_perf_drop, "blocks": True,
                          "summary": f"{key} {before:g} -> {after:g} {parsed.unit_label} "
                                     f"({worse:.0%} worse, images.yaml allows {max_perf_drop:.0%})"})
    return found
